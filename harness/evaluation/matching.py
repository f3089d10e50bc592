"""Assign predictions to expected objects and decide a case's verdict.

Matching is per class and one-to-one, maximising the total IoU (Hungarian assignment via scipy).
The IoU used to match is mask IoU where both sides have a mask, box IoU otherwise. A prediction
that overlaps no expected object of its class is an extra.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.casefile.schema import Case, ExpectedObject
from harness.core.config import meets_minimum
from harness.core.geometry import box_iou, mask_iou
from harness.core.keypoints import KeypointComparison
from harness.evaluation.label_result import LabelResult
from harness.evaluation.pose_matching import compare_poses, keypoint_problems
from harness.evaluation.predictions import Predictions


@dataclass(frozen=True)
class ObjectResult:
    """How one expected object fared."""

    expected: ExpectedObject
    prediction: int | None  # index into Predictions, None when missed
    box_iou: float | None
    mask_iou: float | None
    confidence: float | None
    check_mask: bool
    keypoints: KeypointComparison | None = None  # pose: the matched prediction's keypoints against these

    @property
    def oks(self) -> float | None:
        return None if self.keypoints is None else self.keypoints.oks

    obb_iou: float | None = None  # the oriented boxes' polygon IoU (task obb), judged instead of box IoU
    check_obb: bool = False

    @property
    def problems(self) -> list[str]:
        """What is wrong with this object, empty when it passes."""
        if self.expected.crowd:
            return []  # a crowd region need not be found
        if self.prediction is None:
            return ["missed"]
        problems = []
        if self.check_obb:
            if not meets_minimum(self.obb_iou, self.expected.obb_iou):
                problems.append("obb IoU low")
        elif not meets_minimum(self.box_iou, self.expected.box_iou):
            problems.append("box IoU low")
        if self.check_mask and not meets_minimum(self.mask_iou, self.expected.mask_iou):
            problems.append("mask IoU low")
        return problems + keypoint_problems(self.expected, self.keypoints)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class CaseVerdict:
    """Every expected object's result, the unmatched predictions, and whether the case passes."""

    case: Case
    predictions: Predictions
    objects: tuple[ObjectResult, ...]
    extras: tuple[int, ...]  # indices of predictions matched to nothing
    expected_masks: tuple = ()  # the expected masks as RLE (None where an object has none), rasterised once
    ignored: tuple[int, ...] = ()  # indices of predictions inside a crowd region: neither matches nor extras
    label: LabelResult | None = None  # a classify case's verdict on its label (it has no objects)

    @property
    def too_many_extras(self) -> bool:
        return len(self.extras) > self.case.max_extra

    @property
    def passed(self) -> bool:
        label_passed = self.label is None or self.label.passed
        return all(result.passed for result in self.objects) and not self.too_many_extras and label_passed

    @property
    def worst_iou(self) -> float | None:
        """The lowest box or mask IoU among expected objects (0 for a miss), None for an empty case."""
        values = []
        for result in self.objects:
            if result.expected.crowd:
                continue
            values.append((result.obb_iou if result.check_obb else result.box_iou) or 0.0)
            if result.check_mask:
                values.append(result.mask_iou or 0.0)
        return min(values) if values else None

    @property
    def worst_oks(self) -> float | None:
        """The lowest OKS among expected objects with keypoints (0 for a miss), None where none has any."""
        values = [r.oks or 0.0 for r in self.objects if r.expected.keypoints is not None and not r.expected.crowd]
        return min(values) if values else None


