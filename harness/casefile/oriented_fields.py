"""Validating the task-specific parts of a case: an oriented box (``obb:``, task obb) and a classify
case's expected label (``label:`` / ``labels:``, ``min_confidence``, ``top_k``); each error names
file, case and field."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.casefile.fields import Fields, describe_value
from harness.casefile.schema import LABEL_KEYS, OBJECT_KEYS, ExpectedObject, LabelSpec
from harness.core.config import Thresholds
from harness.core.oriented import corners_bounds, quadrilateral_problem, xywhr_to_corners

OBB_FORMS = "four corners [[x, y], [x, y], [x, y], [x, y]] or {xywhr: [cx, cy, w, h, angle_radians]}"
MAX_TOP_K = 5  # a failing case shows the top 5 classes; the prediction cache keeps as many


def parse_oriented_object(
    fields: Fields, raw: Any, where: str, width: int, height: int, thresholds: Thresholds, task: str | None
) -> ExpectedObject:
    """An object of an obb case: ``class``, ``obb`` and optional ``obb_iou`` and ``crowd``."""
    raw = fields.mapping(raw, where, OBJECT_KEYS)
    if task not in (None, "obb"):
        raise fields.error(f"{where}.obb", f"the file's task is {task}; oriented boxes need `task: obb`")
    for key in ("box", "mask", "box_iou", "mask_iou"):
        if key in raw:
            raise fields.error(f"{where}.{key}", "an oriented-box object carries `obb:` (and `obb_iou:`), not this")
    for key in ("class", "obb"):
        if key not in raw:
            raise fields.error(f"{where}.{key}", "missing" + (f": {OBB_FORMS}" if key == "obb" else ""))
    class_name = fields.string(raw["class"], f"{where}.class")
    corners = _corners(fields, raw["obb"], f"{where}.obb", width, height)
    obb_iou = fields.number(raw.get("obb_iou", thresholds.obb_iou), f"{where}.obb_iou", low=0.0, high=1.0)
    crowd = raw.get("crowd", False)
    if not isinstance(crowd, bool):
        raise fields.error(f"{where}.crowd", f"expected true or false, got {describe_value(crowd)}")
    box = corners_bounds(corners)
    return ExpectedObject(
        class_name, box, thresholds.box_iou, thresholds.mask_iou, crowd=crowd, obb=corners, obb_iou=obb_iou
    )


def _corners(fields: Fields, raw: Any, where: str, width: int, height: int) -> tuple[float, ...]:
    if isinstance(raw, dict):
        fields.mapping(raw, where, ("xywhr",))
        values = raw.get("xywhr")
        if not isinstance(values, list) or len(values) != 5:
            raise fields.error(
                f"{where}.xywhr", f"expected [cx, cy, w, h, angle_radians], got {describe_value(values)}"
            )
        numbers = [fields.number(v, f"{where}.xywhr") for v in values]
        if numbers[2] <= 0 or numbers[3] <= 0:
            raise fields.error(f"{where}.xywhr", f"width and height must be > 0, got {values}")
        corners = tuple(float(v) for v in xywhr_to_corners(np.array([numbers]))[0])
    elif isinstance(raw, list) and len(raw) == 4:
        flat = []
        for index, point in enumerate(raw):
            if not isinstance(point, list) or len(point) != 2:
                raise fields.error(f"{where}[{index}]", f"expected [x, y], got {describe_value(point)}")
            flat += [fields.number(v, f"{where}[{index}]") for v in point]
        corners = tuple(flat)
    else:
        raise fields.error(where, f"expected {OBB_FORMS}, got {describe_value(raw)}")
    problem = quadrilateral_problem(corners)
    if problem:
        raise fields.error(where, problem)
    # A turned box of an object at the image's edge may reach past it (its corners are the object's,
    # not the picture's), as Ultralytics' predictions and DOTA's labels do; its centre may not.
    cx, cy = sum(corners[0::2]) / 4, sum(corners[1::2]) / 4
    if not (0 <= cx <= width and 0 <= cy <= height):
        raise fields.error(where, f"the box's centre ({cx:g}, {cy:g}) lies outside the {width}x{height} image")
    return corners


def parse_label(fields: Fields, raw: dict, task: str | None) -> LabelSpec | None:
    """A classify case's expectation, or None for a case of another task (which may carry none of it)."""
    given = [key for key in LABEL_KEYS if key in raw]
    if task != "classify":
        if given:
            raise fields.error(given[0], "only a classify case (`task: classify`) expects a label")
        return None
    if "objects" in raw:
        raise fields.error("objects", "a classify case expects a `label:` (or `labels:`), not objects")
    if ("label" in raw) == ("labels" in raw):
        raise fields.error("label", "give the expected class as `label: NAME` or `labels: [A, B]` (one of them)")
    if "label" in raw:
        labels = (fields.string(raw["label"], "label"),)
    else:
        values = raw["labels"]
        if not isinstance(values, list) or not values:
            raise fields.error("labels", f"expected a list of class names, got {describe_value(values)}")
        labels = tuple(fields.string(v, f"labels[{i}]") for i, v in enumerate(values))
    min_confidence = fields.number(raw.get("min_confidence", 0.0), "min_confidence", low=0.0, high=1.0)
    top_k = raw.get("top_k", 1)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise fields.error("top_k", f"expected a whole number from 1 to {MAX_TOP_K}, got {describe_value(top_k)}")
    return LabelSpec(labels, min_confidence, top_k)
