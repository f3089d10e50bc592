"""A disk cache of predictions, so that a rerun with nothing changed does no inference at all.

An entry is keyed by everything that decides a prediction: the model file's sha256, the image
bytes' sha256, the predict arguments, the device, and the ultralytics and torch versions (read from
package metadata, so a warm run never imports torch). Entries are small JSON files: boxes, class
names and scores as numbers, masks as COCO compressed RLE strings, after a header line holding the
sha256 of the entry (``harness.core.sealed``). Every write goes to a temporary file that is then
renamed over the entry, so concurrent pytest-xdist workers and interrupted runs never leave a
half-written entry. An entry whose digest does not match (a flipped byte, a cut-off or torn file),
that does not decode, or that holds what the writer never writes (NaN, infinities, wrong shapes,
non-positive sizes) is a miss: the image is predicted again and the entry written again. A cache
entry can make a run slower, never change a verdict, and never raise.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from glob import glob
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from harness.core.sealed import SCHEME, seal, unseal
from harness.evaluation.cache_store import FolderStore, Store
from harness.evaluation.predictions import Predictions

# Bump when the entry layout or what goes into a prediction changes: old entries then just miss.
CACHE_FORMAT = 3  # 3: keypoints (pose), and a model's kpt_shape among its facts
ENTRY_KEYS = {"image_size", "boxes", "class_names", "scores", "masks", "keypoints", "device"}
# Written only for obb and classify models, which older harness versions refused: no old entry lacks them.
TASK_KEYS = {"obb", "ranked"}
MAX_IMAGE_SIDE = 1 << 20  # pixels; a bigger side is damage, and a mask of it would not fit in memory
FLOAT_MAX = sys.float_info.max  # the largest finite float
RLE_COUNTS = re.compile(r"[0-o]*")  # pycocotools' compressed counts: characters 48 to 111


class PredictionCache:
    """Predictions and model facts (task, class names) in one store: a folder, a shared store
    (``harness.evaluation.cache_store``), or both."""

    def __init__(self, directory: Path | None = None, *, store: Store | None = None):
        if (directory is None) == (store is None):
            raise ValueError("give a cache directory or a store, not both")
        self.store: Store = store if store is not None else FolderStore(Path(directory))
        self.directory = getattr(self.store, "directory", None)  # the local folder, when the store is one

    def key(self, model_sha256: str, image: Path, arguments: Mapping[str, Any], device: str | None) -> str:
        """The entry name for one prediction: a sha256 over every input that can change it."""
        parts = {
            "format": CACHE_FORMAT,
            "sealed": SCHEME,  # entries sealed another way get other names, so they never overwrite each other
            "model": model_sha256,
            "image": file_digest(str(image), *_stat(image)),
            "arguments": dict(arguments),
            "device": resolved_device(device),
            "versions": library_versions(),
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> tuple[Predictions, str] | None:
        """The predictions stored under ``key`` and the device that made them, or None."""
        entry = self._read(self.prediction_name(key))
        if (
            entry is None
            or not ENTRY_KEYS <= set(entry) <= ENTRY_KEYS | TASK_KEYS
            or not isinstance(entry["device"], str)
        ):
            return None
        try:
            return predictions_from_json(entry), entry["device"]
        except ValueError:
            return None  # not what put() writes: predict again, and put() overwrites it

    def put(self, key: str, predictions: Predictions, device_used: str) -> None:
        self._write(self.prediction_name(key), {**predictions_to_json(predictions), "device": device_used})

    def model_facts(self, model_sha256: str) -> dict[str, Any] | None:
        """``{"task": ..., "names": {id: name}, "kpt_shape": ...}`` of a model seen before, without loading it."""
        facts = self._read(self._facts_name(model_sha256))
        if facts is None or set(facts) != {"task", "names", "kpt_shape"} or not isinstance(facts["task"], str):
            return None
        names = facts["names"]
        if not isinstance(names, dict) or not all(_is_class_id(k) and isinstance(v, str) for k, v in names.items()):
            return None
        shape = facts["kpt_shape"]
        if shape is not None and not (isinstance(shape, list) and len(shape) == 2 and all(_is_count(v) for v in shape)):
            return None
        return {"task": facts["task"], "names": {int(k): v for k, v in names.items()}, "kpt_shape": shape}

    def put_model_facts(
        self, model_sha256: str, task: str, names: Mapping[int, str], kpt_shape: list[int] | None = None
    ) -> None:
        facts = {"task": task, "names": {str(k): v for k, v in names.items()}, "kpt_shape": kpt_shape}
        self._write(self._facts_name(model_sha256), facts)

    @staticmethod
    def _facts_name(model_sha256: str) -> str:
        return f"models/{model_sha256}-{library_versions()['ultralytics']}-{CACHE_FORMAT}.json"

    @staticmethod
    def prediction_name(key: str) -> str:
        """The entry's name in the store: the same in a folder and in a bucket."""
        return f"predictions/{key[:2]}/{key}.json"

    def prediction_path(self, key: str) -> Path:
        """The entry's file, for a cache kept in a folder."""
        if self.directory is None:
            raise ValueError("this cache keeps no local folder")
        return self.directory / self.prediction_name(key)

    def _read(self, name: str) -> dict | None:
        """The entry ``name`` if its digest holds (checked before any decoding) and it is a JSON object."""
        entry = self.store.read(name)
        payload = None if entry is None else unseal(entry, self.context(name))
        if payload is None:
            return None
        try:
            value = json.loads(bytes(payload))
        except (ValueError, RecursionError):  # RecursionError: a deeply nested array in a hand-sealed entry
            return None
        return value if isinstance(value, dict) else None

    def _write(self, name: str, value: dict) -> None:
        self.store.write(name, seal(json.dumps(value, separators=(",", ":")).encode(), self.context(name)))

    @staticmethod
    def context(name: str | Path) -> str:
        """What an entry's digest binds it to: its file name (the key), so a copy under another key misses."""
        return f"{SCHEME} {PurePosixPath(name).name}"


