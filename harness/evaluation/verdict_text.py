"""Readable text for case verdicts: the failure table and the end-of-run summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.core.config import Gate, meets_minimum
from harness.core.errors import display_path
from harness.core.text import format_box, table
from harness.evaluation.pose_text import keypoint_tables
from harness.evaluation.task_text import format_label_verdict, format_oriented_verdict, summarize_label, unmatched_lines

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict
    from harness.evaluation.metric_table import SuiteMetrics
    from harness.evaluation.suites import SuiteResult


def _fmt_iou(value: float | None, threshold: float, checked: bool) -> str:
    if not checked:
        return "-"
    if value is None:
        return f"  -  (>= {threshold:.2f})"
    sign = ">=" if meets_minimum(value, threshold) else "< "
    return f"{value:.3f} {sign} {threshold:.2f}"


def summarize_verdict(verdict: CaseVerdict) -> str:
    """One line: what failed, and the worst IoU (and OKS, for keypoints)."""
    if verdict.label is not None:
        return summarize_label(verdict)
    parts = []
    problems = [p for result in verdict.objects for p in result.problems]
    for problem in ("missed", "box IoU low", "obb IoU low", "mask IoU low", "OKS low", "keypoint off", "no keypoints"):
        if problems.count(problem):
            parts.append(f"{problems.count(problem)} {problem}")
    if verdict.too_many_extras:
        parts.append(f"{len(verdict.extras)} extra, max_extra {verdict.case.max_extra}")
    worst = [f"worst IoU {verdict.worst_iou:.3f}"] if verdict.worst_iou is not None else []
    if verdict.worst_oks is not None:  # pose: the keypoints' own figure beside the boxes'
        worst.append(f"worst OKS {verdict.worst_oks:.3f}")
    summary = ", ".join(parts) if parts else "passed"
    return summary + (f" ({', '.join(worst)})" if worst else "")


def format_verdict(verdict: CaseVerdict, *, model_name: str) -> str:
    """The failure report of one case: a one-line summary (pytest's short summary shows it), one row
    per expected object, then the unmatched predictions."""
    if verdict.label is not None:
        return format_label_verdict(verdict, model_name=model_name)
    if verdict.predictions.obb is not None:
        return format_oriented_verdict(verdict, summarize_verdict(verdict), model_name=model_name)
    case = verdict.case
    predictions = verdict.predictions
    lines = [
        summarize_verdict(verdict),
        f"case {case.name!r} in {display_path(case.file)}: model {model_name}, "
        f"image {display_path(case.image)} ({case.image_size[0]}x{case.image_size[1]})",
    ]
    if case.objects:
        rows = []
        for index, result in enumerate(verdict.objects):
            obj = result.expected
            j = result.prediction
            rows.append(
                [
                    str(index),
                    obj.class_name,
                    format_box(obj.box),
                    "-" if j is None else format_box(predictions.boxes[j]),
                    "-" if result.confidence is None else f"{result.confidence:.2f}",
                    _fmt_iou(result.box_iou, obj.box_iou, True),
                    _fmt_iou(result.mask_iou, obj.mask_iou, result.check_mask),
                    "crowd region" if obj.crowd else "ok" if result.passed else "FAIL: " + ", ".join(result.problems),
                ]
            )
        header = ["#", "class", "expected box", "predicted box", "conf", "box IoU", "mask IoU", "verdict"]
        lines += table(header, rows)
        lines += keypoint_tables(verdict)  # pose objects: one row per keypoint
    else:
        lines.append("  the case expects no objects")
    lines += unmatched_lines(verdict, "box", lambda j: format_box(predictions.boxes[j]))
    return "\n".join(lines)


def worst_cases(verdicts: Sequence[CaseVerdict], limit: int = 5) -> list[CaseVerdict]:
    """Failing cases first, then by worst IoU (cases without objects last); ties by file and name, so
    the order does not depend on which pytest-xdist worker finished first."""
    return sorted(
        verdicts,
        key=lambda v: (v.passed, 2.0 if v.worst_iou is None else v.worst_iou, str(v.case.file), v.case.name),
    )[:limit]


def format_gate_failure(result: SuiteResult, gate: Gate, value: float | None) -> str:
    """Why a metric gate failed: the value, the minimum, and the cases that pulled it down."""
    shown = "undefined" if value is None else f"{value:.4f}"
    lines = [f"{gate.path} = {shown} < {gate.minimum:g}"]
    if value is None:
        lines[0] += " (no expected objects, no masks, or no such class or tag in the suite)"
    lines.append(
        f"suite {display_path(result.case_file.path)}: {len(result.verdicts)} cases, model {result.model.name}"
    )
    scope, _, rest = gate.path.partition(".")
    relevant = list(result.verdicts)
    if scope == "per_tag":
        relevant = [v for v in relevant if rest.split(".")[0] in v.case.tags]
    elif scope == "per_class":
        name = rest.split(".")[0]
        relevant = [v for v in relevant if any(o.expected.class_name == name for o in v.objects)]
    lines.append("worst contributing cases:")
    rows = [
        [v.case.name, "-" if v.worst_iou is None else f"{v.worst_iou:.3f}", summarize_verdict(v)]
        for v in worst_cases(relevant)
    ]
    lines += table(["case", "worst IoU", "verdict"], rows)
    return "\n".join(lines)


def format_suite_metrics(metrics: SuiteMetrics, intervals: dict[str, tuple[float, float]] | None = None) -> str:
    """One line of the headline metrics of a suite, for the terminal summary, each with its interval
    (``0.873 [0.854, 0.896]``) when ``intervals`` has it."""
    values = metrics.values
    intervals = intervals or {}

    def shown(name: str) -> str:
        found = intervals.get(name)
        return f"{values.get(name, 0):.3f}" + ("" if found is None else f" [{found[0]:.3f}, {found[1]:.3f}]")

    parts = []
    for kind in ("box", "mask", "pose"):
        if f"{kind}.map50_95" in values:
            parts.append(
                f"{kind} mAP50-95 {shown(f'{kind}.map50_95')} mAP50 {shown(f'{kind}.map50')} "
                f"P {shown(f'{kind}.precision')} R {shown(f'{kind}.recall')}"
            )
    if "obb.map50_95" in values:
        parts.append(
            f"obb mAP50-95 {shown('obb.map50_95')} mAP50 {shown('obb.map50')} "
            f"P {shown('obb.precision')} R {shown('obb.recall')}"
        )
    if "label.top1" in values:
        parts.append(f"top-1 {shown('label.top1')} top-5 {shown('label.top5')}")
    return "; ".join(parts) or "no expected objects"
