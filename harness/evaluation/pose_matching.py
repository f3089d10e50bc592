"""Pose matching: OKS between every expected object with keypoints and every prediction of its class.

The assignment itself is matching.py's (per class, one-to-one, Hungarian); for pose objects it
maximises OKS instead of IoU. A pair whose boxes do not overlap at all is never matched (a miss
plus an extra, as for boxes). The area OKS uses is the object's ``area:``, else its mask's, else its
box's (docs/pose.md); the sigmas are the file's, else Ultralytics' defaults for the keypoint count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.casefile.schema import Case, ExpectedObject
from harness.core.config import meets_minimum
from harness.core.geometry import rle_area
from harness.core.keypoints import KeypointComparison, KeypointSpec, compare_keypoints, default_sigmas
from harness.evaluation.predictions import Predictions

# Box IoU's share of the affinity: it only breaks ties between equal OKS (the way mask matching uses it).
TIE_BREAK = 1e-3


@dataclass(frozen=True)
class PoseComparisons:
    """The affinity to assign on (``shape = (objects, predictions)``) and each compared pair's keypoints."""

    affinity: np.ndarray
    pairs: dict[tuple[int, int], KeypointComparison]


def object_area(obj: ExpectedObject, image_size: tuple[int, int]) -> float:
    """The area OKS divides by: ``area:`` when given, else the mask's pixel count, else the box's area."""
    if obj.area is not None:
        return obj.area
    if obj.mask is not None:
        width, height = image_size
        return float(rle_area(obj.mask.to_rle(height, width)))
    x1, y1, x2, y2 = obj.box
    return (x2 - x1) * (y2 - y1)


def sigmas_for(spec: KeypointSpec | None, count: int) -> tuple[float, ...]:
    """The file's sigmas, else the ones Ultralytics' validator uses for ``count`` keypoints."""
    return spec.sigmas if spec is not None else default_sigmas(count)[0]


def keypoint_names(spec: KeypointSpec | None, count: int) -> tuple[str, ...]:
    return spec.names if spec is not None else tuple(str(i) for i in range(count))


def compare_poses(case: Case, predictions: Predictions, box_ious: np.ndarray) -> PoseComparisons:
    """OKS of every (expected object with keypoints, prediction of its class) pair whose boxes overlap;
    rows of objects without keypoints keep their box IoU."""
    affinity = box_ious.copy()
    pairs: dict[tuple[int, int], KeypointComparison] = {}
    keypoints = predictions.keypoints
    for i, obj in enumerate(case.objects):
        if obj.keypoints is None:
            continue
        area = object_area(obj, case.image_size)
        sigmas = sigmas_for(case.keypoints, len(obj.keypoints))
        affinity[i] = 0.0
        for j, name in enumerate(predictions.class_names):
            if name != obj.class_name or box_ious[i, j] <= 0 or keypoints[j].shape[0] != len(obj.keypoints):
                continue
            pairs[i, j] = compare_keypoints(obj.keypoints, keypoints[j], area, sigmas, obj.box)
            affinity[i, j] = pairs[i, j].oks + TIE_BREAK * box_ious[i, j]
    return PoseComparisons(affinity, pairs)


def keypoint_problems(obj: ExpectedObject, found: KeypointComparison | None) -> list[str]:
    """What is wrong with a matched object's keypoints: OKS below its ``oks``, a labelled keypoint
    farther than ``max_error`` pixels; empty for an object without keypoints."""
    if obj.keypoints is None:
        return []
    if found is None:
        return ["no keypoints"]  # matched on its box to a prediction with none (or another count)
    problems = []
    if not meets_minimum(found.oks, obj.oks):
        problems.append("OKS low")
    if obj.max_error is not None and found.labelled.any():
        worst = float(found.distances[found.labelled].max())
        if not meets_minimum(obj.max_error, worst):
            problems.append("keypoint off")
    return problems


def pose_misfit(case: Case, model_name: str, task: str, kpt_shape: list[int] | None) -> tuple[str, str] | None:
    """``(field, message)`` when the case's keypoints do not fit the model, else None: keypoints for
    a model without them, or another count than the model's ``kpt_shape``."""
    predicts = f"{model_name} predicts {kpt_shape[0]} (its kpt_shape is {kpt_shape})" if kpt_shape else ""
    if kpt_shape and case.keypoints is not None and case.keypoints.count != kpt_shape[0]:
        return "keypoints", f"the file's keypoints: block has {case.keypoints.count} keypoints, but {predicts}"
    for index, obj in enumerate(case.objects):
        if obj.keypoints is None:
            continue
        if task != "pose":
            return f"objects[{index}].keypoints", f"{model_name} is a {task} model and predicts no keypoints"
        if kpt_shape and len(obj.keypoints) != kpt_shape[0]:
            return f"objects[{index}].keypoints", f"{len(obj.keypoints)} keypoints, but {predicts}"
    return None