def predictions_to_json(predictions: Predictions) -> dict[str, Any]:
    masks = None
    if predictions.masks is not None:
        masks = [rle["counts"].decode("ascii") for rle in predictions.masks]
    entry = {
        "image_size": list(predictions.image_size),
        "boxes": predictions.boxes.tolist(),  # float64 survives JSON exactly, so hits equal fresh predictions
        "class_names": list(predictions.class_names),
        "scores": predictions.scores.tolist(),
        "masks": masks,
        "keypoints": None if predictions.keypoints is None else predictions.keypoints.tolist(),
    }
    if predictions.obb is not None:
        entry["obb"] = predictions.obb.tolist()
    if predictions.ranked is not None:
        entry["ranked"] = [[name, score] for name, score in predictions.ranked]
    return entry


def predictions_from_json(entry: Mapping[str, Any]) -> Predictions:
    """The predictions ``predictions_to_json`` wrote. Raises ValueError for anything it cannot have
    written: wrong types or shapes, NaN or infinite numbers, scores outside [0, 1], sizes that are
    not positive, lengths that disagree, masks that are not RLE counts."""
    width, height = _image_size(entry["image_size"])
    boxes = _floats(entry["boxes"], row_length=4)
    scores = _floats(entry["scores"], row_length=None, low=0.0, high=1.0)
    names = entry["class_names"]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError("class names are not strings")
    masks = entry["masks"]
    if masks is not None:
        if not isinstance(masks, list) or not all(isinstance(c, str) and RLE_COUNTS.fullmatch(c) for c in masks):
            raise ValueError("masks are not RLE counts")
        masks = [{"size": [height, width], "counts": counts.encode("ascii")} for counts in masks]
    if not len(boxes) == len(names) == len(scores) or (masks is not None and len(masks) != len(names)):
        raise ValueError("entry lengths differ")
    keypoints = entry["keypoints"]
    if keypoints is not None:
        keypoints = _keypoints(keypoints, len(names))
    obb = _floats(entry["obb"], row_length=5) if "obb" in entry else None
    if obb is not None and len(obb) != len(names):
        raise ValueError("entry lengths differ")
    ranked = _ranked(entry["ranked"]) if "ranked" in entry else None
    return Predictions(boxes, tuple(names), scores, masks, (width, height), keypoints, obb=obb, ranked=ranked)


def _keypoints(value: Any, detections: int) -> np.ndarray:
    """``(N, K, 3)`` keypoints as ``predictions_to_json`` wrote them (x, y, confidence per keypoint)."""
    if not isinstance(value, list) or len(value) != detections or not all(isinstance(row, list) for row in value):
        raise ValueError("keypoints are not one list per detection")
    count = len(value[0]) if value else 0
    points = [point for row in value for point in row]
    if any(len(row) != count for row in value) or not all(isinstance(p, list) and len(p) == 3 for p in points):
        raise ValueError("keypoints are not K [x, y, confidence] per detection")
    flat = _floats(points, row_length=3)
    if flat.size and not (flat[:, 2].min() >= 0.0 and flat[:, 2].max() <= 1.0):
        raise ValueError("a keypoint confidence outside [0, 1]")
    return flat.reshape(detections, count, 3)


def _ranked(value: Any) -> tuple[tuple[str, float], ...]:
    """A classify model's ranked ``[name, score]`` pairs, as ``predictions_to_json`` wrote them."""
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and type(pair[1]) is float
        for pair in value
    ):
        raise ValueError("ranked classes are not [name, score] pairs")
    if not all(0.0 <= score <= 1.0 for _, score in value):
        raise ValueError("a score outside [0, 1]")
    return tuple((name, score) for name, score in value)


def _image_size(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2 or not all(type(v) is int for v in value):  # bool is not int
        raise ValueError("image size is not two integers")
    width, height = value
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise ValueError("image size out of range")
    return width, height


def _floats(value: Any, row_length: int | None, low: float = -FLOAT_MAX, high: float = FLOAT_MAX) -> np.ndarray:
    """A list of floats (``row_length`` None) or of rows of ``row_length`` floats, all in [low, high]
    (so never NaN or infinite), as float64. Plain Python checks: numpy's cost more on a few numbers."""
    rows = value if row_length is not None else [value]
    if not isinstance(value, list) or not all(isinstance(row, list) for row in rows):
        raise ValueError("not a list of numbers")
    if row_length is not None and any(len(row) != row_length for row in rows):
        raise ValueError(f"a row without {row_length} numbers")
    # The writer writes floats, which JSON keeps floats; NaN fails every comparison.
    if not all(type(v) is float and low <= v <= high for row in rows for v in row):
        raise ValueError(f"not all floats in [{low}, {high}]")
    return np.array(value, dtype=np.float64).reshape((-1, row_length) if row_length else -1)


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 < value < 1 << 16


def _is_class_id(key: Any) -> bool:
    """``key`` is ``str(i)`` of a class id ``i >= 0``, as ``put_model_facts`` writes them."""
    return isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 10 and str(int(key)) == key


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
