"""Validating the pose parts of a case file: the file's ``keypoints:`` block (names, ``flip_idx``,
``sigmas``) and an object's ``keypoints``, ``area``, ``oks`` and ``max_error``; each error names file,
case and field. See docs/pose.md.
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.core.config import Thresholds
from harness.core.errors import CaseFileError
from harness.core.keypoints import Keypoint, KeypointSpec, default_sigmas
from harness.core.text import short_repr

KEYPOINTS_KEYS = ("names", "flip_idx", "sigmas", "skeleton")
COUNTED = ("names", "flip_idx", "sigmas")  # the lists with one entry per keypoint


class FieldChecks(Protocol):
    """What ``harness.casefile.fields.Fields`` offers (a seam: that module imports this one)."""

    def error(self, field_name: str, message: str) -> CaseFileError: ...
    def mapping(self, value: Any, field_name: str, allowed: tuple[str, ...]) -> dict: ...
    def number(self, value: Any, field_name: str, *, low: float | None = None, high: float | None = None) -> float: ...
    def string(self, value: Any, field_name: str) -> str: ...


def parse_keypoint_spec(fields: FieldChecks, raw: Any) -> KeypointSpec:
    """The file's ``keypoints: {names: [...], flip_idx: [...], sigmas: [...]}``; at least one of the three
    gives the count, and those given must agree on it. Sigmas default as Ultralytics' validator has them."""
    raw = fields.mapping(raw, "keypoints", KEYPOINTS_KEYS)
    lists = {}
    for key in COUNTED:
        if key in raw:
            if not isinstance(raw[key], list) or not raw[key]:
                raise fields.error(f"keypoints.{key}", f"expected a non-empty list, got {short_repr(raw[key])}")
            lists[key] = raw[key]
    if not lists:
        raise fields.error("keypoints", "give at least one of names, flip_idx, sigmas (one entry per keypoint)")
    first, count = next((key, len(value)) for key, value in lists.items())
    for key, value in lists.items():
        if len(value) != count:
            raise fields.error(f"keypoints.{key}", f"{len(value)} entries, but {first} has {count}")
    names = tuple(fields.string(n, f"keypoints.names[{i}]") for i, n in enumerate(lists.get("names", [])))
    if len(set(names)) != len(names):
        raise fields.error("keypoints.names", "a keypoint name appears twice")
    flip_idx = None
    if "flip_idx" in lists:
        flip_idx = tuple(_index(fields, v, f"keypoints.flip_idx[{i}]", count) for i, v in enumerate(lists["flip_idx"]))
        for i, j in enumerate(flip_idx):
            if flip_idx[j] != i:  # left -> right must come with right -> left
                raise fields.error(f"keypoints.flip_idx[{i}]", f"{i} becomes {j} but {j} becomes {flip_idx[j]}")
    if "sigmas" in lists:
        sigmas = tuple(fields.number(v, f"keypoints.sigmas[{i}]", low=1e-6) for i, v in enumerate(lists["sigmas"]))
        source = "the file"
    else:
        sigmas, source = default_sigmas(count)
    skeleton = _skeleton(fields, raw.get("skeleton", []), count)
    return KeypointSpec(count, names or tuple(str(i) for i in range(count)), sigmas, flip_idx, source, skeleton)


def _skeleton(fields: FieldChecks, raw: Any, count: int) -> tuple[tuple[int, int], ...]:
    """``skeleton: [[0, 1], [1, 3], ...]``: keypoint index pairs to join in pictures (0-based)."""
    if not isinstance(raw, list):
        raise fields.error("keypoints.skeleton", f"expected [[i, j], ...] keypoint index pairs, got {short_repr(raw)}")
    pairs = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise fields.error(f"keypoints.skeleton[{i}]", f"expected [i, j], got {short_repr(pair)}")
        pairs.append(tuple(_index(fields, v, f"keypoints.skeleton[{i}]", count) for v in pair))
    return tuple(pairs)


def _index(fields: FieldChecks, value: Any, where: str, count: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise fields.error(where, f"expected a keypoint index 0..{count - 1}, got {short_repr(value)}")
    return value


def pose_object_fields(
    fields: FieldChecks,
    raw: dict,
    where: str,
    size: tuple[int, int],
    thresholds: Thresholds,
    task: str | None,
    crowd: bool,
    keypoint_count: int | None,
) -> dict[str, Any]:
    """An object's pose fields as ``ExpectedObject`` keywords (empty for an object without them).

    In a ``task: pose`` file every object but a crowd region needs its keypoints; ``keypoint_count``
    (from the file's ``keypoints:``) is how many, None when the file does not say.
    """
    if "keypoints" not in raw:
        if task == "pose" and not crowd:
            raise fields.error(f"{where}.keypoints", "missing: a pose object needs [[x, y, v], ...] (v: 0, 1, 2)")
        for key in ("area", "oks", "max_error"):
            if key in raw:
                raise fields.error(f"{where}.{key}", "only an object with keypoints takes it")
        return {}
    if task not in (None, "pose"):
        raise fields.error(f"{where}.keypoints", f"the file's task is {task}; keypoints need task: pose")
    keypoints = _keypoints(fields, raw["keypoints"], f"{where}.keypoints", size, keypoint_count)
    out: dict[str, Any] = {
        "keypoints": keypoints,
        "oks": fields.number(raw.get("oks", thresholds.oks), f"{where}.oks", low=0.0, high=1.0),
        "max_error": thresholds.max_error,
    }
    if "max_error" in raw:
        out["max_error"] = fields.number(raw["max_error"], f"{where}.max_error", low=0.0)
    if "area" in raw:
        out["area"] = fields.number(raw["area"], f"{where}.area", low=0.0)
        if out["area"] <= 0:
            raise fields.error(f"{where}.area", "must be more than 0 square pixels")
    return out


def _keypoints(
    fields: FieldChecks, raw: Any, where: str, size: tuple[int, int], count: int | None
) -> tuple[Keypoint, ...]:
    if not isinstance(raw, list) or not raw:
        raise fields.error(where, f"expected [[x, y, v], ...], got {short_repr(raw)}")
    if count is not None and len(raw) != count:
        raise fields.error(where, f"{len(raw)} keypoints, but the file's keypoints: block has {count}")
    width, height = size
    out = []
    for i, point in enumerate(raw):
        here = f"{where}[{i}]"
        if not isinstance(point, list) or len(point) != 3:
            raise fields.error(here, f"expected [x, y, v], got {short_repr(point)}")
        x, y = fields.number(point[0], here), fields.number(point[1], here)
        v = point[2]
        if isinstance(v, bool) or v not in (0, 1, 2):
            raise fields.error(here, f"v must be 0 (not labelled), 1 (occluded) or 2 (visible), got {short_repr(v)}")
        if v > 0 and not (0 <= x <= width and 0 <= y <= height):
            raise fields.error(here, f"keypoint ({x:g}, {y:g}) is outside the {width}x{height} image")
        out.append((x, y, int(v)))
    return tuple(out)


def check_keypoint_counts(fields: FieldChecks, objects: tuple) -> None:
    """Every object of a case with keypoints has as many as the first one (the model has one count)."""
    counts = [(i, len(obj.keypoints)) for i, obj in enumerate(objects) if obj.keypoints is not None]
    for i, count in counts[1:]:
        first, first_count = counts[0]
        if count != first_count:
            raise fields.error(f"objects[{i}].keypoints", f"{count} keypoints, but objects[{first}] has {first_count}")
