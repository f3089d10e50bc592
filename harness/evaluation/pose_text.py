"""The keypoint tables of a pose case's failure report: one row per keypoint of each expected object."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.config import meets_minimum
from harness.core.text import table
from harness.evaluation.pose_matching import keypoint_names, object_area, sigmas_for

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict, ObjectResult

VISIBILITY = {0: "0 not labelled", 1: "1 occluded", 2: "2 visible"}


def _point(x: float, y: float) -> str:
    return f"[{x:.1f}, {y:.1f}]"


def keypoint_tables(verdict: CaseVerdict) -> list[str]:
    """For each expected object with keypoints: a heading (OKS against its threshold, the area and
    sigmas used) and each keypoint's expected and predicted place, distance, OKS term and visibility."""
    lines: list[str] = []
    for index, result in enumerate(verdict.objects):
        obj = result.expected
        if obj.keypoints is None or obj.crowd:
            continue
        lines.append(_heading(index, result, verdict))
        names = keypoint_names(verdict.case.keypoints, len(obj.keypoints))
        predicted = None if result.prediction is None else verdict.predictions.keypoints[result.prediction]
        found = result.keypoints
        rows = []
        for k, (x, y, v) in enumerate(obj.keypoints):
            row = [names[k] if k < len(names) else str(k), VISIBILITY[v], _point(x, y) if v else "-"]
            if predicted is not None and found is not None:
                px, py, conf = predicted[k]
                counted = bool(found.labelled[k]) or not found.labelled.any()
                row += [_point(px, py), f"{conf:.2f}"]
                row += [f"{found.distances[k]:.1f}", f"{found.terms[k]:.3f}" if counted else "- (not counted)"]
                if obj.max_error is not None and v:
                    row.append("ok" if meets_minimum(obj.max_error, float(found.distances[k])) else "FAIL")
            rows.append(row)
        header = ["keypoint", "v", "expected", "predicted", "conf", "distance px", "OKS term"]
        if obj.max_error is not None:
            header.append(f"<= {obj.max_error:g} px")
        width = max(len(row) for row in rows)
        lines += ["  " + line for line in table(header[:width], [r + [""] * (width - len(r)) for r in rows])]
    return lines


def _heading(index: int, result: ObjectResult, verdict: CaseVerdict) -> str:
    obj = result.expected
    area = object_area(obj, verdict.case.image_size)
    source = "area:" if obj.area is not None else "mask" if obj.mask is not None else "box"
    spec = verdict.case.keypoints
    sigmas = spec.sigmas_source if spec is not None else "Ultralytics' defaults"
    if result.prediction is None:
        oks = "missed"
    elif result.keypoints is None:
        oks = "matched prediction has no keypoints"
    else:
        sign = ">=" if meets_minimum(result.keypoints.oks, obj.oks) else "<"
        oks = f"OKS {result.keypoints.oks:.3f} {sign} {obj.oks:.2f}"
    count = len(sigmas_for(spec, len(obj.keypoints)))
    used = f"area {area:.0f} px² from {source}; {count} sigmas: {sigmas}"
    return f"object {index} ({obj.class_name}) keypoints: {oks} ({used})"
