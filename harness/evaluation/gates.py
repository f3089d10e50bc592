"""Metric gates under the point rule or the significance rule, and what a suite can detect.

Shared by the pytest items (which pass or fail), the run record and ``vision-harness compare``
(which report), so that all three decide a gate the same way. docs/gates.md states the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.core.config import DEFAULT_RESAMPLES, Gate, meets_minimum
from harness.evaluation.bootstrap import lower_bound, upper_bound
from harness.evaluation.metric_table import SuiteMetrics

HEADLINE = ("map50_95", "map50", "map75", "precision", "recall", "f1")


def headline(path: str) -> bool:
    """Whether every run resamples this metric: all but the area-range mAPs and per-tag metrics."""
    return not path.startswith("per_tag.") and not path.endswith(("map_small", "map_medium", "map_large"))


@dataclass(frozen=True)
class GateVerdict:
    """A gate decided: its value, and with a confidence, the one-sided upper bound of the metric."""

    gate: Gate
    value: float | None
    confidence: float | None
    bound: float | None  # None: the point rule decided (no confidence, or too few defined resamples)

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        if meets_minimum(self.value, self.gate.minimum):
            return True
        # The significance rule: fail only when even the upper bound lies under the minimum.
        return meets_minimum(self.bound, self.gate.minimum)


def decide_gate(metrics: SuiteMetrics, gate: Gate, confidence: float | None, resamples: int) -> GateVerdict:
    """The gate under the point rule, or with ``confidence`` (the gate's own wins) the significance rule.

    A gate that asks for confidence resamples even when ``resamples`` is 0 (intervals turned off)."""
    value = metrics.lookup(gate.path)
    confidence = gate.confidence or confidence
    bound = None
    if value is not None and not meets_minimum(value, gate.minimum) and confidence is not None:
        resampled = metrics.bootstrap(resamples or DEFAULT_RESAMPLES, full=not headline(gate.path))
        values = resampled.values.get(gate.path)
        bound = upper_bound(values, confidence)
    return GateVerdict(gate, value, confidence, bound)


def spread(values: np.ndarray | None, confidence: float) -> float | None:
    """How far the one-sided lower bound at ``confidence`` lies below the middle of the resamples:
    a drop smaller than this is within the suite's noise."""
    if values is None:
        return None
    bound = lower_bound(values, confidence)
    return None if bound is None else float(np.nanmedian(values)) - bound


def detectable(metrics: SuiteMetrics, resamples: int, confidence: float, gates: tuple[Gate, ...] = ()) -> dict:
    """Per headline and gated metric: the smallest drop the suite flags at ``confidence`` with an
    allowed drop of 0, from the metric's own bootstrap spread (no pairing: see docs/gates.md)."""
    values = metrics.bootstrap(resamples, full=not all(headline(g.path) for g in gates)).values
    paths = [f"{kind}.{name}" for kind in ("box", "mask") for name in HEADLINE] + [g.path for g in gates]
    out = {}
    for path in paths:
        found = spread(values.get(path), confidence)
        if found is not None:
            out[path] = found
    return out
