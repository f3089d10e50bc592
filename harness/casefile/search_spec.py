"""The ``search:`` key of a case file: the ranges to explore, their grid, and what a point means.

The search itself (hypothesis exploring the ranges, shrinking a break) is harness/robustness/search.py.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.config import Thresholds
from harness.core.transforms import FLIPS, STEP_KINDS, Step, Transform, parse_step

SEARCH_ITEM = "search"  # the item of a case's search is CASE[search]


# kind: (identity value, grid step). The identity value leaves the image as it is, and the step is
# left out of the transform there; jpeg has none (quality 100 still re-encodes), so it is always applied.
GRID: dict[str, tuple[float, float]] = {
    "scale": (1.0, 0.05),  # factor of each side
    "crop": (1.0, 0.05),  # share of each side kept, centred
    "pad": (0.0, 1.0),  # pixels on every side
    "brightness": (1.0, 0.05),  # factor
    "contrast": (1.0, 0.05),  # factor
    "blur": (0.0, 0.25),  # Gaussian sigma, pixels
    "noise": (0.0, 1.0),  # Gaussian sigma, grey levels
    "jpeg": (100.0, -5.0),  # quality 100, 95, 90, ...
}


SEARCH_KINDS = tuple(kind for kind in STEP_KINDS if kind in GRID)  # geometric first, then photometric


THRESHOLD_KEYS = ("box_iou", "mask_iou", "max_extra")


DEFAULT_EXAMPLES = 25  # --harness-search-examples


@dataclass(frozen=True)
class SearchRange:
    """One searched parameter: grid steps ``low`` to ``high`` (whole numbers, 0 the identity value)."""

    kind: str
    low: int
    high: int

    def value(self, steps: int) -> float:
        identity, unit = GRID[self.kind]
        return round(identity + steps * unit, 6)  # 0.6, not 0.6000000000000001: the node ids and cache keys

    @property
    def nearest(self) -> int:
        """The steps closest to the identity within the range: where shrinking heads."""
        return min(max(0, self.low), self.high)

    def step(self, steps: int) -> Step | None:
        """The transform step at ``steps``; None at the identity value (the image is left as it is)."""
        if steps == 0 and self.kind != "jpeg":
            return None
        return Step(self.kind, self.value(steps))


Point = tuple[int, ...]  # grid steps, one per SearchSpec.ranges


@dataclass(frozen=True)
class SearchSpec:
    """A case's ``search:``: ranges in SEARCH_KINDS order, and the thresholds its variants are judged
    with (None keeps each object's own, as for ``transforms:``)."""

    ranges: tuple[SearchRange, ...]
    box_iou: float | None = None
    mask_iou: float | None = None
    max_extra: int | None = None
    where: str = "search"

    def transform(self, point: Point) -> Transform | None:
        """The image transform at ``point``; None when every parameter is at its identity value."""
        steps = tuple(step for r, k in zip(self.ranges, point, strict=True) if (step := r.step(k)) is not None)
        return Transform(steps) if steps else None

    def describe(self, point: Point) -> str:
        """``brightness=0.55, noise=0``: every searched parameter, identity values included."""
        return ", ".join(f"{r.kind}={r.value(k):g}" for r, k in zip(self.ranges, point, strict=True))


def parse_search(raw: Any, error: Callable[[str, str], Exception], where: str = "search") -> tuple | None:
    """``search:``: ``{KIND: [low, high], ...}`` plus optional ``box_iou``, ``mask_iou``, ``max_extra``.

    Returns the ranges and the threshold overrides, or None for ``{}`` (no search). Each end of a range
    is checked as a transform step's value is; the range keeps the grid values within it.
    """
    if not isinstance(raw, dict):
        raise error(where, "expected a mapping such as {brightness: [0.4, 1.6], noise: [0, 30]}, or {} for none")
    if not raw:
        return None
    ranges: dict[str, SearchRange] = {}
    overrides: dict[str, Any] = {}
    for key, value in raw.items():
        here = f"{where}.{key}"
        if key in ("box_iou", "mask_iou"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise error(here, f"expected a number in [0, 1], got {value!r}")
            overrides[key] = float(value)
        elif key == "max_extra":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise error(here, f"expected a whole number >= 0, got {value!r}")
            overrides[key] = value
        elif key in FLIPS:
            raise error(here, f"{key} has no range to search: judge it with `transforms: [{key}]`")
        elif key in GRID:
            ranges[key] = _range(key, value, error, here)
        else:
            hint = difflib.get_close_matches(str(key), (*SEARCH_KINDS, *THRESHOLD_KEYS), n=1)
            raise error(
                here,
                f"unknown key; did you mean {hint[0]!r}?"
                if hint
                else f"unknown key; searchable: {', '.join(SEARCH_KINDS)}",
            )
    if not ranges:
        raise error(where, "thresholds but nothing to search: add a range of one of " + ", ".join(SEARCH_KINDS))
    return tuple(ranges[kind] for kind in SEARCH_KINDS if kind in ranges), overrides


def _range(kind: str, value: Any, error: Callable[[str, str], Exception], where: str) -> SearchRange:
    if not isinstance(value, list) or len(value) != 2:
        raise error(where, f"expected a range [low, high], got {value!r}")
    low, high = (parse_step(kind, end, error, f"{where}[{i}]").value for i, end in enumerate(value))
    if low > high:
        raise error(where, f"low {value[0]} is above high {value[1]}")
    identity, unit = GRID[kind]
    ends = sorted(((low - identity) / unit, (high - identity) / unit))
    first, last = math.ceil(ends[0] - 1e-9), math.floor(ends[1] + 1e-9)  # the grid points within the range
    if first > last:
        raise error(where, f"no value of the {kind} grid ({identity:g} + k * {unit:g}) lies in {value}")
    return SearchRange(kind, first, last)


def search_spec(parsed: tuple | None, thresholds: Thresholds) -> SearchSpec | None:
    """The search of a case with these thresholds (``robust_*`` apply unless the search sets its own)."""
    if parsed is None:
        return None
    ranges, overrides = parsed
    return SearchSpec(
        ranges,
        box_iou=overrides.get("box_iou", thresholds.robust_box_iou),
        mask_iou=overrides.get("mask_iou", thresholds.robust_mask_iou),
        max_extra=overrides.get("max_extra"),
    )


def is_search_node(nodeid: str) -> bool:
    """Whether a node id is a search item's (case names cannot hold ``[``, so nothing else ends so)."""
    return nodeid.endswith(f"[{SEARCH_ITEM}]")
