"""Bootstrap values kept between runs: read back bit for bit, drawn again when an input changes,
never read when damaged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_metrics import Scenario, judged

import harness.evaluation.metric_table as metric_table
from harness.evaluation.bootstrap_store import BootstrapStore
from harness.evaluation.cache_store import FolderStore
from harness.evaluation.metrics import suite_metrics

RESAMPLES = 200


def scenario(shift: int = 0) -> Scenario:
    """Six cases of two classes, predictions jittered by a pixel or two (``shift`` moves one more)."""
    found = Scenario()
    for index in range(6):
        x = 4 + 6 * index
        expected = [("cat", x, 4, x + 12, 20), ("dog", 30, 24, 50 - index, 44)]
        predicted = [
            ("cat", (x + 1, 4, x + 12, 21), 0.9),
            ("dog", (31 + (shift if index == 2 else 0), 25, 50 - index, 44), 0.5),
            ("bird", (2, 30, 9, 40), 0.3),
        ]
        found.expected.append(expected)
        found.predicted.append(predicted)
        found.tags.append(("night",) if index % 2 else ())
    return found


def intervals(metrics) -> dict:
    return metrics.bootstrap(RESAMPLES, full=True).intervals(0.95)


def test_values_round_trip_with_their_dtypes(tmp_path):
    store = BootstrapStore(FolderStore(tmp_path))
    values = {"box.map50": np.linspace(0, 1, 7, dtype=np.float32), "per_tag.a.box.f1": np.array([np.nan, 0.5])}
    store.put("k", values)
    read = store.get("k")
    assert sorted(read) == sorted(values)
    for name, array in values.items():
        assert read[name].dtype == array.dtype
        assert np.array_equal(read[name], array, equal_nan=True)
    assert store.get("other") is None


def test_a_damaged_entry_is_a_miss(tmp_path):
    store = BootstrapStore(FolderStore(tmp_path))
    store.put("k", {"box.map50": np.ones(4)})
    (entry,) = tmp_path.glob("bootstrap-*")
    data = bytearray(entry.read_bytes())
    data[-3] ^= 0x01
    entry.write_bytes(bytes(data))
    assert store.get("k") is None


def test_a_second_run_reads_the_values_and_draws_nothing(tmp_path, monkeypatch):
    store = BootstrapStore(FolderStore(tmp_path))
    first = intervals(suite_metrics(judged(scenario(), with_masks=True), with_masks=True, bootstrap_store=store))
    assert len(list(tmp_path.glob("bootstrap-*"))) == 2  # the headline metrics, then the rest (areas, tags)

    def no_drawing(*args, **kwargs):
        raise AssertionError("drew resamples that the store holds")

    monkeypatch.setattr(metric_table, "headline_bootstrap", no_drawing)
    monkeypatch.setattr(metric_table, "complete", no_drawing)
    again = intervals(suite_metrics(judged(scenario(), with_masks=True), with_masks=True, bootstrap_store=store))
    assert again == first
    assert "per_tag.night.box.map50" in again and "mask.map50_95" in again


@pytest.mark.parametrize("change", ["prediction", "threshold", "tags", "resamples"])
def test_any_changed_input_draws_again(tmp_path, change):
    store = BootstrapStore(FolderStore(tmp_path))
    suite_metrics(judged(scenario(), with_masks=False), with_masks=False, bootstrap_store=store).bootstrap(RESAMPLES)
    verdicts = judged(scenario(shift=3 if change == "prediction" else 0), with_masks=False)
    if change == "threshold":  # the same COCO inputs, other counts: a 0.5 box_iou raised to 0.95
        verdicts = [_raised(v) for v in verdicts]
    if change == "tags":  # the same objects and predictions, another case tagged
        verdicts = [dataclasses.replace(v, case=dataclasses.replace(v.case, tags=("night",))) for v in verdicts]
    metrics = suite_metrics(verdicts, with_masks=False, bootstrap_store=store)
    metrics.bootstrap(RESAMPLES + 1 if change == "resamples" else RESAMPLES)
    assert len(list(tmp_path.glob("bootstrap-*"))) == 2


def _raised(verdict):
    objects = tuple(
        dataclasses.replace(r, expected=dataclasses.replace(r.expected, box_iou=0.95)) for r in verdict.objects
    )
    return dataclasses.replace(verdict, objects=objects)


def test_without_a_store_nothing_is_written(tmp_path):
    metrics = suite_metrics(judged(scenario(), with_masks=False), with_masks=False)
    assert metrics.bootstrap(RESAMPLES).values
    assert not list(tmp_path.iterdir())
