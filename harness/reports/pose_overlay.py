"""Keypoints on overlay pictures: expected keypoints as green dots with their names, predicted ones
as magenta rings, and a predicted keypoint that fails (its OKS term below the object's ``oks``, or
farther than ``max_error``) in red with its name and a line to where it should be."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.core.config import meets_minimum
from harness.evaluation.pose_matching import keypoint_names

if TYPE_CHECKING:
    from harness.casefile.schema import Case, ExpectedObject
    from harness.evaluation.matching import CaseVerdict

# x, y, name, failing, and the expected place a failing predicted keypoint is drawn joined to (or None).
Point = tuple[float, float, str, bool, "tuple[float, float] | None"]


def expected_points(case: Case, obj: ExpectedObject) -> tuple[Point, ...]:
    """The labelled keypoints of an expected object."""
    if obj.keypoints is None:
        return ()
    names = keypoint_names(case.keypoints, len(obj.keypoints))
    return tuple((x, y, names[k], False, None) for k, (x, y, v) in enumerate(obj.keypoints) if v > 0)


def predicted_points(verdict: CaseVerdict, prediction: int) -> tuple[Point, ...]:
    """A prediction's keypoints; those of a matched object that fail its checks marked."""
    keypoints = verdict.predictions.keypoints
    if keypoints is None:
        return ()
    result = next((r for r in verdict.objects if r.prediction == prediction), None)
    obj = None if result is None else result.expected
    found = None if result is None else result.keypoints
    names = keypoint_names(verdict.case.keypoints, len(keypoints[prediction]))
    points = []
    for k, (x, y, _) in enumerate(keypoints[prediction].tolist()):
        failing, target = False, None
        if found is not None and obj is not None and obj.keypoints[k][2] > 0:
            far = obj.max_error is not None and not meets_minimum(obj.max_error, float(found.distances[k]))
            failing = far or not meets_minimum(float(found.terms[k]), obj.oks)
            target = (obj.keypoints[k][0], obj.keypoints[k][1]) if failing else None
        points.append((x, y, names[k], failing, target))
    return tuple(points)


def draw_points(pen: Any, points: tuple[Point, ...], colour, problem_colour, scale: float, line: int, font) -> None:
    """Points as dots (named, in ``font``) or, ``font`` None, as rings; failing ones red dots joined to
    where they should be."""
    radius = 2 + line
    for x, y, name, failing, target in points:
        cx, cy = x * scale, y * scale
        shade = problem_colour if failing else colour
        if target is not None:
            pen.line([(cx, cy), (target[0] * scale, target[1] * scale)], fill=problem_colour, width=line)
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        if font is not None or failing:
            pen.ellipse(box, fill=shade, outline=(0, 0, 0))
        else:
            pen.ellipse(box, outline=shade, width=line)
        if font is not None:
            pen.text((cx + radius + 1, cy - radius), name, fill=shade, font=font, stroke_width=1, stroke_fill=(0, 0, 0))
