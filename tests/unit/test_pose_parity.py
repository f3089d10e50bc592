"""Export parity for pose models: the keypoints of a matched pair must agree by OKS, like the boxes by IoU."""

from __future__ import annotations

import numpy as np

from harness.evaluation.predictions import Predictions
from harness.robustness.parity import compare_predictions

KEYPOINTS = [[100.0, 40.0, 0.9], [70.0, 110.0, 0.8], [130.0, 110.0, 0.9], [100.0, 85.0, 0.4]]


def pose(keypoints: list) -> Predictions:
    return Predictions(
        np.array([[60.0, 30.0, 140.0, 120.0]]), ("arrow",), np.array([0.9]), None, (320, 240), np.array([keypoints])
    )


def test_the_same_keypoints_are_at_parity_and_moved_ones_are_not():
    (same,) = compare_predictions(
        pose(KEYPOINTS), pose(KEYPOINTS), iou=0.98, conf=0.02, conf_threshold=0.25, use_masks=False
    )
    assert same.oks == 1.0 and same.problems == ()
    moved = [list(point) for point in KEYPOINTS]
    moved[1][0] += 20.0  # the left barb 20 px to the right: OKS 0.974 with the defaults (sigma 1/4, the box's area)
    (row,) = compare_predictions(
        pose(KEYPOINTS), pose(moved), iou=0.98, conf=0.02, conf_threshold=0.25, use_masks=False
    )
    assert row.box_iou == 1.0 and row.problems == ("keypoint OKS low",)
    assert 0.95 < row.oks < 0.98
