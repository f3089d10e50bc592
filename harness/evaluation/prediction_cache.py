"""A disk cache of predictions, so that a rerun with nothing changed does no inference at all.

An entry is keyed by everything that decides a prediction: the model file's sha256, the image
bytes' sha256, the predict arguments, the device, and the ultralytics and torch versions (read from
package metadata, so a warm run never imports torch). Entries are small JSON files: boxes, class
names and scores as numbers, masks as COCO compressed RLE strings. Every write goes to a temporary
file that is then renamed over the entry, so concurrent pytest-xdist workers and interrupted runs
never leave a half-written entry; an entry that cannot be read is a miss and is written again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from glob import glob
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.atomic import write_bytes_atomically
from harness.evaluation.predictions import Predictions

# Bump when the entry layout or what goes into a prediction changes: old entries then just miss.
CACHE_FORMAT = 1


class PredictionCache:
    """Predictions and model facts (task, class names) under one directory."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def key(self, model_sha256: str, image: Path, arguments: Mapping[str, Any], device: str | None) -> str:
        """The entry name for one prediction: a sha256 over every input that can change it."""
        parts = {
            "format": CACHE_FORMAT,
            "model": model_sha256,
            "image": file_digest(str(image), *_stat(image)),
            "arguments": dict(arguments),
            "device": resolved_device(device),
            "versions": library_versions(),
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> tuple[Predictions, str] | None:
        """The predictions stored under ``key`` and the device that made them, or None."""
        entry = self._read(self._prediction_path(key))
        try:
            return predictions_from_json(entry), str(entry["device"])
        except (KeyError, TypeError, ValueError):
            return None  # missing, or written by hand or another layout: predict again and overwrite

    def put(self, key: str, predictions: Predictions, device_used: str) -> None:
        self._write(self._prediction_path(key), {**predictions_to_json(predictions), "device": device_used})

    def model_facts(self, model_sha256: str) -> dict[str, Any] | None:
        """``{"task": ..., "names": {id: name}}`` of a model seen before, without loading it."""
        facts = self._read(self.directory / "models" / f"{model_sha256}-{library_versions()['ultralytics']}.json")
        if not facts or not isinstance(facts.get("names"), dict) or not isinstance(facts.get("task"), str):
            return None
        return {"task": facts["task"], "names": {int(k): v for k, v in facts["names"].items()}}

    def put_model_facts(self, model_sha256: str, task: str, names: Mapping[int, str]) -> None:
        path = self.directory / "models" / f"{model_sha256}-{library_versions()['ultralytics']}.json"
        self._write(path, {"task": task, "names": {str(k): v for k, v in names.items()}})

    def _prediction_path(self, key: str) -> Path:
        return self.directory / "predictions" / key[:2] / f"{key}.json"

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            value = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    @staticmethod
    def _write(path: Path, value: dict) -> None:
        with contextlib.suppress(OSError):  # a read-only or full disk costs speed, never a result
            write_bytes_atomically(path, json.dumps(value, separators=(",", ":")).encode())


def predictions_to_json(predictions: Predictions) -> dict[str, Any]:
    masks = None
    if predictions.masks is not None:
        masks = [rle["counts"].decode("ascii") for rle in predictions.masks]
    return {
        "image_size": list(predictions.image_size),
        "boxes": predictions.boxes.tolist(),  # float64 survives JSON exactly, so hits equal fresh predictions
        "class_names": list(predictions.class_names),
        "scores": predictions.scores.tolist(),
        "masks": masks,
    }


def predictions_from_json(entry: Mapping[str, Any]) -> Predictions:
    width, height = (int(v) for v in entry["image_size"])
    boxes = np.asarray(entry["boxes"], dtype=np.float64).reshape(-1, 4)
    names = tuple(str(name) for name in entry["class_names"])
    scores = np.asarray(entry["scores"], dtype=np.float64).reshape(-1)
    masks = entry["masks"]
    if masks is not None:
        masks = [{"size": [height, width], "counts": str(counts).encode("ascii")} for counts in masks]
    if not len(boxes) == len(names) == len(scores) or (masks is not None and len(masks) != len(names)):
        raise ValueError("entry lengths differ")
    return Predictions(boxes=boxes, class_names=names, scores=scores, masks=masks, image_size=(width, height))


@functools.lru_cache(maxsize=65536)
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file's bytes; size and mtime are part of the memo key, so an edited file is read again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@functools.cache
def library_versions() -> dict[str, str]:
    """Versions of the libraries that compute predictions, from package metadata (no import)."""
    versions = {}
    for package in (
        "ultralytics",
        "torch",
        "torchvision",
        "numpy",
        "opencv-python",
        "opencv-python-headless",
        "pillow",
        "pycocotools",
        "onnxruntime",  # runs ONNX models (export parity, or an ONNX model as the model itself)
        "onnxruntime-gpu",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "none"
    return versions


def resolved_device(device: str | None) -> str:
    """The device a request runs on (see ``_resolved_device``), asked once per request and setting."""
    return _resolved_device(device, os.environ.get("CUDA_VISIBLE_DEVICES"))


@functools.cache
def _resolved_device(device: str | None, visible: str | None) -> str:
    """The device a request runs on, told without importing torch.

    An explicit device is itself. Ultralytics' automatic choice is the first CUDA GPU when there is
    one, else the CPU; an NVIDIA driver node tells which (a CPU-only torch on a GPU machine would
    be labelled cuda, but consistently so on that machine, so entries stay right for it).
    """
    if device:
        return device.strip().lower()
    if visible is not None and visible.strip() in ("", "-1"):
        return "auto:cpu"
    return "auto:cuda" if glob("/dev/nvidia[0-9]*") else "auto:cpu"
