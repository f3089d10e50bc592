"""COCO keypoint annotations: ``keypoints`` (flat ``x, y, v`` triples), ``num_keypoints`` and the
``area`` OKS divides by, to and from a pose case's objects (``keypoints``, ``area``). See docs/pose.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.casefile.edit import number


def keypoints_from_annotation(error, where: str, ann: Mapping, width: int, height: int) -> dict[str, Any]:
    """An annotation's pose fields in case-file form (``keypoints``, ``area``); {} without keypoints.

    ``error(where, message)`` makes the DatasetError to raise. COCO's ``area`` comes along as ``area:``,
    since it is what COCO's keypoint evaluation divides by.
    """
    flat = ann.get("keypoints")
    if flat is None:
        return {}
    here = f"{where}.keypoints"
    if not isinstance(flat, list) or not flat or len(flat) % 3:
        raise error(here, "expected a flat list of x, y, v triples")
    points = []
    for k in range(0, len(flat), 3):
        x, y, v = flat[k : k + 3]
        if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (x, y)):
            raise error(f"{here}[{k}]", f"x and y must be numbers, got {x!r}, {y!r}")
        if v not in (0, 1, 2) or isinstance(v, bool):
            raise error(f"{here}[{k + 2}]", f"v must be 0, 1 or 2, got {v!r}")
        if v and not (0 <= x <= width and 0 <= y <= height):
            raise error(f"{here}[{k}]", f"keypoint ({x}, {y}) is outside the {width}x{height} image")
        points.append([number(x), number(y), int(v)] if v else [0, 0, 0])
    out: dict[str, Any] = {"keypoints": points}
    area = ann.get("area")
    if isinstance(area, (int, float)) and not isinstance(area, bool) and area > 0:
        out["area"] = number(area)
    return out


def annotation_from_keypoints(obj: Mapping, spec: Any) -> dict[str, Any]:
    """A pose object's COCO fields: ``keypoints``, ``num_keypoints`` (labelled ones) and its ``area:``."""
    if spec.keypoints is None:
        return {}
    flat = [number(v) if i % 3 < 2 else int(v) for point in spec.keypoints for i, v in enumerate(point)]
    out: dict[str, Any] = {"keypoints": flat, "num_keypoints": sum(1 for v in flat[2::3] if v > 0)}
    if "area" in obj:
        out["area"] = obj["area"]
    return out
