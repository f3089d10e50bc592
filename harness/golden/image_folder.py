"""An ImageFolder tree (``SPLIT/CLASS/*.jpg``, what Ultralytics' classify task trains on) to golden
classify cases: one case per image, its folder's name the expected label."""

from __future__ import annotations

from pathlib import Path

from harness.core.config import IMAGE_SUFFIXES
from harness.core.errors import DatasetError
from harness.golden.record import ModelInfo, NewCase, check_classes


def read_image_folder(root: Path, split: str | None, model: ModelInfo) -> list[NewCase]:
    """The cases of ``root/split`` (or ``root`` itself when ``split`` is None), sorted by class and file.

    Raises:
        DatasetError: the folder is missing, holds no class folders or no images, or a class is not the model's.
    """
    folder = root / split if split else root
    if not folder.is_dir():
        raise DatasetError(folder, None, "not a folder: expected SPLIT/CLASS/image files (an ImageFolder tree)")
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(folder, None, "no class folders in it: expected one folder of images per class")
    cases = []
    for class_folder in classes:
        images = sorted(p for p in class_folder.rglob("*") if p.suffix.lower().lstrip(".") in IMAGE_SUFFIXES)
        cases += [NewCase(image=image.resolve(), objects=(), label=class_folder.name) for image in images]
    if not cases:
        raise DatasetError(folder, None, "no images in its class folders")
    if model.task != "classify":
        raise DatasetError(folder, None, f"an ImageFolder tree holds labels; {model.name} is a {model.task} model")
    check_classes(folder, [case.label for case in cases], [p.name for p in classes], model)
    return cases
