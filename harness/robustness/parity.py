"""Export parity: two models of the same weights (say ``model.pt`` and its ONNX export) must predict
the same objects on every case's image.

Both models predict the image with the case file's predict arguments, through the same model pool
(so the prediction cache and batching apply to both). Their predictions are matched per class and
one-to-one, maximising the total IoU (Hungarian assignment, as harness/evaluation/matching.py matches expected
objects): mask IoU decides for segment models, box IoU for detect models. Every pair must reach the
IoU minimum (box and mask IoU, for segment models) and its two confidences may differ by at most
the tolerance. A prediction without a counterpart fails, unless its confidence lies within the
tolerance of the predict ``conf`` threshold: the other model may have scored it just below the
threshold. Such a prediction is *borderline*: tolerated, counted and reported, never hidden.
The pairing is harness/robustness/parity_pairs.py's; obb models (pairs by polygon IoU) and classify
models (ranked classes) are compared by harness/robustness/task_parity.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.core.config import CompareTo, meets_minimum, within_tolerance
from harness.core.errors import CaseFileError, display_path
from harness.core.geometry import box_iou, mask_iou, rle_area
from harness.core.text import format_box, table
from harness.evaluation.predictions import Predictions
from harness.evaluation.suites import check_model_pin
from harness.robustness.parity_pairs import (
    ParityRow,
    assign_pairs,
    class_indices,
    confidence_penalty,
    identical_agree,
    unmatched_rows,
)
from harness.robustness.pose_parity import pair_oks
from harness.robustness.task_parity import (
    compare_oriented,
    compare_ranked,
    lowest_ranked_score,
    oriented_table,
    ranked_rule,
    ranked_table,
    top_class_change,
    top_classes_differ,
)

if TYPE_CHECKING:
    from harness.casefile.schema import Case
    from harness.evaluation.suites import Judge

# Ultralytics predicts with conf 0.25 when the predict arguments set none (its predictor's default).
ULTRALYTICS_CONF = 0.25
ROW_LIMIT = 40  # rows of the failure table, problems first


@dataclass(frozen=True)
class ParityResult:
    """How one case's image came out of the two models."""

    case: Case
    model: str  # model A's file name
    compare_model: str  # model B's file name
    compare: CompareTo
    conf_threshold: float
    predictions: Predictions  # model A's
    compare_predictions: Predictions  # model B's
    rows: tuple[ParityRow, ...]
    static_input: str | None = None  # "256x256" when B is an ONNX model with a fixed input size

    @property
    def passed(self) -> bool:
        return not any(row.problems for row in self.rows)

    @property
    def pairs(self) -> int:
        return sum(row.a is not None and row.b is not None for row in self.rows)

    @property
    def worst_iou(self) -> float | None:
        values = [row.iou for row in self.rows if row.iou is not None]
        return min(values) if values else None

    @property
    def max_conf_difference(self) -> float | None:
        values = [row.conf_difference for row in self.rows if row.conf_difference is not None]
        return max(values) if values else None

    @property
    def unmatched(self) -> int:
        """Predictions without a counterpart, borderline ones included."""
        return sum(row.a is None or row.b is None for row in self.rows)

    @property
    def borderline(self) -> tuple[ParityRow, ...]:
        return tuple(row for row in self.rows if row.borderline)


def compare_predictions(
    a: Predictions, b: Predictions, *, iou: float, conf: float, conf_threshold: float, use_masks: bool
) -> tuple[ParityRow, ...]:
    """Match ``a`` and ``b`` one-to-one per class and judge every pair and every leftover.

    Rows come in class order, pairs first (by A's index), then A's leftovers, then B's. Oriented
    boxes and ranked classes (obb and classify models) are compared by harness/robustness/task_parity.py.
    """
    if a.ranked is not None and b.ranked is not None:
        return compare_ranked(a, b, conf=conf)
    if a.obb is not None and b.obb is not None:
        return compare_oriented(a, b, iou=iou, conf=conf, conf_threshold=conf_threshold)
    use_masks = use_masks and a.masks is not None and b.masks is not None
    rows: list[ParityRow] = []
    for class_name, ia, ib in class_indices(a, b):
        boxes = identical_agree(box_iou(a.boxes[ia], b.boxes[ib]), a.boxes[ia], b.boxes[ib])
        masks = _mask_iou([a.masks[i] for i in ia], [b.masks[j] for j in ib]) if use_masks else None
        # Mask IoU decides where there are masks; the box term breaks ties.
        affinity = (boxes if masks is None else masks + 1e-3 * boxes) - confidence_penalty(a, b, ia, ib)
        matched = assign_pairs(affinity, (boxes > 0) if masks is None else (boxes > 0) | (masks > 0))
        for r, c in sorted(matched.items()):
            box, mask = float(boxes[r, c]), None if masks is None else float(masks[r, c])
            conf_a, conf_b = float(a.scores[ia[r]]), float(b.scores[ib[c]])
            oks = pair_oks(a, b, ia[r], ib[c])  # pose models: the keypoints must agree as closely as the boxes
            problems = _pair_problems(box, mask, oks, conf_a - conf_b, iou=iou, conf=conf)
            rows.append(ParityRow(class_name, ia[r], ib[c], box, mask, conf_a, conf_b, problems, oks=oks))
        rows += unmatched_rows(class_name, a, b, ia, ib, matched, conf=conf, conf_threshold=conf_threshold)
    return tuple(rows)


