"""Export parity for oriented-box (obb) and classify models.

obb: the two models' oriented boxes are paired per class and one-to-one by their polygon IoU (shapely,
harness/core/oriented.py), as detect models' boxes are by box IoU; every pair must reach the IoU
minimum (``iou``) and its confidences differ by at most ``conf``; a box of one model only fails
unless it is borderline (within ``conf`` of the predict ``conf`` threshold).

classify: the two models' ranked classes (the five best each, harness/evaluation/task_results.py)
must agree: the same top class, without tolerance (a different top class is a different answer),
and every class both rank with scores within ``conf``. A class only one model ranks fails unless its
score is at most ``conf`` above the other model's lowest ranked score (the other may rank it just
below its last place): then it is borderline, tolerated and said.
"""

from __future__ import annotations

from dataclasses import replace

from harness.core.config import meets_minimum, within_tolerance
from harness.core.oriented import oriented_iou
from harness.core.text import table
from harness.evaluation.predictions import Predictions
from harness.evaluation.task_text import format_oriented_box
from harness.robustness.parity_pairs import (
    ParityRow,
    assign_pairs,
    class_indices,
    confidence_penalty,
    identical_agree,
    leftover_rows,
    unmatched_rows,
)


def compare_oriented(
    a: Predictions, b: Predictions, *, iou: float, conf: float, conf_threshold: float
) -> tuple[ParityRow, ...]:
    """Match two obb models' oriented boxes one-to-one per class by polygon IoU and judge every pair
    and every leftover. Rows come in class order, pairs first (by A's index), then A's leftovers, then B's."""
    corners_a, corners_b = a.oriented_corners(), b.oriented_corners()
    rows: list[ParityRow] = []
    for class_name, ia, ib in class_indices(a, b):
        overlaps = identical_agree(oriented_iou(corners_a[ia], corners_b[ib]), corners_a[ia], corners_b[ib])
        matched = assign_pairs(overlaps - confidence_penalty(a, b, ia, ib), overlaps > 0)
        for r, c in sorted(matched.items()):
            overlap, conf_a, conf_b = float(overlaps[r, c]), float(a.scores[ia[r]]), float(b.scores[ib[c]])
            problems = []
            if not meets_minimum(overlap, iou):
                problems.append("obb IoU low")
            if not within_tolerance(conf_a - conf_b, conf):
                problems.append("conf differs")
            row = ParityRow(class_name, ia[r], ib[c], None, None, conf_a, conf_b, tuple(problems), obb_iou=overlap)
            rows.append(row)
        rows += unmatched_rows(class_name, a, b, ia, ib, matched, conf=conf, conf_threshold=conf_threshold)
    return tuple(rows)


def compare_ranked(a: Predictions, b: Predictions, *, conf: float) -> tuple[ParityRow, ...]:
    """Compare two classify models' ranked classes: one row per class either ranks, in A's order, then
    the classes only B ranks. The two top classes' rows fail "top class differs" when they differ."""
    ranked_a, ranked_b = a.ranked or (), b.ranked or ()
    place_b = {name: place for place, (name, _) in enumerate(ranked_b)}
    place_a = {name: place for place, (name, _) in enumerate(ranked_a)}
    rows: list[ParityRow] = []
    for place, (name, score_a) in enumerate(ranked_a):
        if name not in place_b:
            # B's score for it is at most B's lowest ranked one.
            rows += leftover_rows(name, "A", [(place, score_a)], conf=conf, threshold=lowest_ranked_score(b))
            continue
        score_b = ranked_b[place_b[name]][1]
        problems = () if within_tolerance(score_a - score_b, conf) else ("conf differs",)
        rows.append(ParityRow(name, place, place_b[name], None, None, score_a, score_b, problems))
    for place, (name, score_b) in enumerate(ranked_b):
        if name not in place_a:
            rows += leftover_rows(name, "B", [(place, score_b)], conf=conf, threshold=lowest_ranked_score(a))
    if top_classes_differ(a, b):
        rows = [_top_class_differs(row) if 0 in (row.a, row.b) else row for row in rows]
    return tuple(rows)


def lowest_ranked_score(predictions: Predictions) -> float:
    """The lowest score a classify model ranks (0 when it ranks nothing): any class it leaves out scored
    at most that."""
    return predictions.ranked[-1][1] if predictions.ranked else 0.0


def _top_class_differs(row: ParityRow) -> ParityRow:
    return replace(row, problems=("top class differs", *row.problems), borderline=False)


def top_classes_differ(a: Predictions, b: Predictions) -> bool:
    """Whether two classify models' top classes differ (one ranking nothing and the other something counts)."""
    top_a = a.ranked[0][0] if a.ranked else None
    top_b = b.ranked[0][0] if b.ranked else None
    return top_a != top_b


def top_class_change(a: Predictions, b: Predictions) -> str:
    """``top class circle (0.91) in A, star (0.55) in B`` for the summary of a failing classify parity."""
    shown = [f"{r[0][0]} ({r[0][1]:.2f})" if r else "none" for r in (a.ranked, b.ranked)]
    return f"top class {shown[0]} in A, {shown[1]} in B"


def ranked_rule(conf: float) -> str:
    """The rule line of a classify parity report."""
    return (
        f"the top class must be the same and each class both models rank needs |score A - score B| <= {conf:g}; "
        f"a class only one model ranks is tolerated within {conf:g} of the other's lowest ranked score"
    )


def ranked_table(rows: tuple[ParityRow, ...]) -> list[str]:
    """A classify parity report's table: every class either model ranks, with its place and score in each."""
    body = []
    for row in rows:
        verdict = "FAIL: " + ", ".join(row.problems) if row.problems else "borderline" if row.borderline else "ok"
        body.append(
            [
                "-" if row.a is None else str(row.a + 1),
                "-" if row.b is None else str(row.b + 1),
                row.class_name,
                "-" if row.conf_a is None else f"{row.conf_a:.4f}",
                "-" if row.conf_b is None else f"{row.conf_b:.4f}",
                verdict,
            ]
        )
    if not body:
        return ["  neither model ranked any class"]
    return table(["rank A", "rank B", "class", "score A", "score B", "verdict"], body)


def oriented_table(rows: list[ParityRow], a: Predictions, b: Predictions) -> list[str]:
    """An obb parity report's table: one line per pair or leftover, its oriented box as A (or B) predicted it."""
    corners_a, corners_b = a.oriented_corners(), b.oriented_corners()
    body = []
    for row in rows:
        corners = corners_a[row.a] if row.a is not None else corners_b[row.b]
        verdict = "FAIL: " + ", ".join(row.problems) if row.problems else "borderline" if row.borderline else "ok"
        body.append(
            [
                "-" if row.a is None else str(row.a),
                "-" if row.b is None else str(row.b),
                row.class_name,
                format_oriented_box(corners.tolist()),
                "-" if row.obb_iou is None else f"{row.obb_iou:.4f}",
                "-" if row.conf_a is None else f"{row.conf_a:.4f}",
                "-" if row.conf_b is None else f"{row.conf_b:.4f}",
                verdict,
            ]
        )
    return table(["A", "B", "class", "obb", "obb IoU", "conf A", "conf B", "verdict"], body)
