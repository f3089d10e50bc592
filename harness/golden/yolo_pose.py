"""Ultralytics pose labels: ``class cx cy w h`` then ``kpt_shape[0]`` keypoints of ``x y`` or ``x y v``,
normalised to [0, 1], as a pose case's object (``box`` and ``keypoints`` in pixels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.casefile.edit import number
from harness.core.errors import DatasetError


def kpt_shape(data_yaml: Path, value: Any) -> tuple[int, int] | None:
    """data.yaml's ``kpt_shape`` ([keypoints, 2 or 3]), or None for a dataset without keypoints."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or value[0] < 1
        or value[1] not in (2, 3)
    ):
        raise DatasetError(data_yaml, "kpt_shape", f"expected [keypoints, 2 or 3], got {value!r}")
    return value[0], value[1]


def pose_object(
    label: Path, where: str, coords: list[float], size: tuple[int, int], shape: tuple[int, int]
) -> dict[str, Any]:
    """One label line's box and keypoints in pixels (``coords``: the line's numbers after the class)."""
    count, dims = shape
    if len(coords) != 4 + count * dims:
        raise DatasetError(
            label, where, f"expected 4 box numbers and {count} keypoints of {dims} (kpt_shape), got {len(coords)}"
        )
    places = coords[:4] + [v for k in range(count) for v in coords[4 + k * dims : 4 + k * dims + 2]]
    if min(places) < -0.01 or max(places) > 1.01:
        raise DatasetError(label, where, "coordinates must be normalised to [0, 1]; these look like pixels")
    width, height = size
    cx, cy, w, h = (min(max(v, 0.0), 1.0) for v in coords[:4])
    box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
    keypoints = []
    for k in range(count):
        x, y, *rest = coords[4 + k * dims : 4 + (k + 1) * dims]
        # Ultralytics' rule for [K, 2]: a keypoint at (0, 0) is not labelled; [K, 3] says it with v.
        v = int(rest[0]) if rest else (0 if x == 0 and y == 0 else 2)
        if v not in (0, 1, 2) or (rest and rest[0] != v):
            raise DatasetError(label, where, f"keypoint {k}: visibility must be 0, 1 or 2, got {rest[0]:g}")
        x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)  # a 1% overshoot clipped, as for boxes
        keypoints.append([number(x * width), number(y * height), v] if v else [0, 0, 0])
    return {
        "box": [number(min(max(v, 0.0), limit)) for v, limit in zip(box, (width, height) * 2, strict=True)],
        "keypoints": keypoints,
    }