def _pair_problems(
    box: float, mask: float | None, oks: float | None, conf_change: float, *, iou: float, conf: float
) -> tuple[str, ...]:
    """What is wrong with a matched pair of the two models' predictions (nothing: an empty tuple)."""
    problems = []
    if not meets_minimum(box, iou):
        problems.append("box IoU low")
    if mask is not None and not meets_minimum(mask, iou):
        problems.append("mask IoU low")
    if not within_tolerance(conf_change, conf):
        problems.append("conf differs")
    if oks is not None and not meets_minimum(oks, iou):
        problems.append("keypoint OKS low")
    return tuple(problems)


def _mask_iou(masks_a: list, masks_b: list) -> np.ndarray:
    """Mask IoU, where two empty masks agree perfectly (COCO would say 0)."""
    out = mask_iou(masks_a, masks_b)
    empty_a = np.array([rle_area(rle) == 0 for rle in masks_a], dtype=bool)
    empty_b = np.array([rle_area(rle) == 0 for rle in masks_b], dtype=bool)
    if out.size:
        out[empty_a[:, None] & empty_b[None, :]] = 1.0
    return out


def conf_threshold(predict: dict) -> float:
    """The confidence threshold the predict arguments set (Ultralytics' default when they set none)."""
    value = predict.get("conf")
    return ULTRALYTICS_CONF if value is None else float(value)


def judge_parity(judge: Judge, case: Case, model_spec: str, compare: CompareTo) -> ParityResult:
    """Predict the case's image with both models and compare the predictions.

    Raises:
        HarnessError: a model cannot load or predict, the main model is not the one the file pins, or
        the two models differ in task or classes (then they cannot be exports of the same weights).
    """

    check_model_pin(case, model_spec)  # before the weights are unpickled
    # The case's expected objects play no part: the case's own item judges those.
    model, other = judge.model(model_spec), judge.model(compare.model)
    if other.task != model.task:
        raise CaseFileError(
            case.file,
            f"{other.name} is a {other.task} model but {model.name} is a {model.task} model: not an export of it",
            case=case.name,
            field=compare.source,
        )
    if dict(other.names) != dict(model.names):
        raise CaseFileError(
            case.file,
            f"{other.name} has classes {_class_list(other.names)} but {model.name} has {_class_list(model.names)}: "
            "not an export of it",
            case=case.name,
            field=compare.source,
        )
    predictions = model.predict(case.image, case.predict)
    other_predictions = other.predict(case.image, case.predict)
    threshold = conf_threshold(dict(case.predict))
    rows = compare_predictions(
        predictions,
        other_predictions,
        iou=compare.iou,
        conf=compare.conf,
        conf_threshold=threshold,
        use_masks=model.task == "segment",
    )
    result = ParityResult(case, model.name, other.name, compare, threshold, predictions, other_predictions, rows)
    if not result.passed:
        result = replace(result, static_input=static_onnx_input(compare.model))
    return result


def _class_list(names: dict[int, str]) -> str:
    return "[" + ", ".join(f"{k}: {names[k]}" for k in sorted(names)) + "]"


def static_onnx_input(spec: str) -> str | None:
    """``HxW`` when ``spec`` is an ONNX file whose input has a fixed height and width, else None
    (also when the onnx package is missing or the file cannot be read: this is only a hint)."""
    if not spec.lower().endswith(".onnx") or not Path(spec).is_file():
        return None
    try:
        import onnx  # an optional extra, for a hint only

        graph = onnx.load(spec, load_external_data=False).graph
        dims = graph.input[0].type.tensor_type.shape.dim
        height, width = dims[2], dims[3]
    except Exception:  # any reason not to know is a reason not to give the hint
        return None
    if height.HasField("dim_value") and width.HasField("dim_value"):
        return f"{height.dim_value}x{width.dim_value}"
    return None


def summarize_parity(result: ParityResult) -> str:
    """One line: how many pairs differ, how many predictions have no counterpart, the worst figures
    (for a classify model: the two top classes when they differ, and classes rather than pairs)."""
    a, b = result.predictions, result.compare_predictions
    ranked = a.ranked is not None
    noun = "classes" if ranked else "pairs"
    parts = [top_class_change(a, b)] if ranked and top_classes_differ(a, b) else []
    differing = sum(bool(row.problems) for row in result.rows if row.a is not None and row.b is not None)
    if differing:
        parts.append(f"{differing} of {result.pairs} {noun} differ")
    for side in ("A", "B"):
        alone = sum(f"only in {side}" in row.problems for row in result.rows)
        if alone:
            parts.append(f"{alone} only in {side}")
    figures = []
    if result.worst_iou is not None:
        figures.append(f"worst IoU {result.worst_iou:.4f}")
    if result.max_conf_difference is not None:
        figures.append(f"largest conf difference {result.max_conf_difference:.4f}")
    if result.borderline:
        figures.append(f"{len(result.borderline)} borderline")
    summary = "parity: " + (", ".join(parts) if parts else f"{result.pairs} {noun} match")
    return summary + (f" ({', '.join(figures)})" if figures else "")


