"""Loading and running Ultralytics models: each model once per session and device, each image once.

Boxes come back in original-image pixels (Ultralytics scales them back from the letterboxed input),
and masks are computed at the original resolution with ``retina_masks=True``: Ultralytics then
removes the letterbox padding from the mask logits before upsampling them to the image size, which
is the only way to compare masks pixel for pixel with the ground truth.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .geometry import masks_to_rles
from .images import load_image
from .predictions import Predictions

SUPPORTED_TASKS = ("detect", "segment")


class LoadedModel:
    """One Ultralytics model on one device, remembering its predictions for the session."""

    def __init__(self, spec: str, device: str | None):
        from ultralytics import YOLO

        self.spec = spec
        self.device = device
        try:
            self.model = YOLO(spec)
        except Exception as exc:  # Ultralytics raises many kinds; all mean "cannot load"
            raise ModelError(f"cannot load model {spec}: {_first_line(exc)}") from None
        self.task: str = self.model.task
        self.names: dict[int, str] = dict(self.model.names)
        if self.task not in SUPPORTED_TASKS:
            raise ModelError(f"model {spec} is a {self.task} model; the harness runs detect and segment models")
        self._predictions: dict[tuple[str, str], Predictions] = {}
        self.images_predicted = 0
        self.seconds_predicting = 0.0

    @property
    def name(self) -> str:
        return Path(self.spec).name

    @property
    def device_used(self) -> str:
        """The device predictions ran on (Ultralytics' predictor holds it; before any, the requested one)."""
        predictor = getattr(self.model, "predictor", None)
        device = getattr(predictor, "device", None)
        return str(device) if device is not None else self.device or "auto"

    @property
    def sha256(self) -> str | None:
        """The model file's sha256 (None for a model that is not a local file)."""
        return file_sha256(self.spec)

    def predict(self, image: Path, arguments: Mapping[str, Any]) -> Predictions:
        """Predictions on ``image`` with the given Ultralytics predict arguments, computed once."""
        key = (str(image), json.dumps(dict(arguments), sort_keys=True, default=str))
        if key not in self._predictions:
            self._predictions[key] = self._run(image, arguments)
        return self._predictions[key]

    def _run(self, image: Path, arguments: Mapping[str, Any]) -> Predictions:
        rgb = load_image(image)
        height, width = rgb.shape[:2]
        extra = {"device": self.device} if self.device else {}
        started = time.perf_counter()
        try:
            # Ultralytics takes numpy images as BGR, like cv2.imread.
            result = self.model.predict(
                np.ascontiguousarray(rgb[..., ::-1]), verbose=False, retina_masks=True, **extra, **arguments
            )[0]
        except Exception as exc:
            raise ModelError(f"model {self.spec} failed on {image}: {_first_line(exc)}") from None
        self.seconds_predicting += time.perf_counter() - started
        self.images_predicted += 1

        boxes = result.boxes
        class_ids = boxes.cls.cpu().numpy().astype(int)
        masks = None
        if self.task == "segment":
            masks = []
            if result.masks is not None:
                dense = result.masks.data.cpu().numpy()
                if dense.shape[1:] != (height, width):
                    raise ModelError(f"model {self.spec} returned {dense.shape[1:]} masks for a {height}x{width} image")
                masks = masks_to_rles(dense)
        return Predictions(
            boxes=boxes.xyxy.cpu().numpy().astype(np.float64),
            class_names=tuple(self.names[int(i)] for i in class_ids),
            scores=boxes.conf.cpu().numpy().astype(np.float64),
            masks=masks,
            image_size=(width, height),
        )


@functools.lru_cache(maxsize=64)
def file_sha256(spec: str) -> str | None:
    """sha256 of a model file, read in blocks; None when ``spec`` is not a local file."""
    path = Path(spec)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelPool:
    """Models by (spec, device), loaded on first use. A model that failed to load fails fast after."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str | None], LoadedModel | ModelError] = {}

    def get(self, spec: str, device: str | None) -> LoadedModel:
        key = (spec, device)
        if key not in self._models:
            try:
                self._models[key] = LoadedModel(spec, device)
            except ModelError as exc:
                self._models[key] = exc
        model = self._models[key]
        if isinstance(model, ModelError):
            raise model
        return model

    def loaded(self) -> list[LoadedModel]:
        return [m for m in self._models.values() if isinstance(m, LoadedModel)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
