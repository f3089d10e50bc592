"""Validating one value of a case file: mappings, strings, numbers, thresholds, objects and masks,
each error naming file, case and field.
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from pathlib import Path
from typing import Any

from harness.casefile.pose_fields import pose_object_fields
from harness.casefile.schema import OBJECT_KEYS, THRESHOLD_KEYS, ExpectedObject, MaskSpec
from harness.casefile.yaml_parse import DUPLICATE_KEYS
from harness.core.config import Thresholds
from harness.core.errors import CaseFileError, ImageError
from harness.core.geometry import compressed_rle_total, polygon_area, rle_from_counts
from harness.core.images import image_size
from harness.core.paths import outside_root

# A key shown as written in an error; any other (long, odd characters, not text) is shown bounded and escaped.
KEY_TEXT = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


class Fields:
    """Validation helpers that raise a CaseFileError naming the file, the case and the field."""

    def __init__(self, path: Path, case: str | None = None, root: Path | None = None, *, has_duplicates: bool = True):
        self.path = path
        self.case = case
        self.root = root  # files the case names must lie below it (None: anywhere)
        self.has_duplicates = has_duplicates  # False: the parser saw no duplicate key in the whole document

    def file(self, path: Path, field_name: str) -> Path:
        """``path`` when it may be opened: refused before anything reads it when it lies outside the root."""
        problem = outside_root(path, self.root)
        if problem is not None:
            raise self.error(field_name, problem)
        return path

    def error(self, field_name: str, message: str) -> CaseFileError:
        return CaseFileError(self.path, message, case=self.case, field=field_name)

    def mapping(self, value: Any, field_name: str, allowed: tuple[str, ...]) -> dict:
        value = self.plain_mapping(value, field_name)
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(allowed)}"
                shown = key if isinstance(key, str) and KEY_TEXT.fullmatch(key) else describe_value(key)
                where = f"{field_name}.{shown}" if field_name else shown
                raise self.error(where, f"unknown key{suggestion}")
        return value

    def refuse_duplicates(self, value: Any, field_name: str) -> None:
        """Raise for the first mapping within ``value`` that holds a key twice, naming where it is."""
        if not self.has_duplicates:
            return  # the document has none: no need to visit every point of every polygon
        stack = [(value, field_name)]
        while stack:
            item, where = stack.pop()
            if isinstance(item, dict):
                if DUPLICATE_KEYS in item:
                    raise self.error(where, item[DUPLICATE_KEYS])
                stack.extend(
                    (v, f"{where}.{k}" if where else str(k)) for k, v in item.items() if isinstance(v, (dict, list))
                )
            elif isinstance(item, list):
                # A list of plain values (a polygon's [x, y] point) holds no mapping: not worth a visit.
                # Measured on a 1,000-case seg file: refusing duplicates took 0.63 s, visiting every point.
                stack.extend(
                    (v, f"{where}[{i}]")
                    for i, v in enumerate(item)
                    if isinstance(v, dict) or (isinstance(v, list) and any(isinstance(w, (dict, list)) for w in v))
                )

    def plain_mapping(self, value: Any, field_name: str) -> dict:
        """``value`` as a mapping, refused when it is none or holds a key twice."""
        if not isinstance(value, dict):
            raise self.error(field_name, f"expected a mapping, got {describe_value(value)}")
        if DUPLICATE_KEYS in value:
            raise self.error(field_name, value[DUPLICATE_KEYS])
        return value

    def string(self, value: Any, field_name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(field_name, f"expected a non-empty string, got {describe_value(value)}")
        if "\x00" in value:
            raise self.error(field_name, "contains a NUL character, which no path or name may hold")
        return value

    def number(self, value: Any, field_name: str, *, low: float | None = None, high: float | None = None) -> float:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e15:
            value = math.inf  # beyond any pixel coordinate, and beyond what a float holds exactly
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(field_name, f"expected a finite number, got {describe_value(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error(field_name, f"{value} is outside [{low}, {high}]")
        return float(value)

    def thresholds(self, value: Any, field_name: str, base: Thresholds) -> Thresholds:
        values = self.mapping(value, field_name, THRESHOLD_KEYS)
        checked: dict[str, Any] = {}
        for key in ("box_iou", "mask_iou", "robust_box_iou", "robust_mask_iou", "oks", "obb_iou"):
            if key in values:
                checked[key] = self.number(values[key], f"{field_name}.{key}", low=0.0, high=1.0)
        if "max_error" in values:
            checked["max_error"] = self.number(values["max_error"], f"{field_name}.max_error", low=0.0)
        if "max_extra" in values:
            extra = values["max_extra"]
            if isinstance(extra, bool) or not isinstance(extra, int) or extra < 0:
                raise self.error(
                    f"{field_name}.max_extra", f"expected a whole number >= 0, got {describe_value(extra)}"
                )
            checked["max_extra"] = extra
        return base.override(checked)


# Bounded repr: YAML aliases can make a small file a structure whose plain repr never ends.
_SHORT_REPR = reprlib.Repr()


_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 4, 4


_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 30


def describe_value(value: Any) -> str:
    text = _SHORT_REPR.repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def parse_object(
    fields: Fields,
    raw: Any,
    where: str,
    path: Path,
    width: int,
    height: int,
    thresholds: Thresholds,
    task: str | None,
    keypoint_count: int | None = None,
) -> ExpectedObject:
    raw = fields.mapping(raw, where, OBJECT_KEYS)
    for key in ("class", "box"):
        if key not in raw:
            raise fields.error(f"{where}.{key}", "missing")
    class_name = fields.string(raw["class"], f"{where}.class")
    box = raw["box"]
    if not isinstance(box, list) or len(box) != 4:
        raise fields.error(f"{where}.box", f"expected [x1, y1, x2, y2], got {describe_value(box)}")
    x1, y1, x2, y2 = (fields.number(v, f"{where}.box") for v in box)
    if x2 <= x1 or y2 <= y1:
        raise fields.error(f"{where}.box", f"x2 > x1 and y2 > y1 are required, got {box}")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise fields.error(f"{where}.box", f"{box} is outside the {width}x{height} image")
    box_iou = fields.number(raw.get("box_iou", thresholds.box_iou), f"{where}.box_iou", low=0.0, high=1.0)
    mask_iou = fields.number(raw.get("mask_iou", thresholds.mask_iou), f"{where}.mask_iou", low=0.0, high=1.0)
    mask = None
    if "mask" in raw:
        if task == "detect":
            raise fields.error(f"{where}.mask", "the file's task is detect, which predicts no masks")
        mask = _mask(fields, raw["mask"], f"{where}.mask", path, width, height)
    crowd = raw.get("crowd", False)
    if not isinstance(crowd, bool):
        raise fields.error(f"{where}.crowd", f"expected true or false, got {describe_value(crowd)}")
    pose = pose_object_fields(fields, raw, where, (width, height), thresholds, task, crowd, keypoint_count)
    return ExpectedObject(class_name, (x1, y1, x2, y2), box_iou, mask_iou, mask, crowd, **pose)


def _mask(fields: Fields, raw: Any, where: str, path: Path, width: int, height: int) -> MaskSpec:
    if isinstance(raw, list):
        return MaskSpec(polygons=_polygons(fields, raw, where, width, height))
    if isinstance(raw, dict) and "rle" in raw:
        fields.mapping(raw, where, ("rle",))
        rle = fields.mapping(raw["rle"], f"{where}.rle", ("size", "counts"))
        size = rle.get("size")
        if size != [height, width]:
            raise fields.error(f"{where}.rle.size", f"expected [{height}, {width}] (height, width), got {size!r}")
        counts = rle.get("counts")
        if isinstance(counts, list):
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
                raise fields.error(f"{where}.rle.counts", "run lengths must be whole numbers >= 0")
            if sum(counts) != height * width:
                raise fields.error(f"{where}.rle.counts", f"run lengths sum to {sum(counts)}, not {height}*{width}")
        elif isinstance(counts, str):
            # pycocotools trusts its input: a malformed string would decode to garbage, not an error.
            total = compressed_rle_total(counts)
            if total != height * width:
                found = "cannot be decoded" if total is None else f"covers {total} pixels, not {height}*{width}"
                raise fields.error(f"{where}.rle.counts", f"not a valid COCO RLE string: it {found}")
        else:
            raise fields.error(
                f"{where}.rle.counts", f"expected a COCO RLE string or run lengths, got {describe_value(counts)}"
            )
        return MaskSpec(rle=rle_from_counts(size, counts))
    if isinstance(raw, dict) and "png" in raw:
        fields.mapping(raw, where, ("png",))
        png = fields.file((path.parent / fields.string(raw["png"], f"{where}.png")).resolve(), f"{where}.png")

        try:
            size = image_size(png)
        except ImageError as exc:
            raise fields.error(f"{where}.png", str(exc)) from None
        if size != (width, height):
            raise fields.error(f"{where}.png", f"mask is {size[0]}x{size[1]} but the image is {width}x{height}")
        return MaskSpec(png=png)
    raise fields.error(where, "expected a polygon [[x, y], ...], a list of polygons, {rle: ...} or {png: path}")


# The types a plain polygon's coordinates have (a bool is an int to isinstance, not to type()).
_PLAIN_NUMBERS = frozenset({int, float})


def _polygons(fields: Fields, raw: list, where: str, width: int, height: int) -> tuple[tuple[float, ...], ...]:
    # One polygon is a list of [x, y] points; several are a list of such lists.
    if not raw:
        raise fields.error(where, "a polygon needs at least 3 [x, y] points; leave `mask` out for no mask")
    groups = [raw] if isinstance(raw[0], list) and raw[0] and not isinstance(raw[0][0], list) else raw
    polygons = []
    for g, points in enumerate(groups):
        here = where if len(groups) == 1 else f"{where}[{g}]"
        if not isinstance(points, list) or len(points) < 3:
            raise fields.error(here, "a polygon needs at least 3 [x, y] points")
        flat = _plain_polygon(points, width, height)
        if flat is not None:
            if polygon_area(flat) == 0:
                raise fields.error(here, "the polygon has zero area (its points are collinear)")
            polygons.append(tuple(flat))
            continue
        flat = []  # something is wrong: find the first bad point, to name it
        for p, point in enumerate(points):
            if not isinstance(point, list) or len(point) != 2:
                raise fields.error(f"{here}[{p}]", f"expected [x, y], got {describe_value(point)}")
            x, y = (fields.number(v, f"{here}[{p}]") for v in point)
            if not (0 <= x <= width and 0 <= y <= height):
                raise fields.error(f"{here}[{p}]", f"point ({x:g}, {y:g}) is outside the {width}x{height} image")
            flat += [x, y]
        if polygon_area(flat) == 0:
            raise fields.error(here, "the polygon has zero area (its points are collinear)")
        polygons.append(tuple(flat))
    return tuple(polygons)


def _plain_polygon(points: list, width: int, height: int) -> list[float] | None:
    """The flat coordinates when every point is a plain in-image ``[x, y]``, else None.

    The fast path for big suites: each check one pass of a builtin over the list (a set of types, min,
    max, sum) instead of a Python check per number.
    """
    if set(map(type, points)) != {list} or set(map(len, points)) != {2}:
        return None
    flat = [value for point in points for value in point]
    if not set(map(type, flat)) <= _PLAIN_NUMBERS:
        return None  # bools, strings, None: the slow path names them
    xs, ys = flat[0::2], flat[1::2]
    if not (min(xs) >= 0 and max(xs) <= width and min(ys) >= 0 and max(ys) <= height):
        return None  # also the infinities
    total = sum(flat)
    if total != total:
        return None  # a NaN (which min and max can miss): every value is finite and bounded otherwise
    return list(map(float, flat))
