"""Acceptance: the shipped models are good on the generator's held-out split, by Ultralytics' own val."""

from __future__ import annotations

import sys

import pytest

from conftest import FIXTURES, MODELS

sys.path.insert(0, str(FIXTURES))
from shapes import write_dataset


@pytest.fixture(scope="module")
def val_data(tmp_path_factory):
    # The val split is regenerated, not shipped: the generator is deterministic, so it is the same data.
    return write_dataset(tmp_path_factory.mktemp("shapes"), n_train=0, n_val=200)


@pytest.mark.parametrize(
    ("model", "metric", "minimum"),
    [("shapes-detect.pt", "box", 0.80), ("shapes-seg.pt", "seg", 0.70)],
)
def test_shipped_model_val_map50_95(model, metric, minimum, val_data, tmp_path):
    from ultralytics import YOLO

    metrics = YOLO(str(MODELS / model)).val(
        data=str(val_data), imgsz=256, batch=16, device="cpu", plots=False, project=str(tmp_path), verbose=False
    )
    assert getattr(metrics, metric).map >= minimum


def test_weak_models_are_clearly_worse(val_data, tmp_path):
    from ultralytics import YOLO

    strong = YOLO(str(MODELS / "shapes-detect.pt")).val(
        data=str(val_data), imgsz=256, device="cpu", plots=False, project=str(tmp_path), verbose=False
    )
    weak = YOLO(str(MODELS / "shapes-detect-weak.pt")).val(
        data=str(val_data), imgsz=256, device="cpu", plots=False, project=str(tmp_path), verbose=False
    )
    assert weak.box.map < strong.box.map - 0.2
