"""DOTA labels (one ``.txt`` a picture: ``x1 y1 x2 y2 x3 y3 x4 y4 category difficult``, in pixels) to
golden obb cases.

Lines before the objects that hold no coordinates (DOTA v1's ``imagesource:`` and ``gsd:``) are
skipped. A ``difficult`` object (1) becomes a crowd region, as DOTA's evaluation ignores them: it need
not be found, and a detection on it is not an extra. The picture is the file of the same name in the
images folder, with any image suffix.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.casefile.edit import number
from harness.core.config import IMAGE_SUFFIXES
from harness.core.errors import DatasetError
from harness.golden.record import ModelInfo, NewCase, check_classes

HEADER_KEYS = ("imagesource:", "gsd:")


def read_dota(labels: Path, images: Path, model: ModelInfo) -> list[NewCase]:
    """One case per label file in ``labels``, sorted by name, its picture found in ``images``.

    Raises:
        DatasetError: naming the label file and line, or the missing picture.
    """
    if model.task != "obb":
        raise DatasetError(labels, None, f"DOTA labels are oriented boxes; {model.name} is a {model.task} model")
    files = sorted(labels.glob("*.txt")) if labels.is_dir() else []
    if not files:
        raise DatasetError(labels, None, "no .txt label files in this folder")
    pictures = {p.stem: p for p in images.iterdir() if p.suffix.lower().lstrip(".") in IMAGE_SUFFIXES}
    cases = []
    for label in files:
        if label.stem not in pictures:
            raise DatasetError(label, None, f"no picture named {label.stem}.* in {images}")
        cases.append(NewCase(image=pictures[label.stem].resolve(), objects=tuple(_objects(label))))
    used = [obj["class"] for case in cases for obj in case.objects]
    check_classes(labels, used, sorted(set(used)), model)
    return cases


def _objects(label: Path) -> list[dict[str, Any]]:
    objects = []
    for number_, line in enumerate(label.read_text(encoding="utf-8-sig").splitlines(), start=1):
        values = line.split()
        if not values or line.strip().lower().startswith(HEADER_KEYS):
            continue
        where = f"line {number_}"
        if len(values) not in (9, 10):
            raise DatasetError(label, where, f"expected x1 y1 ... x4 y4 category [difficult], got {len(values)} fields")
        try:
            coords = [float(v) for v in values[:8]]
        except ValueError:
            raise DatasetError(label, where, f"expected 8 numbers before the category, got {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in coords):
            raise DatasetError(label, where, "coordinates must be finite numbers")
        obj: dict[str, Any] = {
            "class": values[8],
            "obb": [[number(x), number(y)] for x, y in zip(coords[0::2], coords[1::2], strict=True)],
        }
        if len(values) == 10 and values[9] not in ("0", "1"):
            raise DatasetError(label, where, f"difficult must be 0 or 1, got {values[9]!r}")
        if len(values) == 10 and values[9] == "1":
            obj["crowd"] = True  # DOTA's evaluation ignores difficult objects, as COCO its crowd regions
        objects.append(obj)
    return objects
