"""COCO JSON annotations to golden cases, and golden cases back to COCO JSON, losslessly.

Import reads detection and instance-segmentation annotations as CVAT, Label Studio and COCO itself
write them: ``bbox`` as ``[x, y, width, height]``, ``segmentation`` as polygons or RLE (compressed
string or run-length list), ``iscrowd`` regions. The RLE work is pycocotools'; the JSON is checked
field by field here, because pycocotools' own loader asserts, or fails deep inside, on a bad file.

What COCO has no field for (case names, tags, thresholds, the review flag) travels in an extra
``vision_harness`` key on images and annotations, which other tools ignore and keep.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pycocotools import mask as mask_utils

from harness.casefile.edit import number
from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, MaskSpec
from harness.core.errors import DatasetError, ImageError
from harness.core.geometry import compressed_rle_total, polygon_area, rle_area, rle_from_counts
from harness.core.images import image_size
from harness.golden.coco_keypoints import annotation_from_keypoints, keypoints_from_annotation
from harness.golden.export_common import check_format
from harness.golden.record import ModelInfo, NewCase, check_classes

EXTRA = "vision_harness"  # our key in COCO image and annotation records


def read_coco(annotations: Path, images: Path, model: ModelInfo) -> list[NewCase]:
    """The cases of a COCO annotation file: one per image, in the file's order.

    Args:
        annotations: the COCO JSON file.
        images: the folder that ``file_name`` of each image is relative to.
        model: the model the cases are for; class names map to its names, and a detect model's
            cases carry no masks.

    Raises:
        DatasetError: naming the file, the image or annotation, and the field.
    """
    document = _load_json(annotations)
    coco = _Coco(annotations, document)
    categories = coco.categories()
    by_image: dict[Any, list[tuple[int, Mapping]]] = {}
    image_ids = set()
    records = coco.records("images")
    for index, record in enumerate(records):
        image_id = coco.field(record, "id", f"images[{index}]")
        if image_id in image_ids:
            raise coco.error(f"images[{index}].id", f"{image_id!r} is the id of an earlier image too")
        image_ids.add(image_id)
    for index, ann in enumerate(coco.records("annotations", required=False)):
        where = f"annotations[{index}]"
        image_id = coco.field(ann, "image_id", where)
        if image_id not in image_ids:
            raise coco.error(f"{where}.image_id", f"{image_id!r} is not the id of any image")
        by_image.setdefault(image_id, []).append((index, ann))
    used = sorted({categories.get(ann.get("category_id"), "") for anns in by_image.values() for _, ann in anns} - {""})
    check_classes(annotations, used, list(categories.values()), model)

    cases = []
    for index, record in enumerate(records):
        where = f"images[{index}]"
        file_name = coco.field(record, "file_name", where)
        if not isinstance(file_name, str) or not file_name:
            raise coco.error(f"{where}.file_name", f"expected a file name, got {file_name!r}")
        path = (images / file_name).resolve()
        width, height = _image_size(coco, where, record, path)
        objects = [
            _object(
                coco, f"annotations[{i}] (id {ann.get('id')!r}, image {file_name!r})", ann, categories, width, height
            )
            for i, ann in by_image.get(record["id"], [])
        ]
        dropped = unjudged_fields(model.task)
        objects = [{k: v for k, v in obj.items() if k not in dropped} for obj in objects]
        extra = record.get(EXTRA) if isinstance(record.get(EXTRA), Mapping) else {}
        cases.append(
            NewCase(
                image=path,
                objects=tuple(objects),
                name=extra.get("case"),
                tags=tuple(extra.get("tags", ())),
                thresholds=dict(extra.get("thresholds", {})),
                recorded=extra.get("recorded"),
            )
        )
    return cases


def unjudged_fields(task: str) -> tuple[str, ...]:
    """What a ``task`` model cannot be judged on: masks (detect), keypoints and their area (not pose)."""
    return ("mask",) * (task == "detect") + ("keypoints", "area") * (task != "pose")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(path, None, "file not found") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(path, None, f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(path, None, f"cannot read the file: {exc}") from None


class _Coco:
    """Field access that raises a DatasetError naming the file and the record."""

    def __init__(self, path: Path, document: Any):
        if not isinstance(document, dict):
            raise DatasetError(path, None, "not a COCO annotation file: expected a JSON object with images")
        self.path = path
        self.document = document

    def error(self, where: str, message: str) -> DatasetError:
        return DatasetError(self.path, where, message)

    def records(self, key: str, *, required: bool = True) -> list[Mapping]:
        if key not in self.document:
            if required:
                raise self.error(key, "missing: a COCO file lists its images, annotations and categories")
            return []
        value = self.document[key]
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise self.error(key, "expected a list of JSON objects")
        return value

    def field(self, record: Mapping, key: str, where: str) -> Any:
        if key not in record:
            raise self.error(f"{where}.{key}", "missing")
        return record[key]

    def categories(self) -> dict[Any, str]:
        names: dict[Any, str] = {}
        for index, record in enumerate(self.records("categories")):
            name = self.field(record, "name", f"categories[{index}]")
            if not isinstance(name, str) or not name:
                raise self.error(f"categories[{index}].name", f"expected a class name, got {name!r}")
            names[self.field(record, "id", f"categories[{index}]")] = name
        return names


def _image_size(coco: _Coco, where: str, record: Mapping, path: Path) -> tuple[int, int]:
    try:
        width, height = image_size(path)
    except ImageError as exc:
        raise coco.error(where, f"{exc} (file names are relative to --images)") from None
    said = (record.get("width"), record.get("height"))
    if said != (None, None) and said != (width, height):
        raise coco.error(
            where,
            f"the file says {said[0]}x{said[1]} but {path.name} is {width}x{height} as displayed "
            "(annotations must refer to the image with its EXIF orientation applied)",
        )
    return width, height


def _object(
    coco: _Coco, where: str, ann: Mapping, categories: Mapping[Any, str], width: int, height: int
) -> dict[str, Any]:
    category = coco.field(ann, "category_id", where)
    if category not in categories:
        raise coco.error(f"{where}.category_id", f"{category!r} is not the id of any category")
    crowd = ann.get("iscrowd", 0)
    if crowd not in (0, 1, True, False):
        raise coco.error(f"{where}.iscrowd", f"expected 0 or 1, got {crowd!r}")
    mask = _mask(coco, f"{where}.segmentation", ann.get("segmentation"), width, height)
    if "bbox" in ann:
        box = _box(coco, f"{where}.bbox", ann["bbox"], width, height)
    elif mask is not None:
        box = _mask_box(mask, width, height)
    else:
        raise coco.error(f"{where}.bbox", "missing, and there is no segmentation to take it from")
    obj: dict[str, Any] = {"class": categories[category], "box": box}
    if mask is not None:
        obj["mask"] = mask
    if crowd:
        obj["crowd"] = True
    obj.update(keypoints_from_annotation(coco.error, where, ann, width, height))  # pose annotations
    extra = ann.get(EXTRA)
    if isinstance(extra, Mapping):
        obj.update({k: extra[k] for k in ("box_iou", "mask_iou", "oks", "max_error") if k in extra})
    return obj


def _box(coco: _Coco, where: str, bbox: Any, width: int, height: int) -> list[float]:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
        raise coco.error(where, f"expected [x, y, width, height], got {bbox!r}")
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        raise coco.error(where, f"the box has no area ({w} x {h}): fix or delete the annotation")
    x1, y1 = number(min(max(x, 0), width)), number(min(max(y, 0), height))
    x2, y2 = number(min(max(x + w, 0), width)), number(min(max(y + h, 0), height))
    if x2 <= x1 or y2 <= y1:
        raise coco.error(where, f"the box lies outside the {width}x{height} image")
    return [x1, y1, x2, y2]


def _mask(coco: _Coco, where: str, segmentation: Any, width: int, height: int) -> Any:
    if segmentation is None or segmentation == []:
        return None
    if isinstance(segmentation, dict):
        size, counts = segmentation.get("size"), segmentation.get("counts")
        if size != [height, width]:
            raise coco.error(f"{where}.size", f"expected [{height}, {width}] (height, width), got {size!r}")
        if isinstance(counts, str):
            if compressed_rle_total(counts) != height * width:
                raise coco.error(f"{where}.counts", "not a valid COCO RLE string for this image size")
        elif not (
            isinstance(counts, list)
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
            and sum(counts) == height * width
        ):
            raise coco.error(f"{where}.counts", f"expected run lengths that sum to {height}*{width}")
        return {"rle": {"size": [height, width], "counts": counts}}
    if not isinstance(segmentation, list):
        raise coco.error(where, "expected a list of polygons or an RLE object")
    polygons = []
    for p, flat in enumerate(segmentation):
        here = f"{where}[{p}]"
        if not (isinstance(flat, list) and all(_is_number(v) for v in flat)) or len(flat) % 2:
            raise coco.error(here, "expected a flat list of x, y numbers")
        if len(flat) < 6:
            raise coco.error(here, f"a polygon needs at least 3 points, got {len(flat) // 2}")
        if polygon_area(flat) == 0:
            raise coco.error(here, "the polygon has zero area (its points are collinear): fix or delete it")
        # Annotation tools put points a hair outside the picture; the case format needs them inside.
        polygons.append(
            [
                [number(min(max(x, 0), width)), number(min(max(y, 0), height))]
                for x, y in zip(flat[::2], flat[1::2], strict=True)
            ]
        )
    return polygons[0] if len(polygons) == 1 else polygons


def _mask_box(mask: Any, width: int, height: int) -> list[float]:
    """The tight box of a mask, for annotations that give a segmentation and no bbox."""

    if "rle" in mask:
        rle = rle_from_counts(mask["rle"]["size"], mask["rle"]["counts"])
    else:
        groups = [mask] if not isinstance(mask[0][0], list) else mask
        rle = MaskSpec(polygons=tuple(tuple(v for point in g for v in point) for g in groups)).to_rle(height, width)
    x, y, w, h = mask_utils.toBbox(rle).tolist()
    return [number(x), number(y), number(x + w), number(y + h)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def write_coco(case_file: Path, out: Path, *, images: Path | None = None, class_names: Sequence[str] = ()) -> int:
    """Export a case file's cases as COCO JSON; returns the number of images written.

    ``file_name`` is relative to ``images`` (default: the deepest folder holding every image).
    Categories are ``class_names`` (the model's, in its order) then any other class the cases use.
    A ``png`` mask becomes compressed RLE; everything else comes back unchanged on import.
    """

    loaded = load_case_file(case_file, check_model=False)
    broken = [c for c in loaded.cases if isinstance(c, BrokenCase)]
    if broken:
        raise broken[0].error
    check_format(case_file, loaded.task, "coco")  # COCO has no oriented boxes and no image labels: nothing half-written
    raw_cases = _raw_cases(case_file)
    paths = [case.image for case in loaded.cases]
    root = images.resolve() if images else Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    names = list(dict.fromkeys([*class_names, *(o["class"] for c in raw_cases for o in c.get("objects", []))]))
    category = {name: i + 1 for i, name in enumerate(names)}
    coco: dict[str, Any] = {
        "info": {"description": f"exported by vision-harness from {case_file.name}"},
        "images": [],
        "annotations": [],
        "categories": [{"id": category[name], "name": name} | _keypoint_names(loaded) for name in names],
    }
    for image_id, (case, raw) in enumerate(zip(loaded.cases, raw_cases, strict=True), start=1):
        width, height = case.image_size
        extra = {"case": case.name}
        extra.update({key: raw[key] for key in ("tags", "thresholds", "recorded") if key in raw})
        coco["images"].append(
            {
                "id": image_id,
                "file_name": Path(os.path.relpath(case.image, root)).as_posix(),
                "width": width,
                "height": height,
                EXTRA: extra,
            }
        )
        for obj, spec in zip(raw["objects"], case.objects, strict=True):
            ann = _annotation(obj, spec, (height, width), image_id=image_id, category_id=category[obj["class"]])
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, **ann})
    out.write_text(json.dumps(coco, indent=1) + "\n", encoding="utf-8")
    return len(coco["images"])


def _annotation(obj: dict, spec: Any, size: tuple[int, int], *, image_id: int, category_id: int) -> dict[str, Any]:
    """One expected object as a COCO annotation (without its id): ``obj`` as written, ``spec`` as loaded."""
    height, width = size
    x1, y1, x2, y2 = obj["box"]
    ann: dict[str, Any] = {
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [x1, y1, number(x2 - x1), number(y2 - y1)],
        "iscrowd": int(bool(obj.get("crowd", False))),
        "segmentation": [],
    }
    mask = obj.get("mask")
    if isinstance(mask, dict) and "png" in mask:
        rle = spec.mask.to_rle(height, width)
        ann["segmentation"] = {"size": [height, width], "counts": rle["counts"].decode("ascii")}
    elif isinstance(mask, dict):
        ann["segmentation"] = {"size": [height, width], "counts": mask["rle"]["counts"]}
    elif mask:
        groups = [mask] if not isinstance(mask[0][0], list) else mask
        ann["segmentation"] = [[v for point in polygon for v in point] for polygon in groups]
    ann["area"] = _area(spec, height, width) if spec.mask else number((x2 - x1) * (y2 - y1))
    ann.update(annotation_from_keypoints(obj, spec))  # pose objects: keypoints, and their area: as COCO's area
    thresholds = {k: obj[k] for k in ("box_iou", "mask_iou", "oks", "max_error") if k in obj}
    if thresholds:
        ann[EXTRA] = thresholds
    return ann


def _keypoint_names(loaded: Any) -> dict[str, Any]:
    """A pose file's keypoint names, as COCO lists them on each category."""
    if loaded.keypoints is None:
        return {}
    spec = loaded.keypoints  # COCO's skeleton counts keypoints from 1
    return {"keypoints": list(spec.names), "skeleton": [[i + 1, j + 1] for i, j in spec.skeleton]}


def _area(spec: Any, height: int, width: int) -> int:
    return rle_area(spec.mask.to_rle(height, width))


def _raw_cases(path: Path) -> list[dict[str, Any]]:
    """The cases as written (no defaults filled in), so the export carries exactly what the file says."""

    return yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
