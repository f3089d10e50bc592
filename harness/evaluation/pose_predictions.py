"""Keypoints out of Ultralytics pose results, in original-image pixels (Ultralytics scales them back
from the letterboxed input, as it does boxes): ``results.keypoints.data``, x y confidence per keypoint."""

from __future__ import annotations

from typing import Any

import numpy as np


def kpt_shape_of(yolo: Any) -> list[int] | None:
    """The model's ``kpt_shape`` ([keypoints, 2 or 3]) for a pose model, else None."""
    if yolo.task != "pose":
        return None
    shape = getattr(getattr(yolo, "model", None), "kpt_shape", None)
    if shape is None:  # an exported model keeps it in its metadata, which the predictor reads
        shape = getattr(getattr(getattr(yolo, "predictor", None), "model", None), "kpt_shape", None)
    return [int(v) for v in shape] if shape is not None else None


def result_keypoints(result: Any, kpt_shape: list[int] | None, detections: int) -> np.ndarray:
    """``shape = (N, K, 3)``: each detection's keypoints as x, y, confidence (1.0 where the model
    predicts no visibility, ``kpt_shape`` [K, 2])."""
    count = kpt_shape[0] if kpt_shape else 0
    if result.keypoints is None or detections == 0:
        return np.zeros((0, count, 3))
    data = result.keypoints.data.cpu().numpy().astype(np.float64)
    if data.shape[-1] == 2:
        data = np.concatenate([data, np.ones((*data.shape[:-1], 1))], axis=-1)
    return data.reshape(detections, -1, 3)
