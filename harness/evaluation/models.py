"""Running Ultralytics models: each model loaded at most once per session and device, each image
predicted at most once, in batches, and not at all when the prediction cache has it.

Boxes come back in original-image pixels (Ultralytics scales them back from the letterboxed input),
and masks are computed at the original resolution with ``retina_masks=True``: Ultralytics then
removes the letterbox padding from the mask logits before upsampling them to the image size, which
is the only way to compare masks pixel for pixel with the ground truth.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.core.errors import HarnessError, ModelError
from harness.core.geometry import masks_to_rles
from harness.core.images import image_size
from harness.evaluation.image_batches import ChunkReader, Source, bgr
from harness.evaluation.model_loading import load_yolo
from harness.evaluation.pose_predictions import kpt_shape_of, result_keypoints
from harness.evaluation.prediction_cache import PredictionCache, file_digest, resolved_device
from harness.evaluation.predictions import Predictions
from harness.evaluation.task_results import TASK_RESULTS

if TYPE_CHECKING:
    from harness.core.transforms import Transform

# An image to predict: a file, or a file put through a transform (a robustness variant).

SUPPORTED_TASKS = ("detect", "segment", "pose", "obb", "classify")
# Images per forward pass when --harness-batch is not given: batching only pays on a GPU.
DEFAULT_BATCH = {"cpu": 1, "cuda": 32, "mps": 8}


class Model:
    """One Ultralytics model on one device, loaded only when something must be predicted.

    Its task and class names come from the prediction cache when the cache has seen the model file,
    so a run whose every prediction is cached never imports torch.
    """

    def __init__(
        self,
        spec: str,
        device: str | None,
        *,
        cache: PredictionCache | None = None,
        half: bool = False,
        batch: int | None = None,
        trust_pickles: bool = False,
    ):
        self.spec = spec
        self.trust_pickles = trust_pickles  # load a .pt as a plain pickle (it may run code), not safely
        self.device = device
        self.cache = cache if self.sha256 is not None else None  # only a local file has a stable identity
        self.half = half
        self.batch = batch
        self._yolo: Any = None
        self._load_error: ModelError | None = None
        self._facts: tuple[str, dict[int, str], list[int] | None] | None = None  # task, names, kpt_shape
        self._cached_device: str | None = None
        self._predictions: dict[tuple[str, str], Predictions] = {}
        self.images_predicted = 0
        self.seconds_predicting = 0.0
        self.images_from_cache = 0

    @property
    def name(self) -> str:
        return Path(self.spec).name

    @property
    def task(self) -> str:
        return self._model_facts()[0]

    @property
    def names(self) -> dict[int, str]:
        return self._model_facts()[1]

    @property
    def kpt_shape(self) -> list[int] | None:
        return self._model_facts()[2]  # a pose model's [keypoints, 2 or 3]; None for the other tasks

    @property
    def yolo(self) -> Any:
        """The Ultralytics model itself, loaded on first use (raises ModelError when it cannot be)."""
        return self._load()

    @property
    def loaded(self) -> bool:
        return self._yolo is not None

    @property
    def device_used(self) -> str:
        """The device predictions ran on: Ultralytics' predictor's, else the cache's, else the requested one."""
        device = getattr(getattr(self._yolo, "predictor", None), "device", None)
        if device is not None:
            return str(device)
        return self._cached_device or self.device or "auto"

    @property
    def sha256(self) -> str | None:
        """The model file's sha256 (None for a model that is not a local file)."""
        return file_sha256(self.spec)

    @property
    def batch_size(self) -> int:
        kind = resolved_device(self.device).removeprefix("auto:").split(":")[0]
        return self.batch or DEFAULT_BATCH.get(kind, 1)

    def usage(self) -> dict[str, Any]:
        """What this process did with the model, for a pytest-xdist worker to send to the controller."""
        return {
            "spec": self.spec,
            "facts": self._facts,
            "device_used": self.device_used,
            "batch_size": self.batch_size,
            "images_predicted": self.images_predicted,
            "seconds_predicting": self.seconds_predicting,
            "images_from_cache": self.images_from_cache,
        }

    def absorb(self, usage: Mapping[str, Any]) -> None:
        """Count another process' work with this model as this one's (and learn its task and names)."""
        self._facts = self._facts or usage["facts"]
        self._cached_device = self._cached_device or usage["device_used"]
        self.batch = self.batch or usage["batch_size"]
        self.images_predicted += usage["images_predicted"]
        self.seconds_predicting += usage["seconds_predicting"]
        self.images_from_cache += usage["images_from_cache"]

    def predict(self, image: Path, arguments: Mapping[str, Any], transform: Transform | None = None) -> Predictions:
        """Predictions on ``image`` (``transform``-ed first, if given) with these predict arguments, computed once."""
        arguments = self._arguments(arguments)
        source = (image, transform)
        key = _memo_key(source, arguments)
        if key not in self._predictions:
            cached = self._from_cache(source, arguments)
            if cached is None:
                (cached,) = self._run([source], [bgr(source)], arguments)
            self._predictions[key] = cached
        return self._predictions[key]

    def predict_many(self, images: Sequence[Path | Source], arguments: Mapping[str, Any]) -> None:
        """Predict every image not predicted yet, in batches of images of one size; errors are left
        for ``predict`` to raise when the case of that image runs.

        A thread reads the next batch's images while the model runs on this one, so that decoding
        (2 ms a PNG here, as long as a small model's inference on a GPU) costs no wall time.
        """
        arguments = self._arguments(arguments)
        by_size: dict[tuple[int, int], list[Source]] = {}
        sources = [image if isinstance(image, tuple) else (image, None) for image in images]
        for source in dict.fromkeys(sources):
            if _memo_key(source, arguments) in self._predictions:
                continue
            try:
                cached = self._from_cache(source, arguments)
                if cached is not None:
                    self._predictions[_memo_key(source, arguments)] = cached
                    continue
                path, transform = source
                size = image_size(path) if transform is None else transform.output_size(image_size(path))
            except HarnessError:
                continue
            # Only images of one size share a batch: Ultralytics letterboxes a mixed batch to a full
            # square instead of the minimal rectangle, which would change predictions.
            by_size.setdefault(size, []).append(source)
        step = self.batch_size
        chunks = [paths[i : i + step] for paths in by_size.values() for i in range(0, len(paths), step)]
        if not chunks:
            return
        read_chunk = ChunkReader()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-images") as reader:
            pending = reader.submit(read_chunk, chunks[0])
            for index in range(len(chunks)):
                chunk = pending.result()
                if index + 1 < len(chunks):
                    pending = reader.submit(read_chunk, chunks[index + 1])
                if not chunk:
                    continue
                try:
                    results = self._run([source for source, _ in chunk], [pixels for _, pixels in chunk], arguments)
                except ModelError:
                    if not self.loaded:
                        pending.cancel()
                        return  # cannot load: every case will say so
                    continue
                for (source, _), predictions in zip(chunk, results, strict=True):
                    self._predictions[_memo_key(source, arguments)] = predictions

    def _arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return {**arguments, **({"quantize": 16} if self.half else {})}  # Ultralytics 8.4: quantize=16 is FP16

    def _from_cache(self, source: Source, arguments: Mapping[str, Any]) -> Predictions | None:
        if self.cache is None:
            return None
        try:
            found = self.cache.get(self._cache_key(source, arguments))
        except OSError:
            return None  # an unreadable image: predict() then names it
        if found is None:
            return None
        predictions, self._cached_device = found
        self.images_from_cache += 1
        return predictions

    def _model_facts(self) -> tuple[str, dict[int, str], list[int] | None]:
        if self._facts is None and self.cache is not None:
            facts = self.cache.model_facts(self.sha256)
            if facts is not None:
                self._facts = facts["task"], facts["names"], facts["kpt_shape"]
        if self._facts is None:
            model = self._load()
            self._facts = model.task, dict(model.names), kpt_shape_of(model)
        return self._facts

    def _load(self) -> Any:
        """The Ultralytics model, loaded on first use; a failed load fails the same way every time after."""
        if self._load_error is not None:
            raise self._load_error
        if self._yolo is None:
            try:
                with _quiet_ultralytics():
                    yolo = load_yolo(self.spec, trust_pickles=self.trust_pickles)
            except ModelError as exc:
                self._load_error = exc
                raise
            except Exception as exc:  # Ultralytics raises many kinds; all mean "cannot load"
                self._load_error = ModelError(f"cannot load model {self.spec}: {_first_line(exc)}")
                raise self._load_error from None
            if yolo.task not in SUPPORTED_TASKS:
                self._load_error = ModelError(
                    f"model {self.spec} is a {yolo.task} model; the harness runs {', '.join(SUPPORTED_TASKS)} models"
                )
                raise self._load_error
            self._yolo = yolo
            if self.cache is not None:
                self.cache.put_model_facts(self.sha256, yolo.task, yolo.names, kpt_shape_of(yolo))
        return self._yolo

    def _cache_key(self, source: Source, arguments: Mapping[str, Any]) -> str:
        path, transform = source
        if transform is not None:
            arguments = {**arguments, "harness_transform": transform.cache_id}  # the source's digest plus the transform
        return self.cache.key(self.sha256, path, arguments, self.device)

    def _run(self, sources: list[Source], images: list[np.ndarray], arguments: Mapping[str, Any]) -> list[Predictions]:
        """Predict BGR images (one batch) and convert the results; fills the cache."""
        model = self._load()
        extra = {"device": self.device} if self.device else {}
        started = time.perf_counter()
        try:
            with _quiet_ultralytics():
                results = model.predict(
                    images,  # a list is one batch
                    verbose=False,
                    retina_masks=True,
                    **extra,
                    **arguments,
                )
        except Exception as exc:
            first = _describe_source(sources[0])
            where = first if len(sources) == 1 else f"a batch of {len(sources)} images from {first}"
            raise ModelError(f"model {self.spec} failed on {where}: {_first_line(exc)}") from None
        self.seconds_predicting += time.perf_counter() - started
        self.images_predicted += len(sources)
        out = []
        for source, picture, result in zip(sources, images, results, strict=True):
            predictions = self._convert(_describe_source(source), picture.shape[:2], result)
            if self.cache is not None:
                self.cache.put(self._cache_key(source, arguments), predictions, self.device_used)
            out.append(predictions)
        return out

    def _convert(self, path: str, shape: tuple[int, int], result: Any) -> Predictions:
        height, width = shape
        if self.task in TASK_RESULTS:
            return TASK_RESULTS[self.task](result, self.names, (width, height))
        boxes = result.boxes
        class_ids = boxes.cls.cpu().numpy().astype(int)
        masks = None
        if self.task == "segment":
            masks = []
            if result.masks is not None:
                dense = result.masks.data.cpu().numpy()
                if dense.shape[1:] != (height, width):
                    raise ModelError(f"model {self.spec} returned {dense.shape[1:]} masks for {path}, {height}x{width}")
                masks = masks_to_rles(dense)
        return Predictions(
            boxes=boxes.xyxy.cpu().numpy().astype(np.float64),
            class_names=tuple(self.names[int(i)] for i in class_ids),
            scores=boxes.conf.cpu().numpy().astype(np.float64),
            masks=masks,
            image_size=(width, height),
            keypoints=result_keypoints(result, self.kpt_shape, len(class_ids)) if self.task == "pose" else None,
        )


