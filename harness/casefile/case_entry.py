"""Validating one entry of a case file's ``cases:`` list: its name, image, tags, thresholds, objects,
``recorded:``, ``transforms:`` and ``search:``; each error names file, case and field."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.casefile.fields import Fields, describe_value, parse_object
from harness.casefile.oriented_fields import parse_label, parse_oriented_object
from harness.casefile.pose_fields import check_keypoint_counts
from harness.casefile.schema import (
    CASE_KEYS,
    CASE_NAME,
    LABEL_KEYS,
    RECORDED_KEYS,
    SUITE_ITEM,
    TAG_NAME,
    Case,
    Recorded,
    VariantSpec,
)
from harness.casefile.search_spec import parse_search, search_spec
from harness.core.config import Thresholds
from harness.core.errors import ImageError
from harness.core.images import image_size
from harness.core.keypoints import KeypointSpec
from harness.core.paths import resolved
from harness.core.transforms import Transform, parse_transform


def parse_case(
    fields: Fields,
    raw: Any,
    model: str | None,
    task: str | None,
    predict: Mapping[str, Any],
    file_thresholds: Thresholds,
    file_transforms: tuple[tuple[Transform, dict, str], ...] = (),
    file_search: tuple | None = None,
    keypoints: KeypointSpec | None = None,
    model_sha256: str | None = None,
) -> Case:
    path = fields.path
    raw = fields.mapping(raw, "", (*CASE_KEYS, *LABEL_KEYS))
    fields.refuse_duplicates(raw, "")
    name = _name(fields, raw)
    image, (width, height) = _image(fields, raw)
    tags = _tags(fields, raw)
    thresholds = fields.thresholds(raw.get("thresholds", {}), "thresholds", file_thresholds)
    label = parse_label(fields, raw, task)
    if label is not None:
        raw = {**raw, "objects": []}  # a classify case expects a label, and no objects
    if "objects" not in raw:
        raise fields.error("objects", "missing: list the expected objects, or write `objects: []` for none")
    raw_objects = raw["objects"]
    if not isinstance(raw_objects, list):
        raise fields.error("objects", f"expected a list of objects, got {describe_value(raw_objects)}")
    objects = tuple(
        parse_oriented_object(fields, obj, f"objects[{i}]", width, height, thresholds, task)
        if task == "obb" or (isinstance(obj, dict) and "obb" in obj)
        else parse_object(
            fields, obj, f"objects[{i}]", path, width, height, thresholds, task, keypoints and keypoints.count
        )
        for i, obj in enumerate(raw_objects)
    )
    check_keypoint_counts(fields, objects)
    recorded = _recorded(fields, raw["recorded"]) if "recorded" in raw else None
    # A case's own list replaces the file's (`transforms: []` opts a case out).
    transforms = parse_transforms(fields, raw["transforms"]) if "transforms" in raw else file_transforms
    variants = tuple(_variant(transform, overrides, where, thresholds) for transform, overrides, where in transforms)
    # Likewise a case's own `search:` replaces the file's (`search: {}` opts a case out).
    search = parse_search(raw["search"], fields.error) if "search" in raw else file_search
    return Case(
        search=search_spec(search, thresholds),
        variants=variants,
        recorded=recorded,
        name=name,
        file=path,
        image=image,
        image_size=(width, height),
        tags=tags,
        objects=objects,
        max_extra=thresholds.max_extra,
        model=model,
        task=task,
        predict=predict,
        keypoints=keypoints,
        label=label,
        model_sha256=model_sha256,
    )


def _name(fields: Fields, raw: dict) -> str:
    if "name" not in raw:
        raise fields.error("name", "missing: every case needs a unique name")
    name = fields.string(raw["name"], "name")
    if not CASE_NAME.fullmatch(name):
        raise fields.error(
            "name",
            f"{describe_value(name)}: use letters, digits, '_', '.' and '-' (it becomes part of the pytest node id)",
        )
    if name == SUITE_ITEM:
        raise fields.error("name", f"{SUITE_ITEM!r} is reserved for the file's metric gates ({SUITE_ITEM}::...)")
    return name


def _image(fields: Fields, raw: dict) -> tuple[Path, tuple[int, int]]:
    """The image's resolved path (checked against the project root before it is opened) and its size."""
    if "image" not in raw:
        raise fields.error("image", "missing: the path of the image, relative to the case file")
    image = fields.file(resolved(fields.path.parent / fields.string(raw["image"], "image")), "image")
    try:
        return image, image_size(image)
    except ImageError as exc:
        raise fields.error("image", str(exc)) from None


def _tags(fields: Fields, raw: dict) -> tuple[str, ...]:
    tags = raw.get("tags", [])
    if not isinstance(tags, list):
        raise fields.error("tags", f"expected a list of tags, got {describe_value(tags)}")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not TAG_NAME.fullmatch(tag):
            raise fields.error(
                f"tags[{i}]", f"{describe_value(tag)} is not usable with -m: use letters, digits and '_'"
            )
    return tuple(tags)


def _variant(transform: Transform, overrides: dict, where: str, thresholds: Thresholds) -> VariantSpec:
    """One ``transforms:`` entry of a case: its own thresholds, else the case's robust ones."""
    return VariantSpec(
        transform,
        where,
        box_iou=overrides.get("box_iou", thresholds.robust_box_iou),
        mask_iou=overrides.get("mask_iou", thresholds.robust_mask_iou),
        max_extra=overrides.get("max_extra"),
        xfail=overrides.get("xfail"),
    )


def parse_transforms(fields: Fields, raw: Any) -> tuple[tuple[Transform, dict, str], ...]:
    """``transforms:``: each entry's transform, threshold overrides and field name."""
    if not isinstance(raw, list):
        raise fields.error("transforms", f"expected a list such as [hflip, {{scale: 0.5}}], got {describe_value(raw)}")
    out: list[tuple[Transform, dict, str]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"transforms[{index}]"
        transform, overrides = parse_transform(entry, fields.error, where)
        if transform.id in seen:
            raise fields.error(where, f"{transform.id} is already transforms[{seen[transform.id]}]")
        seen[transform.id] = index
        out.append((transform, overrides, where))
    return tuple(out)


def _recorded(fields: Fields, raw: Any) -> Recorded:
    value = fields.mapping(raw, "recorded", RECORDED_KEYS)
    if not isinstance(value.get("reviewed"), bool):
        got = f"got {describe_value(value['reviewed'])}" if "reviewed" in value else "it is missing"
        raise fields.error(
            "recorded.reviewed",
            f"expected true or false, {got} (vision-harness review FILE --mark-reviewed sets it once checked)",
        )
    model = fields.string(value["model"], "recorded.model") if "model" in value else "a model"
    return Recorded(model, value["reviewed"])
