"""Judging the cases of the other two tasks: oriented boxes (obb) and labels (classify).

Oriented boxes are matched like boxes (per class, one-to-one, the Hungarian assignment maximising
total IoU), with the exact polygon IoU of harness/core/oriented.py; each object passes when its
oriented-box IoU reaches its ``obb_iou``. A prediction lying half or more (by its own area) inside a
crowd region of its class is ignored, as for boxes. A classify case passes when one of its labels is
among the model's ``top_k`` classes with at least ``min_confidence``.
"""

from __future__ import annotations

import numpy as np

from harness.casefile.schema import Case
from harness.core.config import meets_minimum
from harness.core.geometry import box_iou
from harness.core.oriented import oriented_iou
from harness.evaluation.label_result import LabelResult
from harness.evaluation.matching import CaseVerdict, ObjectResult, assign_by_class, match_objects
from harness.evaluation.predictions import Predictions


def judge_predictions(case: Case, predictions: Predictions, *, use_masks: bool) -> CaseVerdict:
    """A case judged by its model's kind of output: labels, oriented boxes, or boxes (and masks)."""
    if predictions.ranked is not None:
        return judge_label(case, predictions)
    if predictions.obb is not None:
        return match_oriented(case, predictions)
    return match_objects(case, predictions, use_masks=use_masks)


def expected_corners(case: Case) -> np.ndarray:
    """The case's oriented boxes, ``shape = (N, 8)``; an object without one uses its box's corners."""
    rows = []
    for obj in case.objects:
        x1, y1, x2, y2 = obj.box
        rows.append(obj.obb if obj.obb is not None else (x1, y1, x2, y1, x2, y2, x1, y2))
    return np.array(rows, dtype=np.float64).reshape(-1, 8)


def match_oriented(case: Case, predictions: Predictions) -> CaseVerdict:
    """Match an obb model's oriented boxes to ``case.objects`` and judge them by ``obb_iou``."""
    expected = case.objects
    corners = predictions.oriented_corners()
    ious = oriented_iou(expected_corners(case), corners)
    boxes = box_iou(np.array([obj.box for obj in expected], dtype=np.float64).reshape(-1, 4), predictions.boxes)
    assignment = assign_by_class(expected, predictions, ious)
    results = []
    for i, obj in enumerate(expected):
        j = assignment.get(i)
        results.append(
            ObjectResult(
                expected=obj,
                prediction=j,
                box_iou=None if j is None else float(boxes[i, j]),
                mask_iou=None,
                confidence=None if j is None else float(predictions.scores[j]),
                check_mask=False,
                obb_iou=None if j is None else float(ious[i, j]),
                check_obb=True,
            )
        )
    matched = set(assignment.values())
    unmatched = [j for j in range(len(predictions)) if j not in matched]
    ignored = tuple(j for j in unmatched if _inside_crowd(j, case, predictions, corners))
    return CaseVerdict(
        case=case,
        predictions=predictions,
        objects=tuple(results),
        extras=tuple(j for j in unmatched if j not in ignored),
        ignored=ignored,
    )


def _inside_crowd(j: int, case: Case, predictions: Predictions, corners: np.ndarray) -> bool:
    """Whether oriented box ``j`` lies half or more (of its own area) inside a crowd region of its class."""
    import shapely  # loaded with the oriented IoU already; here only for a case with crowd regions

    crowds = [obj for obj in case.objects if obj.crowd and obj.class_name == predictions.class_names[j]]
    if not crowds:
        return False
    mine = shapely.Polygon(corners[j].reshape(4, 2))
    if mine.area <= 0:
        return False
    for obj in crowds:
        region = shapely.Polygon(expected_corners(case)[case.objects.index(obj)].reshape(4, 2))
        if meets_minimum(mine.intersection(region).area / mine.area, 0.5):
            return True
    return False


def judge_label(case: Case, predictions: Predictions) -> CaseVerdict:
    """A classify case: its label judged against the model's ranked classes."""
    if case.label is None:
        raise ValueError(f"case {case.name!r} expects no label, but the model is a classify model")
    return CaseVerdict(
        case=case,
        predictions=predictions,
        objects=(),
        extras=(),
        label=LabelResult(case.label, predictions.ranked or ()),
    )
