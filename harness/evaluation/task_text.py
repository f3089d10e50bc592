"""Readable text for the verdicts of oriented-box (obb) and classify cases: their failure tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from harness.core.config import meets_minimum
from harness.core.errors import display_path
from harness.core.text import format_box, table

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict


def format_oriented_box(corners: Sequence[float]) -> str:
    """An oriented box as a person reads it: centre, side lengths and the first side's angle in degrees."""
    xs, ys = corners[0::2], corners[1::2]
    cx, cy = sum(xs) / 4, sum(ys) / 4
    width = math.hypot(xs[1] - xs[0], ys[1] - ys[0])
    height = math.hypot(xs[2] - xs[1], ys[2] - ys[1])
    angle = math.degrees(math.atan2(ys[1] - ys[0], xs[1] - xs[0])) % 180
    return f"({cx:.0f}, {cy:.0f}) {width:.0f}x{height:.0f} {angle:.0f}°"


def _heading(verdict: CaseVerdict, summary: str, model_name: str) -> list[str]:
    case = verdict.case
    return [
        summary,
        f"case {case.name!r} in {display_path(case.file)}: model {model_name}, "
        f"image {display_path(case.image)} ({case.image_size[0]}x{case.image_size[1]})",
    ]


def format_oriented_verdict(verdict: CaseVerdict, summary: str, *, model_name: str) -> str:
    """An obb case's report: one row per expected object (oriented boxes, their polygon IoU), then extras."""
    case, predictions = verdict.case, verdict.predictions
    corners = predictions.oriented_corners()
    lines = _heading(verdict, summary, model_name)
    if case.objects:
        rows = []
        for index, result in enumerate(verdict.objects):
            obj, j = result.expected, result.prediction
            if result.obb_iou is None:
                shown = f"  -  (>= {obj.obb_iou:.2f})"
            else:
                sign = ">=" if meets_minimum(result.obb_iou, obj.obb_iou) else "< "
                shown = f"{result.obb_iou:.3f} {sign} {obj.obb_iou:.2f}"
            rows.append(
                [
                    str(index),
                    obj.class_name,
                    format_oriented_box(obj.obb) if obj.obb is not None else format_box(obj.box),
                    "-" if j is None else format_oriented_box(corners[j]),
                    "-" if result.confidence is None else f"{result.confidence:.2f}",
                    shown,
                    "crowd region" if obj.crowd else "ok" if result.passed else "FAIL: " + ", ".join(result.problems),
                ]
            )
        lines += table(["#", "class", "expected obb", "predicted obb", "conf", "obb IoU", "verdict"], rows)
    else:
        lines.append("  the case expects no objects")
    lines += unmatched_lines(verdict, "obb", lambda j: format_oriented_box(corners[j]))
    return "\n".join(lines)


def unmatched_lines(verdict: CaseVerdict, shape: str, describe: Callable[[int], str]) -> list[str]:
    """The count of predictions inside crowd regions, and the table of predictions matched to
    nothing, each drawn as ``describe(j)`` in a column named ``shape``."""
    lines = []
    predictions = verdict.predictions
    if verdict.ignored:
        lines.append(f"predictions inside crowd regions (ignored): {len(verdict.ignored)}")
    if verdict.extras:
        allowed = "FAIL" if verdict.too_many_extras else "allowed"
        lines.append(f"unmatched predictions: {len(verdict.extras)} (max_extra {verdict.case.max_extra}: {allowed})")
        rows = [
            [str(j), predictions.class_names[j], describe(j), f"{predictions.scores[j]:.2f}"] for j in verdict.extras
        ]
        lines += table(["pred", "class", shape, "conf"], rows)
    return lines


def summarize_label(verdict: CaseVerdict) -> str:
    """One line: the label's verdict, what the model said and what was expected."""
    label = verdict.label
    top = "no class" if label.predicted is None else f"{label.predicted} ({label.ranked[0][1]:.2f})"
    expected = " or ".join(label.spec.labels)
    if label.passed:
        return f"passed: top class {top}"
    problem = label.problems[0]
    if problem == "confidence low":
        return f"confidence low: {expected} scored {label.confidence:.2f} < {label.spec.min_confidence:.2f}"
    return f"{problem}: top class {top}, expected {expected}"


def format_label_verdict(verdict: CaseVerdict, *, model_name: str) -> str:
    """A classify case's report: what it expects, then the model's top 5 classes with their scores."""
    label = verdict.label
    spec = label.spec
    lines = _heading(verdict, summarize_label(verdict), model_name)
    expected = " or ".join(spec.labels)
    lines.append(f"expected: {expected} within the top {spec.top_k}, confidence >= {spec.min_confidence:.2f}")
    rows = [
        [str(place), name, f"{score:.3f}", "<- expected" if name in spec.labels else ""]
        for place, (name, score) in enumerate(label.ranked[:5], start=1)
    ]
    lines += table(["rank", "class", "score", ""], rows)
    if label.rank is None:
        lines.append(f"  {expected}: not among the top {len(label.ranked)}")
    return "\n".join(lines)
