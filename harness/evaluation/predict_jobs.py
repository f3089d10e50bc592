"""Predicting ahead of a run (``vision-harness predict``): the images one model must predict with
one set of predict arguments, and predicting them here, into the prediction cache. The same jobs
run on a Ray cluster in ``harness.evaluation.ray_predict``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.evaluation.cache_store import ErrorReporter, cache_store
from harness.evaluation.image_batches import Source
from harness.evaluation.models import ModelPool
from harness.evaluation.prediction_cache import PredictionCache


@dataclass(frozen=True)
class PredictJob:
    """Images (files, or files put through a transform) that ``model`` predicts with ``arguments``."""

    model: str
    arguments: Mapping[str, Any]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class CacheTarget:
    """Where predictions made ahead go: a local folder (pytest's cache folder of the project), a
    shared store's URL, or both; the options the pytest run will use, so that the keys match."""

    folder: Path | None
    url: str | None
    device: str | None = None
    half: bool = False
    batch: int | None = None
    trust_pickles: bool = False

    def cache(self, on_error: ErrorReporter | None = None) -> PredictionCache:
        store = cache_store(self.folder, self.url, **({"on_error": on_error} if on_error else {}))
        if store is None:
            raise HarnessError(
                "predictions made ahead need a cache to go to: drop --no-local-cache or give --cache-url"
            )
        return PredictionCache(store=store)

    def pool(self, on_error: ErrorReporter | None = None) -> ModelPool:
        return ModelPool(
            self.device, cache=self.cache(on_error), half=self.half, batch=self.batch, trust_pickles=self.trust_pickles
        )


@dataclass
class PredictCounts:
    """What predicting ahead did, per model spec."""

    predicted: dict[str, int] = field(default_factory=dict)
    from_cache: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, spec: str, predicted: int, from_cache: int, seconds: float) -> None:
        self.predicted[spec] = self.predicted.get(spec, 0) + predicted
        self.from_cache[spec] = self.from_cache.get(spec, 0) + from_cache
        self.seconds[spec] = self.seconds.get(spec, 0.0) + seconds

    def lines(self) -> list[str]:
        return [
            f"{Path(spec).name}: {self.predicted[spec]} images predicted in {self.seconds[spec]:.1f} s, "
            f"{self.from_cache[spec]} already in the cache"
            for spec in self.predicted
        ]


def predict_here(
    jobs: Sequence[PredictJob], target: CacheTarget, on_error: ErrorReporter | None = None
) -> PredictCounts:
    """Predict every job's images that the cache lacks, in this process, in batches of one image size."""
    pool = target.pool(on_error)
    for job in jobs:
        pool.get(job.model).predict_many(list(job.sources), job.arguments)
    counts = PredictCounts()
    for model in pool.used():
        counts.add(model.spec, model.images_predicted, model.images_from_cache, model.seconds_predicting)
    return counts
