"""Confidence intervals for suite metrics: a seeded bootstrap over cases, paired comparisons, and the
smallest drop a suite can detect (docs/gates.md).

The case is the unit: a resample draws ``n`` cases of the suite with replacement (a case drawn
twice counts twice), and every metric is recomputed on it: mAP through :mod:`resampled_map` (COCO's
accumulate on weighted images), precision / recall / F1 from per-case counts. Intervals are
percentile intervals of ``DEFAULT_RESAMPLES`` (core.config) resamples drawn from a fixed seed, so two runs on the
same verdicts give the same intervals. A paired comparison draws the same case indices for both
sides (cases matched by name) and takes the interval of the difference.

What the bootstrap needs of a case (:data:`CaseSample`) is plain JSON, so a baseline file keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.core.config import DEFAULT_RESAMPLES
from harness.evaluation.resampled_map import AREAS, ResampledMap

SEED = 19  # fixed: the same verdicts give the same intervals on every run
METHOD = "percentile"
_CHUNK = 1 << 18  # resamples x detections per block: small enough for the CPU cache, and bounded memory
# One case: {"counts": {kind: {class or "": [found, expected, predicted]}},
#            "coco": {kind: {"class/area": ImageGroup}},
#            "shares": {path: 0 or 1}}  (a metric that is the share of cases scoring 1: label.top1)
CaseSample = dict[str, Any]
COUNT_NAMES = ("precision", "recall", "f1")


def sample_problem(sample: Any) -> str | None:
    """What is wrong with a :data:`CaseSample` read from a file (a baseline), or None."""
    if not isinstance(sample, dict) or not isinstance(sample.get("counts"), dict):
        return "expected {counts: ..., coco: ...}"
    for kind, table in sample["counts"].items():
        if not isinstance(table, dict) or not all(_counts_ok(row) for row in table.values()):
            return f"counts.{kind}: expected class -> [found, expected, predicted]"
    shares = sample.get("shares", {})
    if not isinstance(shares, dict) or not all(value in (0, 1) and type(value) is int for value in shares.values()):
        return "shares: expected metric -> 0 or 1"
    coco = sample.get("coco", {})
    if not isinstance(coco, dict):
        return "coco: expected a mapping"
    for kind, groups in coco.items():
        if not isinstance(groups, dict):
            return f"coco.{kind}: expected a mapping"
        for key, group in groups.items():
            if key.rpartition("/")[2] not in AREAS or not _group_ok(group):
                return f"coco.{kind}.{key}: expected [ground truth, scores, matched bits, ignored bits]"
    return None


def _counts_ok(row: Any) -> bool:
    return isinstance(row, list) and len(row) == 3 and all(type(v) is int and v >= 0 for v in row)


def _group_ok(group: Any) -> bool:
    if not (isinstance(group, list) and len(group) == 4 and type(group[0]) is int and group[0] >= 0):
        return False
    scores, matched, ignored = group[1:]
    lists = all(isinstance(v, list) for v in (scores, matched, ignored))
    return (
        lists
        and len(scores) == len(matched) == len(ignored)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores)
        and all(type(v) is int and 0 <= v < 1 << 10 for v in matched + ignored)
    )


def draw(cases: int, resamples: int, seed: int = SEED) -> np.ndarray:
    """Resamples x cases: how often each case is drawn in each resample (multinomial counts)."""
    picks = np.random.default_rng(seed).integers(0, cases, size=(resamples, cases))
    offsets = (np.arange(resamples) * cases)[:, None]
    return np.bincount((picks + offsets).ravel(), minlength=resamples * cases).reshape(resamples, cases)


def resampled_values(
    samples: Sequence[CaseSample], weights: np.ndarray, *, areas: Sequence[str] = AREAS, counts: bool = True
) -> dict[str, np.ndarray]:
    """Every metric of ``samples`` under each row of ``weights`` (resamples x cases), under its gate
    path (``box.map50``, ``per_class.circle.mask.f1``); NaN where a resample leaves it undefined.
    Only the mAP of ``areas`` (``all``: mAP50-95, 50, 75), and precision, recall, F1 with ``counts``."""
    out: dict[str, np.ndarray] = {}
    kinds = sorted({kind for sample in samples for kind in sample.get("counts", {})})
    if counts:
        out |= _share_values(samples, weights)
    for kind in kinds:
        coco = [sample.get("coco", {}).get(kind, {}) for sample in samples]
        # COCO's keypoint evaluation has no "small" range (a keypoint needs room to be placed).
        kind_areas = tuple(area for area in areas if kind != "pose" or area != "small")
        if any(coco) and kind_areas:
            for name, values in _map_values(ResampledMap(coco, kind_areas), weights).items():
                scope, _, metric = name.rpartition("/")
                out[f"per_class.{scope}.{kind}.{metric}" if scope else f"{kind}.{metric}"] = values
        if not counts:
            continue
        counts_of = [sample["counts"].get(kind, {}) for sample in samples]
        for scope in sorted({scope for case in counts_of for scope in case}):
            table = np.array([case.get(scope, (0, 0, 0)) for case in counts_of], dtype=float)
            for metric, values in _count_values(weights @ table).items():
                out[f"per_class.{scope}.{kind}.{metric}" if scope else f"{kind}.{metric}"] = values
    return out


def _map_values(coco: ResampledMap, weights: np.ndarray) -> dict[str, np.ndarray]:
    """In blocks of resamples, in float32 (exact counts; precision to about 1e-7)."""
    block = max(1, _CHUNK // max(1, coco.detections))
    parts = [coco.values(weights[start : start + block], np.float32) for start in range(0, len(weights), block)]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _share_values(samples: Sequence[CaseSample], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics that are the share of cases scoring 1 (``label.top1``), per resample."""
    paths = sorted({path for sample in samples for path in sample.get("shares", {})})
    drawn = weights.sum(axis=1)
    out = {}
    for path in paths:
        column = np.array([sample.get("shares", {}).get(path, 0) for sample in samples], dtype=float)
        out[path] = np.where(drawn > 0, (weights @ column) / np.maximum(drawn, 1), np.nan)
    return out


