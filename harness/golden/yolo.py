"""Ultralytics YOLO datasets (``data.yaml``, ``images/``, ``labels/``) to golden cases.

Labels are read with Ultralytics' rules: one object per line, ``class cx cy w h`` for a box or
``class x1 y1 x2 y2 x3 y3 ...`` for a polygon, coordinates normalised to [0, 1] (a 1% overshoot is
clipped), the box of a polygon being its extremes, a missing label file meaning "no objects". The
label text is parsed here rather than by Ultralytics' ``verify_image_label``, because that one
rewrites a JPEG it finds corrupt in place, and an import must never change a user's images.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from harness.casefile.edit import number
from harness.core.config import IMAGE_SUFFIXES
from harness.core.errors import DatasetError, ImageError
from harness.core.geometry import polygon_area
from harness.core.images import image_size
from harness.golden.record import ModelInfo, NewCase, check_classes
from harness.golden.yolo_pose import kpt_shape, pose_object

SPLITS = ("train", "val", "test")


def read_yolo(data_yaml: Path, split: str, model: ModelInfo) -> list[NewCase]:
    """The cases of one split of a YOLO dataset: one per image, sorted by path.

    Raises:
        DatasetError: naming data.yaml, the label file and line, or the image.
    """
    data = _data(data_yaml)
    names = _names(data_yaml, data.get("names"))
    shape = kpt_shape(data_yaml, data.get("kpt_shape"))  # a pose dataset
    if split not in data or not data[split]:
        raise DatasetError(
            data_yaml,
            split,
            f"missing: the file names the splits {', '.join(s for s in SPLITS if data.get(s)) or 'none'}",
        )
    root = Path(data.get("path") or ".")
    root = root if root.is_absolute() else (data_yaml.parent / root)
    images = _images(data_yaml, split, data[split], root.resolve())
    from ultralytics.data.utils import img2label_paths  # the images/ -> labels/ convention, as Ultralytics has it

    oriented = model.task == "obb"  # an obb model's labels are four corners, not a 4-point polygon
    parsed = [
        (image, _labels(Path(label), image, names, shape, oriented=oriented))
        for image, label in zip(images, img2label_paths(images), strict=True)
    ]
    check_classes(data_yaml, [obj["class"] for _, objects in parsed for obj in objects], list(names.values()), model)
    cases = []
    for image, objects in parsed:
        if model.task == "detect":
            objects = [{k: v for k, v in obj.items() if k != "mask"} for obj in objects]
        if model.task != "pose":  # keypoints are judged only against a pose model's
            objects = [{k: v for k, v in obj.items() if k != "keypoints"} for obj in objects]
        cases.append(NewCase(image=Path(image), objects=tuple(objects)))
    return cases


def _data(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DatasetError(path, None, f"cannot read it as YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise DatasetError(path, None, "not an Ultralytics data.yaml: expected a mapping with names and splits")
    return data


def _names(path: Path, names: Any) -> dict[int, str]:
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise DatasetError(path, "names", "expected the class names, a list or a mapping of index to name")
    for index, name in names.items():
        if isinstance(index, bool) or not isinstance(index, int) or not isinstance(name, str) or not name:
            raise DatasetError(path, "names", f"expected index: name pairs, got {index!r}: {name!r}")
    return names


def _images(data_yaml: Path, split: str, value: Any, root: Path) -> list[str]:
    entries = value if isinstance(value, list) else [value]
    found: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise DatasetError(data_yaml, split, f"expected a folder or a .txt list of images, got {entry!r}")
        place = root / entry
        if place.is_dir():
            images = (p for p in place.rglob("*") if p.suffix.lower().lstrip(".") in IMAGE_SUFFIXES)
            found += sorted(str(p.resolve()) for p in images)
        elif place.is_file() and place.suffix == ".txt":
            lines = [line.strip() for line in place.read_text(encoding="utf-8").splitlines() if line.strip()]
            found += [str((place.parent / line).resolve()) for line in lines]
        else:
            raise DatasetError(data_yaml, split, f"{place} is neither a folder nor a .txt list of images")
    if not found:
        raise DatasetError(data_yaml, split, "no images found")
    return found


def _labels(
    label: Path, image: str, names: dict[int, str], shape: tuple[int, int] | None = None, *, oriented: bool = False
) -> list[dict[str, Any]]:
    """The objects of one label file; ``shape``: pose labels' keypoint shape; ``oriented``: Ultralytics'
    OBB labels, ``class x1 y1 ... x4 y4``."""
    try:
        width, height = image_size(Path(image))
    except ImageError as exc:
        raise DatasetError(label, None, str(exc)) from None
    if not label.is_file():
        return []  # Ultralytics' rule: an image without a label file shows no objects
    objects = []
    lines = label.read_text(encoding="utf-8-sig").splitlines()
    for number_, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number_}"
        values = line.split()
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            raise DatasetError(label, where, f"expected numbers, got {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in numbers):
            raise DatasetError(label, where, "coordinates must be finite numbers")
        index = numbers[0]
        if not index.is_integer() or int(index) not in names:
            raise DatasetError(label, where, f"class {values[0]} is not an index of data.yaml's names (0-{max(names)})")
        coords = numbers[1:]
        if shape is not None:  # pose: a box, then the keypoints
            objects.append({"class": names[int(index)]} | pose_object(label, where, coords, (width, height), shape))
            continue
        if oriented and len(coords) != 8:
            raise DatasetError(label, where, f"expected an oriented box's 4 corners (8 numbers), got {len(coords)}")
        if len(coords) != 4 and (len(coords) < 6 or len(coords) % 2):
            raise DatasetError(label, where, f"expected 4 numbers (box) or 3+ x y pairs (polygon), got {len(coords)}")
        if min(coords) < -0.01 or max(coords) > 1.01:
            raise DatasetError(label, where, "coordinates must be normalised to [0, 1]; these look like pixels")
        coords = [min(max(v, 0.0), 1.0) for v in coords]
        obj: dict[str, Any] = {"class": names[int(index)]}
        if len(coords) == 4:
            cx, cy, w, h = coords
            box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
            obj["box"] = [number(min(max(v, 0.0), limit)) for v, limit in zip(box, (width, height) * 2, strict=True)]
        else:
            points = [[number(x * width), number(y * height)] for x, y in zip(coords[::2], coords[1::2], strict=True)]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            obj["box"] = [min(xs), min(ys), max(xs), max(ys)]
            obj["obb" if oriented else "mask"] = points
            if polygon_area([v for point in points for v in point]) == 0:
                raise DatasetError(label, where, "the polygon has zero area (its points are collinear)")
        x1, y1, x2, y2 = obj.pop("box") if oriented else obj["box"]  # an oriented box is its corners alone
        if x2 <= x1 or y2 <= y1:
            raise DatasetError(label, where, "the object has no area at this image's size")
        objects.append(obj)
    return objects
