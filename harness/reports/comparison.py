"""``vision-harness compare``: two models on the same cases, or two run records, as text.

Two models: each suite's metrics side by side with the paired bootstrap of the change (the same
cases drawn for both models), whether a drop is significant, what the suite can detect, and the
per-case worst IoU. Two run records (``--harness-json`` of, say, a CPU and a CUDA run): the metric
changes, and the cases whose verdict flips, with each run's IoU margin to the threshold, so that
thresholds can be set with evidence. See docs/gates.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.core.text import table
from harness.evaluation.bootstrap import HEADLINE_AREAS, cases_to_halve, detectable_drop, paired_differences
from harness.evaluation.suites import SuiteResult
from harness.reports.run_record import verdict_record

HEADLINE = ("map50_95", "map50", "map75", "precision", "recall", "f1")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _change(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{b - a:+.4f}"


def _headline(values: dict[str, float]) -> list[str]:
    return [f"{kind}.{name}" for kind in ("box", "mask", "pose") for name in HEADLINE if f"{kind}.{name}" in values]


def model_comparison(
    a: SuiteResult, b: SuiteResult, names: Sequence[str], *, resamples: int, confidence: float, max_drop: float
) -> list[str]:
    """One suite judged by two models: metrics with the paired change, detectability, then cases."""
    lines = []
    metrics_a, metrics_b = a.metrics.values, b.metrics.values
    headline = _headline(metrics_a | metrics_b)
    differences = {}
    if resamples:
        samples = a.metrics.headline_samples, b.metrics.headline_samples
        found = paired_differences(*samples, metrics_a, metrics_b, resamples, areas=HEADLINE_AREAS)
        differences = {d.name: d for d in found}
    level = f"{confidence:.0%}"
    rows = []
    for key in headline:
        va, vb = metrics_a.get(key), metrics_b.get(key)
        d = differences.get(key)
        interval = d.interval(confidence) if d is not None else None
        shown = "-" if interval is None else f"[{interval[0]:+.4f}, {interval[1]:+.4f}]"
        mark = ""
        if d is not None and d.significant(max_drop, confidence):
            mark = f"significant drop > {max_drop:g}"
        elif d is not None and d.change < -max_drop:
            mark = "drop within noise"
        rows.append([key, _number(va), _number(vb), _change(va, vb), shown, mark])
    lines += table(["metric", names[0], names[1], "change", f"{level} interval (paired)", ""], rows)
    if differences:
        lines.append(
            f"what this suite can detect ({len(a.verdicts)} cases, {level}, allowed drop {max_drop:g}; paired "
            f"bootstrap of the change, {resamples} resamples; about {cases_to_halve(len(a.verdicts))} more cases "
            "halve the noise):"
        )
        rows = []
        for key in headline:
            spread = differences[key].spread(confidence) if key in differences else None
            smallest = detectable_drop(spread, max_drop)
            if smallest is not None:
                halved = max_drop + spread / 2
                rows.append([key, f"{smallest:.4f}", f"{halved:.4f}"])
        lines += table(["metric", "smallest drop flagged", f"with {4 * len(a.verdicts)} cases"], rows)
    lines += _worst_iou_table(a, b, names)
    lines += case_flips([_case_entry(v) for v in a.verdicts], [_case_entry(v) for v in b.verdicts], names)
    return lines


def _worst_iou_table(a: SuiteResult, b: SuiteResult, names: Sequence[str]) -> list[str]:
    """Every case's worst IoU under both models, the largest drop first."""
    pairs = sorted(
        zip(a.verdicts, b.verdicts, strict=True),
        key=lambda pair: (pair[1].worst_iou or 0.0) - (pair[0].worst_iou or 0.0) if pair[0].objects else 1.0,
    )
    rows = []
    for va, vb in pairs:
        verdicts = f"{'pass' if va.passed else 'FAIL'} -> {'pass' if vb.passed else 'FAIL'}"
        rows.append(
            [va.case.name, _number(va.worst_iou), _number(vb.worst_iou), _change(va.worst_iou, vb.worst_iou), verdicts]
        )
    return table(["case", f"worst IoU {names[0]}", f"worst IoU {names[1]}", "change", "verdicts"], rows)