def _memo_key(source: Source, arguments: Mapping[str, Any]) -> tuple[str, str, str]:
    path, transform = source
    return str(path), transform.id if transform else "", json.dumps(dict(arguments), sort_keys=True, default=str)


def _describe_source(source: Source) -> str:
    path, transform = source
    return str(path) if transform is None else f"{path} [{transform.id}]"


def file_sha256(spec: str) -> str | None:
    """sha256 of a model file; None when ``spec`` is not a local file."""
    path = Path(spec)
    if not path.is_file():
        return None
    stat = path.stat()
    return file_digest(str(path), stat.st_size, stat.st_mtime_ns)


class ModelPool:
    """Models by spec, all on one device, sharing one prediction cache (or none)."""

    def __init__(
        self,
        device: str | None,
        *,
        cache: PredictionCache | None = None,
        half: bool = False,
        batch: int | None = None,
        trust_pickles: bool = False,
    ) -> None:
        self.device = device
        self._options = {"cache": cache, "half": half, "batch": batch, "trust_pickles": trust_pickles}
        self._models: dict[str, Model] = {}

    def get(self, spec: str) -> Model:
        """The model (not loaded yet: that happens when it must predict). Raises ModelError for a
        model that cannot be loaded, when its task or names are needed."""
        if spec not in self._models:
            self._models[spec] = Model(spec, self.device, **self._options)
        return self._models[spec]

    def used(self) -> list[Model]:
        """Models that predicted or answered from the cache in this session."""
        return [m for m in self._models.values() if m.images_predicted or m.images_from_cache]


@contextlib.contextmanager
def _quiet_ultralytics():
    """Ultralytics' INFO lines muted (warnings still show) while it loads or runs a model: loading an export
    logs "Loading x.onnx for ONNX Runtime inference...", which pytest would show under a failing case."""
    from ultralytics.utils import LOGGER  # loaded only with a model, which imported it already

    level = LOGGER.level
    LOGGER.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        LOGGER.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
