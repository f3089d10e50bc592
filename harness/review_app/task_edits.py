"""The review app's edits of a pose object's keypoints and an obb object's oriented box, each
written back in the case file's own form, on one line, touching no other key:

- ``keypoints``: ``index``, ``keypoints`` ``[[x, y, v], ...]`` (v: 2 visible, 1 occluded, 0 not
  labelled), as many as the file's ``keypoints:`` block names;
- ``obb``: ``index``, ``obb`` four corners ``[[x, y], ...]`` in order around the box (an object
  written ``{xywhr: [...]}`` is rewritten as its corners);
- ``move``: ``index``, ``dx``, ``dy``: a pose object's box and every keypoint (``v: 0`` too) moved
  by that offset, written together (one undo restores both); ``polygons``, if given, become its
  mask (the page sends a polygon mask moved by the same offset). A labelled keypoint or the box
  moved out of the image is refused by the loader, as for any edit.

``check_fits_task`` refuses, before anything is read or written, an edit the file's task has no
place for (keypoints in a detect file, a wrong keypoint count), with one line the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from harness.casefile.edit import flow, keypoints_entry, mask_entry, number
from harness.review_app.edits import EditError, object_at, polygons_of, shown, valid_number

TASK_EDITS = ("keypoints", "obb", "move")
_NEEDS = {"keypoints": "pose", "obb": "obb", "move": "pose"}


def check_fits_task(op: Mapping[str, Any], task: str | None, keypoint_count: int | None) -> None:
    """Raise EditError when ``op`` does not fit a file of ``task`` (with ``keypoint_count`` keypoints)."""
    kind = op.get("op")
    needed = _NEEDS[kind]
    if task != needed:
        raise EditError(f"{kind}: the file's task is {task or 'detect'}; only a `task: {needed}` file has {kind}")
    if kind == "keypoints":
        given = op.get("keypoints")
        if keypoint_count is not None and isinstance(given, list) and len(given) != keypoint_count:
            raise EditError(f"keypoints: {len(given)} given, but the file's keypoints: block has {keypoint_count}")


def apply_task_edit(case: CommentedMap, op: Mapping[str, Any]) -> str:
    """Apply a ``keypoints``, ``obb`` or ``move`` edit to the case entry; returns what changed."""
    index, entry = object_at(case, op)
    if op.get("op") == "move":
        return _move(index, entry, op)
    if op.get("op") == "keypoints":
        entry["keypoints"] = keypoints_entry(_keypoints(op.get("keypoints")))
        return f"objects[{index}].keypoints"
    entry["obb"] = flow(flow(number(v) for v in point) for point in _corners(op.get("obb")))
    return f"objects[{index}].obb"


def _move(index: int, entry: CommentedMap, op: Mapping[str, Any]) -> str:
    """Box and keypoints by the same offset, each coordinate rounded as the file rounds (0.01 px)."""
    dx, dy = valid_number(op.get("dx"), "move.dx"), valid_number(op.get("dy"), "move.dy")
    box, keypoints = entry.get("box"), entry.get("keypoints")
    if not isinstance(box, list) or len(box) != 4 or not isinstance(keypoints, list):
        raise EditError(f"objects[{index}]: a move needs an object with box and keypoints; this one lacks them")
    box = [valid_number(v, "box") for v in box]
    moved = _keypoints(keypoints)
    entry["box"] = flow(number(v + (dy if k % 2 else dx)) for k, v in enumerate(box))
    entry["keypoints"] = keypoints_entry((x + dx, y + dy, v) for x, y, v in moved)
    changed = ["box", "keypoints"]
    if "polygons" in op:
        polygons = polygons_of(op["polygons"])
        entry["mask"] = mask_entry(polygons[0] if len(polygons) == 1 else polygons)
        changed.append("mask")
    return ", ".join(f"objects[{index}].{name}" for name in changed)


def _keypoints(value: Any) -> list[tuple[float, float, int]]:
    if not isinstance(value, list) or not value:
        raise EditError(f"keypoints: expected [[x, y, v], ...], got {shown(value)}")
    out = []
    for i, point in enumerate(value):
        if not isinstance(point, list) or len(point) != 3:
            raise EditError(f"keypoints[{i}]: expected [x, y, v], got {shown(point)}")
        x, y, v = point
        if isinstance(v, bool) or v not in (0, 1, 2):
            raise EditError(f"keypoints[{i}]: v must be 0 (not labelled), 1 (occluded) or 2 (visible), got {shown(v)}")
        out.append((valid_number(x, f"keypoints[{i}]"), valid_number(y, f"keypoints[{i}]"), int(v)))
    return out


def _corners(value: Any) -> list[list[float]]:
    if not isinstance(value, list) or len(value) != 4:
        raise EditError(f"obb: expected four corners [[x, y], ...], got {shown(value)}")
    corners = []
    for i, point in enumerate(value):
        if not isinstance(point, list) or len(point) != 2:
            raise EditError(f"obb[{i}]: expected [x, y], got {shown(point)}")
        corners.append([valid_number(v, f"obb[{i}]") for v in point])
    return corners