def format_parity(result: ParityResult) -> str:
    """The failure report of one parity item: the summary, then one row per pair or leftover (for a
    classify model, one row per class either model ranks)."""
    case = result.case
    compare = result.compare
    lines = [
        summarize_parity(result),
        f"case {case.name!r} in {display_path(case.file)}: A {result.model} against B {result.compare_model}, "
        f"image {display_path(case.image)} ({case.image_size[0]}x{case.image_size[1]})",
        f"each pair needs IoU >= {compare.iou:g} and |conf A - conf B| <= {compare.conf:g}; a prediction of one "
        f"model only is tolerated within {compare.conf:g} of the conf threshold {result.conf_threshold:g}",
    ]
    if result.predictions.ranked is not None:
        return "\n".join([*lines[:2], ranked_rule(compare.conf), *ranked_table(result.rows)])
    rows = sorted(result.rows, key=lambda row: (not row.problems, not row.borderline))
    shown = rows[:ROW_LIMIT]
    if not shown:
        lines.append("  neither model predicted anything")
    elif result.predictions.obb is not None:
        lines += oriented_table(shown, result.predictions, result.compare_predictions)
    else:
        lines += _box_table(result, shown)
    if len(rows) > len(shown):
        lines.append(f"  ... and {len(rows) - len(shown)} more rows")
    if result.static_input:
        lines.append(
            f"hint: {result.compare_model} has a fixed {result.static_input} input, so Ultralytics letterboxes every "
            "image to that size (and ignores the case file's imgsz), where the .pt model letterboxes to the smallest "
            'rectangle; export with dynamic=True to predict the same input (see docs/robustness.md, "Export parity")'
        )
    return "\n".join(lines)


def _box_table(result: ParityResult, shown: list[ParityRow]) -> list[str]:
    """The table of a detect, segment or pose parity report: boxes, box IoU (and mask IoU), confidences."""
    with_masks = any(row.mask_iou is not None for row in result.rows) or result.predictions.masks is not None
    body = []
    for row in shown:
        box = result.predictions.boxes[row.a] if row.a is not None else result.compare_predictions.boxes[row.b]
        verdict = "FAIL: " + ", ".join(row.problems) if row.problems else "borderline" if row.borderline else "ok"
        body.append(
            [
                "-" if row.a is None else str(row.a),
                "-" if row.b is None else str(row.b),
                row.class_name,
                format_box(box),
                "-" if row.box_iou is None else f"{row.box_iou:.4f}",
                *(["-" if row.mask_iou is None else f"{row.mask_iou:.4f}"] if with_masks else []),
                "-" if row.conf_a is None else f"{row.conf_a:.4f}",
                "-" if row.conf_b is None else f"{row.conf_b:.4f}",
                verdict,
            ]
        )
    header = ["A", "B", "class", "box", "box IoU", *(["mask IoU"] if with_masks else []), "conf A", "conf B"]
    return table([*header, "verdict"], body)


def parity_summary(results_by_node: dict[str, ParityResult]) -> list[str]:
    """Lines for the end of the run: per model pair, the cases compared and the worst figures, then
    every borderline prediction (tolerated, but said)."""
    if not results_by_node:
        return []
    groups: dict[tuple[str, str], list[ParityResult]] = {}
    for result in results_by_node.values():
        groups.setdefault((result.model, result.compare_model), []).append(result)
    lines = []
    for (model, compare), results in sorted(groups.items()):
        passed = sum(r.passed for r in results)
        ious = [r.worst_iou for r in results if r.worst_iou is not None]
        confs = [r.max_conf_difference for r in results if r.max_conf_difference is not None]
        borderline = sum(len(r.borderline) for r in results)
        figures = f"{sum(r.pairs for r in results)} pairs"
        if ious:
            figures += f", lowest IoU {min(ious):.6f}"
        if confs:
            figures += f", largest conf difference {max(confs):.6f}"
        lines.append(
            f"parity {model} against {compare}: {len(results)} cases, passed {passed}, failed "
            f"{len(results) - passed}; {figures}; {borderline} borderline"
        )
    for nodeid, result in sorted(results_by_node.items()):
        for row in result.borderline:
            side, other = ("A", result.compare_model) if row.a is not None else ("B", result.model)
            score = row.conf_a if row.a is not None else row.conf_b
            if result.predictions.ranked is not None:  # classify: the threshold is the other's lowest ranked score
                lowest = lowest_ranked_score(result.compare_predictions if side == "A" else result.predictions)
                threshold, found = f"{other}'s lowest ranked score {lowest:.3f}", "does not rank it"
            else:
                threshold, found = f"threshold {result.conf_threshold:g}", "found none"
            lines.append(
                f"  borderline: {nodeid}: {row.class_name} conf {score:.3f} only in {side} "
                f"({threshold}, tolerance {result.compare.conf:g}; {other} {found})"
            )
    return lines
