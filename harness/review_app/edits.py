"""The review app's editing API: one edit, sent by the page as JSON, applied to one case of a
``CaseDocument``, touching only the keys it changes (so the rest of the file keeps its layout).

Edits, each ``{"op": NAME, ...}``, objects addressed by their index in the case's ``objects``:

- ``set``: ``index``, and ``box`` ``[x1, y1, x2, y2]`` and/or ``polygons`` ``[[[x, y], ...], ...]`` (the
  object's mask becomes those polygons; a raster mask, RLE or PNG, becomes a polygon this way);
- ``class``: ``index``, ``class``;
- ``delete``: ``index``;
- ``add``: ``object`` ``{class, box, polygons?}`` (a drawn box or polygon);
- ``thresholds``: ``index``, ``box_iou``, ``mask_iou``, ``oks`` or ``obb_iou``, a number in [0, 1] or
  null to remove it;
- ``case``: ``tags`` (a list, empty to remove) and/or ``max_extra`` (a whole number, or null to remove).

Accepting a prediction and marking a case reviewed need the model and the file as a whole, so
``workspace`` turns them into ``replace`` and ``add`` edits of case-file objects, or into
``golden.review.mark_reviewed``. Values are checked here for shape only; whether the new case is
valid (a box inside the image, a known class) is decided by loading it before it is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from harness.casefile.edit import flow, flow_map, mask_entry, number, object_entry
from harness.core.errors import HarnessError

# What accepting a prediction replaces (a pose model's keypoints, an obb model's corners too);
# thresholds, crowd and a pose object's area stay.
OBJECT_FIELDS = ("class", "box", "mask", "keypoints", "obb")


class EditError(HarnessError):
    """An edit the page sent that cannot be applied as written (the request's fault, not the file's)."""


def apply_edit(case: CommentedMap, op: Mapping[str, Any]) -> str:
    """Apply ``op`` to the case entry ``case``; returns what changed, e.g. ``objects[2].box``."""
    if not isinstance(op, Mapping) or op.get("op") not in _EDITS:
        raise EditError(f"unknown edit {_shown(op.get('op') if isinstance(op, Mapping) else op)}; known: {_KNOWN}")
    return _EDITS[op["op"]](case, op)


def _set(case: CommentedMap, op: Mapping[str, Any]) -> str:
    index, entry = _object(case, op)
    changed = []
    if "box" in op:
        entry["box"] = flow(number(v) for v in _box(op["box"]))
        changed.append("box")
    if "polygons" in op:
        polygons = _polygons(op["polygons"])
        entry["mask"] = mask_entry(polygons[0] if len(polygons) == 1 else polygons)
        changed.append("mask")
    if not changed:
        raise EditError("a set edit needs box or polygons")
    return ", ".join(f"objects[{index}].{name}" for name in changed)


def _class(case: CommentedMap, op: Mapping[str, Any]) -> str:
    index, entry = _object(case, op)
    entry["class"] = _text(op.get("class"), "class")
    return f"objects[{index}].class"


def _delete(case: CommentedMap, op: Mapping[str, Any]) -> str:
    index, _ = _object(case, op)
    del case["objects"][index]
    return f"objects[{index}] deleted"


def _add(case: CommentedMap, op: Mapping[str, Any]) -> str:
    raw = op.get("object")
    if not isinstance(raw, Mapping):
        raise EditError("an add edit needs object: {class, box, polygons?}")
    obj: dict[str, Any] = {"class": _text(raw.get("class"), "object.class"), "box": _box(raw.get("box"))}
    if raw.get("polygons") is not None:
        polygons = _polygons(raw["polygons"])
        obj["mask"] = polygons[0] if len(polygons) == 1 else polygons
    return add_object(case, obj)


def add_object(case: CommentedMap, obj: Mapping[str, Any]) -> str:
    """Append ``obj``, in case-file form (class, box, mask), to the case's objects."""
    objects = case.get("objects")
    if not isinstance(objects, list):
        raise EditError("the case has no objects list to add to")
    if isinstance(objects, CommentedSeq) and objects.fa.flow_style():
        objects.fa.set_block_style()  # `objects: []` would grow into one unreadable line
    objects.append(object_entry(obj))
    return f"objects[{len(objects) - 1}] added"