def _count_values(totals: np.ndarray) -> dict[str, np.ndarray]:
    found, expected, predicted = totals.T
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, found / predicted, np.nan)
        recall = np.where(expected > 0, found / expected, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        f1 = np.where(np.isnan(precision) | np.isnan(recall), np.nan, f1)
    return {"precision": precision, "recall": recall, "f1": f1}


def interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """The two-sided percentile interval of the defined resample values; None when fewer than
    half of the resamples define the metric (a class or tag that most resamples leave out)."""
    defined = values[~np.isnan(values)]
    if defined.size * 2 < values.size or not defined.size:
        return None
    tail = (1 - confidence) / 2
    low, high = np.quantile(defined, [tail, 1 - tail])
    return float(low), float(high)


def lower_bound(values: np.ndarray, confidence: float) -> float | None:
    """The one-sided lower bound at ``confidence``: the ``1 - confidence`` quantile."""
    defined = values[~np.isnan(values)]
    if defined.size * 2 < values.size or not defined.size:
        return None
    return float(np.quantile(defined, 1 - confidence))


def upper_bound(values: np.ndarray | None, confidence: float) -> float | None:
    """The one-sided upper bound at ``confidence``: the ``confidence`` quantile."""
    bound = None if values is None else lower_bound(-values, confidence)
    return None if bound is None else -bound


@dataclass(frozen=True)
class Bootstrap:
    """The resampled metrics of one suite: per gate path, one value per resample."""

    values: dict[str, np.ndarray]
    resamples: int
    seed: int
    cases: int

    def intervals(self, confidence: float) -> dict[str, tuple[float, float]]:
        out = {}
        for path, values in self.values.items():
            found = interval(values, confidence)
            if found is not None:
                out[path] = found
        return out

    def description(self, confidence: float) -> dict[str, Any]:
        """What the run record says of how the intervals were made."""
        return {
            "method": METHOD,
            "resamples": self.resamples,
            "seed": self.seed,
            "confidence": confidence,
            "unit": "case",
        }


def bootstrap(
    samples: Sequence[CaseSample],
    resamples: int = DEFAULT_RESAMPLES,
    *,
    tags: Mapping[str, Sequence[int]] | None = None,
    seed: int = SEED,
    areas: Sequence[str] = AREAS,
) -> Bootstrap:
    """Resample the suite's cases ``resamples`` times; ``tags`` maps a tag to its cases' positions,
    whose metrics are resampled within those cases (``per_tag.TAG.box.map50`` ...)."""
    values = resampled_values(samples, draw(len(samples), resamples, seed), areas=areas)
    values |= tag_values(samples, resamples, tags or {}, seed)
    return Bootstrap(values, resamples, seed, len(samples))


HEADLINE_AREAS = ("all",)  # what every run resamples; the area ranges and tags when asked for
OTHER_AREAS = tuple(area for area in AREAS if area not in HEADLINE_AREAS)


def headline_bootstrap(samples: Sequence[CaseSample], resamples: int, seed: int = SEED) -> Bootstrap:
    """The bootstrap of every metric but the area-range mAPs and the per-tag metrics (half the work,
    or less): :func:`complete` adds them, from the same draws."""
    values = resampled_values(samples, draw(len(samples), resamples, seed), areas=HEADLINE_AREAS)
    return Bootstrap(values, resamples, seed, len(samples))


def complete(found: Bootstrap, samples: Sequence[CaseSample], tags: Mapping[str, Sequence[int]]) -> None:
    """Add the area-range mAPs and the per-tag metrics to a :func:`headline_bootstrap`, once."""
    if any(path.endswith(".map_large") or path.startswith("per_tag.") for path in found.values):
        return
    weights = draw(len(samples), found.resamples, found.seed)
    found.values.update(resampled_values(samples, weights, areas=OTHER_AREAS, counts=False))
    found.values.update(tag_values(samples, found.resamples, tags, found.seed))


def tag_values(
    samples: Sequence[CaseSample], resamples: int, tags: Mapping[str, Sequence[int]], seed: int = SEED
) -> dict[str, np.ndarray]:
    """The per-tag metrics (``per_tag.TAG.box.map50``), each tag's cases resampled on their own."""
    out = {}
    for tag, positions in tags.items():
        subset = [samples[i] for i in positions]
        for path, values in resampled_values(subset, draw(len(subset), resamples, seed)).items():
            if not path.startswith("per_class."):
                out[f"per_tag.{tag}.{path}"] = values
    return out


@dataclass(frozen=True)
class Difference:
    """One metric of two runs on the same cases: ``now - then``, and the paired resampled changes."""

    name: str
    then: float
    now: float | None
    changes: np.ndarray  # resampled now - then, the same cases drawn on both sides

    @property
    def change(self) -> float:
        return (self.now if self.now is not None else 0.0) - self.then

    def interval(self, confidence: float) -> tuple[float, float] | None:
        return interval(self.changes, confidence)

    def drop_lower_bound(self, confidence: float) -> float | None:
        """The drop (``then - now``) is at least this with ``confidence`` (one-sided)."""
        return lower_bound(-self.changes, confidence)

    def significant(self, max_drop: float, confidence: float) -> bool:
        """The significance rule: the drop exceeds ``max_drop`` with ``confidence``."""
        bound = self.drop_lower_bound(confidence)
        return bound is not None and bound > max_drop

    def spread(self, confidence: float) -> float | None:
        """How far below the observed drop its one-sided lower bound lies (the noise to beat)."""
        bound = self.drop_lower_bound(confidence)
        return None if bound is None else -self.change - bound


def paired_differences(
    then: Sequence[CaseSample],
    now: Sequence[CaseSample],
    then_metrics: Mapping[str, float],
    now_metrics: Mapping[str, float],
    resamples: int,
    *,
    tags: Mapping[str, Sequence[int]] | None = None,
    seed: int = SEED,
    areas: Sequence[str] = AREAS,
) -> list[Difference]:
    """Per metric of ``then_metrics``: the paired bootstrap of ``now - then``, worst change first.

    ``then[i]`` and ``now[i]`` are the same case. The same weights resample both sides."""
    before = bootstrap(then, resamples, tags=tags, seed=seed, areas=areas).values
    after = bootstrap(now, resamples, tags=tags, seed=seed, areas=areas).values
    missing = np.full(resamples, np.nan)
    out = []
    for name, value in then_metrics.items():
        changes = after.get(name, missing) - before.get(name, missing)
        out.append(Difference(name, value, now_metrics.get(name), changes))
    return sorted(out, key=lambda d: d.change)


def detectable_drop(spread: float | None, max_drop: float) -> float | None:
    """The smallest true drop the significance rule flags: the allowed drop plus the noise."""
    return None if spread is None else max_drop + spread


def cases_to_halve(cases: int) -> int:
    """Roughly how many more cases halve the noise: the spread shrinks with the square root of the
    case count, so 4x the cases."""
    return 3 * cases
