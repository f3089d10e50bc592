"""Transformed variants of golden cases: the same expectations, moved exactly with the picture.

A variant is a ``Case`` of its own (``scene-001[hflip]``) whose image is the case's image put
through a transform. Boxes and polygons are mapped as continuous coordinates; raster masks are
moved pixel for pixel, when the variant is judged. An object a crop cuts becomes an ignore region
(like COCO's crowd regions): what a model should find of half a shape is not a golden fact, so it
need not be found, and a detection of it is not an extra. An object cropped away entirely is gone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.casefile.schema import Case, ExpectedObject, MaskSpec, VariantSpec
from harness.core.errors import CaseFileError
from harness.core.images import load_image
from harness.core.transforms import Transform, check_fits


def make_variant(case: Case, spec: VariantSpec) -> Case:
    """The case as seen through ``spec.transform``, with the variant's thresholds.

    Raises:
        CaseFileError: the transform cannot apply to this case's image (a crop window outside it).
    """

    def error(field: str, message: str) -> CaseFileError:
        return CaseFileError(case.file, message, case=case.name, field=field)

    transform = spec.transform
    check_fits(transform, case.image_size, error, spec.where)
    objects = []
    for obj in case.objects:
        box, visible = transform.map_box(obj.box, case.image_size)
        if visible <= 0:
            continue
        cut = bool(visible < 1 - 1e-9)
        objects.append(
            ExpectedObject(
                class_name=obj.class_name,
                box=box,
                box_iou=obj.box_iou if spec.box_iou is None else spec.box_iou,
                mask_iou=obj.mask_iou if spec.mask_iou is None else spec.mask_iou,
                mask=None if cut or obj.mask is None else moved_mask(obj.mask, transform, case.image_size),
                crowd=obj.crowd or cut,
                **moved_pose(obj, transform, case, box),
                # An oriented box's corners move exactly, like a polygon's points.
                obb=None if obj.obb is None else transform.map_polygon(obj.obb, case.image_size),
                obb_iou=obj.obb_iou,
            )
        )
    return replace(
        case,
        name=f"{case.name}[{transform.id}]",
        image_size=transform.output_size(case.image_size),
        objects=tuple(objects),
        max_extra=case.max_extra if spec.max_extra is None else spec.max_extra,
        variants=(),
        transform=transform,
        variant_of=case.name,
        xfail=spec.xfail,
    )


def moved_pose(obj: ExpectedObject, transform: Transform, case: Case, box: tuple) -> dict:
    """An object's keypoints and area in the transformed image (``ExpectedObject`` keywords): keypoints
    moved exactly, renamed by mirrors through the file's ``flip_idx``, unlabelled where cropped out;
    an ``area:`` scaled as the box's area is (exact for every step that keeps the object whole)."""
    if obj.keypoints is None:
        return {}
    flip_idx = case.keypoints.flip_idx if case.keypoints is not None else None
    area = obj.area
    if area is not None:
        before = (obj.box[2] - obj.box[0]) * (obj.box[3] - obj.box[1])
        area *= (box[2] - box[0]) * (box[3] - box[1]) / before
    keypoints = transform.map_keypoints(obj.keypoints, case.image_size, flip_idx)
    return {"keypoints": keypoints, "area": area, "oks": obj.oks, "max_error": obj.max_error}


def moved_mask(mask: MaskSpec, transform: Transform, size: tuple[int, int]) -> MaskSpec:
    """An expected mask in the transformed image: polygons mapped exactly, raster masks moved when used."""
    if not transform.geometric:
        return mask
    if mask.polygons is not None:
        return MaskSpec(polygons=tuple(transform.map_polygon(polygon, size) for polygon in mask.polygons))
    return MaskSpec(moved=(mask, transform, size))


def case_pixels(case: Case) -> np.ndarray:
    """The picture a case is judged on, RGB ``(height, width, 3)``: its image, transformed for a variant."""

    rgb = load_image(case.image)
    return rgb if case.transform is None else case.transform.apply_image(rgb)