def replace_object(case: CommentedMap, index: int, obj: Mapping[str, Any]) -> str:
    """Give object ``index`` the class, box, mask, keypoints and oriented box of ``obj`` (case-file
    form); its own thresholds and crowd flag stay, and what ``obj`` lacks of those is removed."""
    _, entry = _object(case, {"index": index})
    fresh = object_entry(obj)
    for key in OBJECT_FIELDS:
        if key in fresh:
            entry[key] = fresh[key]
        elif key in entry:
            del entry[key]
    return f"objects[{index}] replaced"


def _thresholds(case: CommentedMap, op: Mapping[str, Any]) -> str:
    index, entry = _object(case, op)
    changed = []
    for key in ("box_iou", "mask_iou", "oks", "obb_iou"):  # the last two: pose and obb objects'
        if key not in op:
            continue
        value = op[key]
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = _number(value, key, low=0.0, high=1.0)
        changed.append(f"objects[{index}].{key}")
    if not changed:
        raise EditError("a thresholds edit needs box_iou, mask_iou, oks or obb_iou")
    return ", ".join(changed)


def _case_fields(case: CommentedMap, op: Mapping[str, Any]) -> str:
    changed = []
    if "tags" in op:
        tags = op["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise EditError(f"tags: expected a list of strings, got {_shown(tags)}")
        if tags:
            _put(case, "tags", flow(dict.fromkeys(tags)), after="image")
        else:
            case.pop("tags", None)
        changed.append("tags")
    if "max_extra" in op:
        value = op["max_extra"]
        thresholds = case.get("thresholds")
        if value is None:
            if isinstance(thresholds, Mapping):
                thresholds.pop("max_extra", None)
                if not thresholds:
                    del case["thresholds"]
        else:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EditError(f"max_extra: expected a whole number >= 0, got {_shown(value)}")
            if not isinstance(thresholds, Mapping):
                thresholds = flow_map({})
                _put(case, "thresholds", thresholds, after="tags" if "tags" in case else "image")
            thresholds["max_extra"] = value
        changed.append("thresholds.max_extra")
    if not changed:
        raise EditError("a case edit needs tags or max_extra")
    return ", ".join(changed)


def _put(mapping: CommentedMap, key: str, value: Any, *, after: str) -> None:
    """Set ``key``; a new key goes right after ``after`` (where people write it), not at the end."""
    if key in mapping:
        mapping[key] = value
        return
    keys = list(mapping)
    mapping.insert(keys.index(after) + 1 if after in keys else len(keys), key, value)


def _object(case: CommentedMap, op: Mapping[str, Any]) -> tuple[int, CommentedMap]:
    objects = case.get("objects")
    index = op.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise EditError(f"index: expected the object's number, got {_shown(index)}")
    if not isinstance(objects, list) or not 0 <= index < len(objects):
        count = len(objects) if isinstance(objects, list) else 0
        raise EditError(f"objects[{index}]: no such object (the case has {count}); reload the page")
    entry = objects[index]
    if not isinstance(entry, CommentedMap):
        raise EditError(f"objects[{index}] is not a mapping in the file; correct it in the file")
    return index, entry


def _box(value: Any) -> list[float]:
    if not isinstance(value, list) or len(value) != 4:
        raise EditError(f"box: expected [x1, y1, x2, y2], got {_shown(value)}")
    return [_number(v, "box") for v in value]


def _polygons(value: Any) -> list[list[list[float]]]:
    if not isinstance(value, list) or not value:
        raise EditError(f"polygons: expected a list of polygons [[x, y], ...], got {_shown(value)}")
    polygons = []
    for i, polygon in enumerate(value):
        if not isinstance(polygon, list) or len(polygon) < 3:
            raise EditError(f"polygons[{i}]: a polygon needs at least 3 [x, y] points")
        points = []
        for point in polygon:
            if not isinstance(point, list) or len(point) != 2:
                raise EditError(f"polygons[{i}]: expected [x, y] points, got {_shown(point)}")
            points.append([_number(v, f"polygons[{i}]") for v in point])
        polygons.append(points)
    return polygons


def _number(value: Any, where: str, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EditError(f"{where}: expected a finite number, got {_shown(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise EditError(f"{where}: {value} is outside [{low}, {high}]")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EditError(f"{where}: expected a class name, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_EDITS = {
    "set": _set,
    "class": _class,
    "delete": _delete,
    "add": _add,
    "thresholds": _thresholds,
    "case": _case_fields,
}
_KNOWN = ", ".join([*_EDITS, "keypoints", "obb", "move", "accept", "reviewed"])  # the last five: workspace's
# For the task-specific edits (task_edits.py): the same checks, the same one-line errors.
object_at, valid_number, shown, polygons_of = _object, _number, _shown, _polygons
