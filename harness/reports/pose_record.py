"""The pose fields of the run record (harness/reports/run-record.schema.json, docs/json-report.md):
an expected object's OKS, its thresholds and one entry per keypoint; a prediction's keypoints."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from harness.evaluation.pose_matching import keypoint_names

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict, ObjectResult


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def object_pose_fields(verdict: CaseVerdict, result: ObjectResult) -> dict[str, Any]:
    """``oks``, ``min_oks``, ``max_error`` and ``keypoints`` of an object with keypoints; {} otherwise."""
    obj = result.expected
    if obj.keypoints is None:
        return {}
    names = keypoint_names(verdict.case.keypoints, len(obj.keypoints))
    predicted = None if result.prediction is None else verdict.predictions.keypoints[result.prediction]
    found = result.keypoints
    keypoints = []
    for k, (x, y, v) in enumerate(obj.keypoints):
        entry: dict[str, Any] = {"name": names[k], "expected": [x, y, v], "predicted": None}
        entry |= {"distance": None, "oks_term": None}
        if predicted is not None and found is not None:
            entry["predicted"] = [_finite(value) for value in predicted[k].tolist()]
            entry["distance"] = _finite(found.distances[k])
            entry["oks_term"] = _finite(found.terms[k]) if found.labelled[k] or not found.labelled.any() else None
        keypoints.append(entry)
    oks = None if found is None else _finite(found.oks)
    return {"oks": oks, "min_oks": obj.oks, "max_error": obj.max_error, "keypoints": keypoints}


def prediction_pose_fields(verdict: CaseVerdict, index: int) -> dict[str, Any]:
    """``keypoints`` (x, y, confidence each) of a pose model's prediction; {} for other models."""
    keypoints = verdict.predictions.keypoints
    if keypoints is None:
        return {}
    return {"keypoints": [[_finite(v) for v in point] for point in keypoints[index].tolist()]}
