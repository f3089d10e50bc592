"""Keypoints on overlay pictures: expected keypoints as green dots with their names, predicted ones
as magenta rings, and a predicted keypoint that fails (its OKS term below the object's ``oks``, or
farther than ``max_error``) in red with a line to where it should be. The file's ``skeleton``
pairs are joined by thin lines in each side's colour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.core.config import meets_minimum
from harness.evaluation.pose_matching import keypoint_names

if TYPE_CHECKING:
    from harness.casefile.schema import Case, ExpectedObject
    from harness.evaluation.matching import CaseVerdict

# x, y, name, failing, and the expected place a failing predicted keypoint is drawn joined to (or None).
Point = tuple[float, float, str, bool, "tuple[float, float] | None"]
Bone = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class PoseMarks:
    """What to draw of one object's or prediction's keypoints: the points and the skeleton's bones."""

    points: tuple[Point, ...] = ()
    bones: tuple[Bone, ...] = ()


def _bones(skeleton, places: dict[int, tuple[float, float]]) -> tuple[Bone, ...]:
    return tuple((places[i], places[j]) for i, j in skeleton if i in places and j in places)


def expected_points(case: Case, obj: ExpectedObject) -> PoseMarks | None:
    """The labelled keypoints of an expected object, and the bones between them."""
    if obj.keypoints is None:
        return None
    names = keypoint_names(case.keypoints, len(obj.keypoints))
    labelled = {k: (x, y) for k, (x, y, v) in enumerate(obj.keypoints) if v > 0}
    points = tuple((x, y, names[k], False, None) for k, (x, y) in labelled.items())
    return PoseMarks(points, _bones(case.keypoints.skeleton if case.keypoints else (), labelled))


def predicted_points(verdict: CaseVerdict, prediction: int) -> PoseMarks | None:
    """A prediction's keypoints and bones; those of a matched object that fail its checks marked."""
    keypoints = verdict.predictions.keypoints
    if keypoints is None:
        return None
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
    skeleton = verdict.case.keypoints.skeleton if verdict.case.keypoints else ()
    return PoseMarks(tuple(points), _bones(skeleton, {k: (p[0], p[1]) for k, p in enumerate(points)}))


def draw_bones(pen: Any, pose: PoseMarks, colour, scale: float, line: int) -> None:
    """The skeleton's bones as thin lines (drawn before any point, so that no bone hides one)."""
    for (x1, y1), (x2, y2) in pose.bones:
        pen.line([(x1 * scale, y1 * scale), (x2 * scale, y2 * scale)], fill=colour, width=max(1, line // 2))


def draw_points(pen: Any, pose: PoseMarks, colour, problem_colour, scale: float, line: int, font) -> None:
    """Points as dots (named, in ``font``) or, ``font`` None, as rings; failing ones red dots joined
    to where they should be."""
    radius = 2 + line
    for x, y, name, failing, target in pose.points:
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