def match_objects(case: Case, predictions: Predictions, *, use_masks: bool) -> CaseVerdict:
    """Match ``predictions`` to ``case.objects`` and judge them against the case's thresholds."""
    width, height = case.image_size
    expected = case.objects
    expected_boxes = np.array([obj.box for obj in expected], dtype=np.float64).reshape(-1, 4)
    boxes = box_iou(expected_boxes, predictions.boxes)
    masks = None
    expected_masks: list = []
    if use_masks and predictions.masks is not None:
        expected_masks = [obj.mask.to_rle(height, width) if obj.mask is not None else None for obj in expected]
        masks = np.zeros_like(boxes)
        with_mask = [i for i, rle in enumerate(expected_masks) if rle is not None]
        if with_mask:
            masks[with_mask] = mask_iou([expected_masks[i] for i in with_mask], predictions.masks)

    # Pose: objects with keypoints are matched on OKS (harness/evaluation/pose_matching.py).
    pose = compare_poses(case, predictions, boxes) if predictions.keypoints is not None else None
    assignment = _assign(expected, predictions, boxes if pose is None else pose.affinity, masks)

    results = []
    for i, obj in enumerate(expected):
        j = assignment.get(i)
        check_mask = obj.mask is not None and masks is not None
        results.append(
            ObjectResult(
                expected=obj,
                prediction=j,
                box_iou=None if j is None else float(boxes[i, j]),
                mask_iou=None if j is None or not check_mask else float(masks[i, j]),
                confidence=None if j is None else float(predictions.scores[j]),
                check_mask=check_mask,
                keypoints=None if pose is None or j is None else pose.pairs.get((i, j)),
            )
        )
    matched = set(assignment.values())
    unmatched = [j for j in range(len(predictions)) if j not in matched]
    ignored = tuple(j for j in unmatched if _inside_crowd(j, expected, predictions))
    return CaseVerdict(
        case=case,
        predictions=predictions,
        objects=tuple(results),
        extras=tuple(j for j in unmatched if j not in ignored),
        expected_masks=tuple(expected_masks),
        ignored=ignored,
    )


def assign_by_class(
    expected: tuple[ExpectedObject, ...], predictions: Predictions, affinity: np.ndarray
) -> dict[int, int]:
    """The optimal one-to-one assignment for an IoU matrix of any kind (oriented boxes use it)."""
    return _assign(expected, predictions, affinity, None)


def _assign(
    expected: tuple[ExpectedObject, ...], predictions: Predictions, boxes: np.ndarray, masks: np.ndarray | None
) -> dict[int, int]:
    """The optimal one-to-one assignment of predictions to expected objects, class by class (crowd
    regions take part in none): expected index -> prediction index."""
    # Mask IoU decides the match where both sides have masks: it is the stricter, truer overlap. The
    # small box term only breaks ties, and keeps a pair whose boxes overlap but masks do not as a
    # match with a low mask IoU (more telling than "missed" plus an extra).
    affinity = boxes.copy()
    if masks is not None:
        rows = [i for i, obj in enumerate(expected) if obj.mask is not None]
        affinity[rows] = masks[rows] + 1e-3 * boxes[rows]
    assignment: dict[int, int] = {}
    for class_name in {obj.class_name for obj in expected}:
        rows = [i for i, obj in enumerate(expected) if obj.class_name == class_name and not obj.crowd]
        cols = [j for j, name in enumerate(predictions.class_names) if name == class_name]
        if not rows or not cols:
            continue
        for r, c in overlapping_pairs(affinity[np.ix_(rows, cols)]):
            assignment[rows[r]] = cols[c]
    return assignment


def overlapping_pairs(affinity: np.ndarray) -> list[tuple[int, int]]:
    """The pairs, in row order, of the one-to-one assignment that maximises the total of ``affinity``
    (overlaps, none negative) whose overlap is above 0: no overlap at all is a miss plus an extra, not
    a bad match."""
    positive = affinity > 0
    if (affinity >= 0).all() and (positive.sum(axis=0) <= 1).all() and (positive.sum(axis=1) <= 1).all():
        # No row or column overlaps two others: the best assignment takes each overlapping pair, and
        # scipy.optimize need not be imported (0.4 s, most of what a warm run spends matching).
        return [(int(r), int(c)) for r, c in zip(*np.nonzero(positive), strict=True)]
    from scipy.optimize import linear_sum_assignment  # scipy.optimize: 1 s to import, and collection needs none

    chosen = zip(*linear_sum_assignment(affinity, maximize=True), strict=True)
    return [(int(r), int(c)) for r, c in chosen if affinity[r, c] > 0]


def _inside_crowd(j: int, expected: tuple[ExpectedObject, ...], predictions: Predictions) -> bool:
    """Whether prediction ``j`` lies mostly (half its box or more) inside a crowd region of its class.

    COCO's rule for crowd regions: overlap is measured against the detection's own area.
    """
    x1, y1, x2, y2 = predictions.boxes[j]
    area = max(x2 - x1, 0) * max(y2 - y1, 0)
    for obj in expected:
        if obj.crowd and obj.class_name == predictions.class_names[j] and area > 0:
            cx1, cy1, cx2, cy2 = obj.box
            inside = max(min(x2, cx2) - max(x1, cx1), 0) * max(min(y2, cy2) - max(y1, cy1), 0)
            if meets_minimum(inside / area, 0.5):
                return True
    return False
