"""The prediction cache: exact round trips, every key input invalidating, damaged entries; no run.

A warm rerun that predicts nothing and never imports torch is tests/plugin/test_prediction_cache_runs.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from harness.core.geometry import masks_to_rles
from harness.evaluation import prediction_cache as cache_module
from harness.evaluation.prediction_cache import (
    PredictionCache,
    predictions_from_json,
    predictions_to_json,
    resolved_device,
)
from harness.evaluation.predictions import Predictions

from conftest import FIXTURES

IMAGE = FIXTURES / "images" / "golden-001.png"
ARGUMENTS = {"imgsz": 256, "conf": 0.25}


@st.composite
def predictions(draw) -> Predictions:
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    count = draw(st.integers(0, 4))
    coordinate = st.floats(-1e4, 1e4, allow_nan=False, width=32)  # Ultralytics' boxes are float32
    boxes = np.array(draw(st.lists(st.lists(coordinate, min_size=4, max_size=4), min_size=count, max_size=count)))
    scores = np.array(draw(st.lists(st.floats(0, 1, width=32), min_size=count, max_size=count)))
    names = tuple(draw(st.lists(st.text(min_size=1, max_size=8), min_size=count, max_size=count)))
    masks = None
    if draw(st.booleans()):
        pixels = st.lists(st.booleans(), min_size=width * height, max_size=width * height)
        dense = np.array(draw(st.lists(pixels, min_size=count, max_size=count)), dtype=np.uint8)
        masks = masks_to_rles(dense.reshape(count, height, width))
    boxes = boxes.reshape(-1, 4).astype(np.float64)
    return Predictions(boxes, names, scores.astype(np.float64), masks, (width, height))


@given(predictions())
def test_entries_round_trip_exactly(original):
    # Through real JSON text, as on disk: a cached prediction must judge exactly as a fresh one.
    restored = predictions_from_json(json.loads(json.dumps(predictions_to_json(original))))
    assert np.array_equal(restored.boxes, original.boxes)
    assert np.array_equal(restored.scores, original.scores)
    assert restored.class_names == original.class_names
    assert restored.image_size == original.image_size
    assert (restored.masks is None) == (original.masks is None)
    for a, b in zip(restored.masks or [], original.masks or [], strict=True):
        assert a == b


def test_every_key_input_changes_the_key(tmp_path, monkeypatch):
    cache = PredictionCache(tmp_path)
    image = tmp_path / "image.png"
    shutil.copy(IMAGE, image)
    key = cache.key("a" * 64, image, ARGUMENTS, "cpu")
    assert cache.key("a" * 64, image, dict(reversed(ARGUMENTS.items())), "cpu") == key  # order is not an input
    changed = {
        "model": cache.key("b" * 64, image, ARGUMENTS, "cpu"),
        "arguments": cache.key("a" * 64, image, {**ARGUMENTS, "conf": 0.3}, "cpu"),
        "device": cache.key("a" * 64, image, ARGUMENTS, "cuda:0"),
    }
    image.write_bytes(image.read_bytes() + b"\0")  # same name, other bytes
    changed["image bytes"] = cache.key("a" * 64, image, ARGUMENTS, "cpu")
    monkeypatch.setattr(cache_module, "library_versions", lambda: {"ultralytics": "0", "torch": "0"})
    changed["versions"] = cache.key("a" * 64, image, ARGUMENTS, "cpu")
    assert len({key, *changed.values()}) == 1 + len(changed), changed


def test_a_damaged_entry_is_a_miss_and_no_temporary_files_stay(tmp_path):
    cache = PredictionCache(tmp_path)
    one = Predictions(np.array([[1.0, 2.0, 3.0, 4.0]]), ("circle",), np.array([0.5]), None, (8, 8))
    cache.put("ab" * 32, one, "cpu")
    restored, device = cache.get("ab" * 32)
    assert restored.class_names == ("circle",) and device == "cpu"
    (entry,) = (tmp_path / "predictions").rglob("*.json")
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # written by rename: no leftovers
    entry.write_text('{"image_size": [8, 8], "boxes": [[1, 2')  # as if cut short by hand
    assert cache.get("ab" * 32) is None
    entry.write_text('{"image_size": [8, 8], "boxes": [], "class_names": ["x"], "scores": [], "masks": null}')
    assert cache.get("ab" * 32) is None  # lengths disagree


def test_the_automatic_device_is_told_without_torch(monkeypatch):
    assert resolved_device("CUDA:0") == "cuda:0"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolved_device(None) == "auto:cpu"