def _case_entry(verdict) -> dict[str, Any]:
    return {"suite": "", "name": verdict.case.name, "verdict": verdict_record(verdict)}


def margin(verdict: dict[str, Any] | None) -> float | None:
    """The IoU margin of a case: over its checked objects, the least IoU minus its threshold (a
    missed object counts its threshold below zero); negative: the case fails on IoU."""
    if verdict is None:
        return None
    margins = []
    for obj in verdict["objects"]:
        if obj["crowd"]:
            continue
        for value, minimum in ((obj["box_iou"], obj["min_box_iou"]), (obj["mask_iou"], obj["min_mask_iou"])):
            if minimum is not None:
                margins.append((value or 0.0) - minimum)
    return min(margins) if margins else None


def case_flips(cases_a: list[dict], cases_b: list[dict], names: Sequence[str]) -> list[str]:
    """The cases (record entries, matched by suite and name) whose verdict differs between the runs,
    with each run's IoU margin; then how close to the line the remaining cases are."""
    by_key = {(c["suite"], c["name"]): c for c in cases_b}
    flips, steady = [], []
    for case in cases_a:
        other = by_key.get((case["suite"], case["name"]))
        if other is None or case["verdict"] is None or other["verdict"] is None:
            continue
        passed = case["verdict"]["passed"], other["verdict"]["passed"]
        margins = margin(case["verdict"]), margin(other["verdict"])
        row = [
            printable(f"{case['suite']}::{case['name']}" if case["suite"] else case["name"]),
            " -> ".join("pass" if p else "FAIL" for p in passed),
            _signed(margins[0]),
            _signed(margins[1]),
        ]
        (flips if passed[0] != passed[1] else steady).append((row, margins))
    lines = [f"cases whose verdict flips: {len(flips)} of {len(flips) + len(steady)}"]
    header = ["case", "verdicts", f"IoU margin {names[0]}", f"IoU margin {names[1]}"]
    if flips:
        lines += table(header, [row for row, _ in flips])
    moved = [m for _, (x, y) in steady if x is not None and y is not None for m in [abs(y - x)]]
    if moved:
        lines.append(f"largest margin change among the other cases: {max(moved):.4f}")
    return lines


def printable(text: str) -> str:
    """Text from a run record as it may be printed: a forged record's control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def record_comparison(a: dict[str, Any], b: dict[str, Any], names: Sequence[str]) -> list[str]:
    """Two run records of the same cases: per suite, the metric changes (each side's interval
    beside it), then the verdict flips with their IoU margins."""
    lines = []
    suites_b = {s["key"]: s for s in b["suites"]}
    for suite in a["suites"]:
        other = suites_b.get(suite["key"])
        if other is None or not suite["complete"] or not other["complete"]:
            continue
        lines.append(f"\n{printable(suite['key'])} ({suite['cases']} cases): {names[0]} -> {names[1]}")
        rows = []
        for key in _headline(suite["metrics"] | other["metrics"]):
            va, vb = suite["metrics"].get(key), other["metrics"].get(key)
            row = [key, _number(va), _number(vb), _change(va, vb), _interval(suite, key), _interval(other, key)]
            rows.append(row)
        lines += table(["metric", names[0], names[1], "change", f"interval {names[0]}", f"interval {names[1]}"], rows)
    lines.append("")
    lines += case_flips(a["cases"], b["cases"], names)
    return lines


def _interval(suite: dict[str, Any], key: str) -> str:
    found = suite.get("intervals", {}).get(key)  # records written before intervals have none
    return "-" if found is None else f"[{found[0]:.4f}, {found[1]:.4f}]"
