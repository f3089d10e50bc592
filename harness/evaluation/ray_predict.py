"""Predicting ahead on Ray (``vision-harness predict --ray ADDRESS``): Ray Data hands the planned
images to a pool of actors, one model loaded per actor, a GPU each where the cluster has GPUs (Ray
assigns them: it sets each actor's CUDA_VISIBLE_DEVICES), the CPU otherwise.

Each actor writes its entries to the cache itself, through the same ``Model`` and prediction cache
as a pytest run (the same keys, the same sealed entries), so predictions never travel back through
the driver, and an actor that dies mid-way loses only its unwritten batch. So the store must be one
every actor reaches: a shared store's URL on a cluster; with ``--ray local`` (one machine) the
project's local cache folder will do. Images are read by the actors from the paths the case files
give: on a cluster, every node must see the checkout at the same path (a shared volume), see
docs/scale.md.

Imported only by ``vision-harness predict --ray``: Ray is an optional extra (``[ray]``).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.images import image_size
from harness.evaluation.models import DEFAULT_BATCH
from harness.evaluation.predict_jobs import CacheTarget, PredictCounts, PredictJob

LOCAL = "local"  # --ray local: start a Ray instance on this machine for this command


class _Predictor:
    """A Ray Data actor: one model, predicting batches of rows into the cache."""

    def __init__(self, model: str, target: CacheTarget):
        self.model = target.pool().get(model)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        by_arguments: dict[bytes, list] = {}
        for image, transform, arguments in zip(batch["image"], batch["transform"], batch["arguments"], strict=True):
            by_arguments.setdefault(arguments, []).append((Path(image), pickle.loads(transform)))
        before = self.model.images_predicted, self.model.images_from_cache, self.model.seconds_predicting
        for arguments, sources in by_arguments.items():
            self.model.predict_many(sources, pickle.loads(arguments))  # batches of one image size inside
        after = self.model.images_predicted, self.model.images_from_cache, self.model.seconds_predicting
        return {
            "predicted": [after[0] - before[0]],
            "from_cache": [after[1] - before[1]],
            "seconds": [after[2] - before[2]],
        }


def predict_on_ray(
    jobs: Sequence[PredictJob], target: CacheTarget, address: str, *, actors: int | None = None
) -> PredictCounts:
    """Predict the jobs' images on the Ray cluster at ``address`` (``local``: start one here)."""
    # Ray only for this command: it is an optional extra, and heavy to import.
    import ray
    import ray.data

    if address != LOCAL and not target.url:
        raise HarnessError(
            f"--ray {address}: the cluster's actors write the cache, so give --cache-url, a store they all reach"
        )
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address == LOCAL else address, include_dashboard=False, log_to_driver=False)
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        size = actors or max(1, gpus or int(ray.cluster_resources().get("CPU", 1)) // 2)
        counts = PredictCounts()
        for job in jobs:
            _run_job(ray.data, job, target, gpus, size, counts)
        return counts
    finally:
        if started:
            ray.shutdown()


def _run_job(data: Any, job: PredictJob, target: CacheTarget, gpus: int, size: int, counts: PredictCounts) -> None:
    # The driver may have no GPU: the batch size is the actors' device's (--batch, else the default).
    batch = target.batch or DEFAULT_BATCH["cuda" if gpus else "cpu"]
    arguments = pickle.dumps(dict(job.arguments))
    rows = []
    for path, transform in job.sources:
        try:
            shape = image_size(path) if transform is None else transform.output_size(image_size(path))
        except Exception:  # an unreadable image: the pytest run names it
            continue
        rows.append({"image": str(path), "transform": pickle.dumps(transform), "arguments": arguments, "size": shape})
    # Sorted by size, so that a batch holds images of one size (a mixed batch is split by size anyway).
    rows.sort(key=lambda row: row["size"])
    for row in rows:
        del row["size"]
    if not rows:
        return
    started = time.perf_counter()
    results = (
        data.from_items(rows)
        .map_batches(
            _Predictor,
            fn_constructor_args=(job.model, target),
            batch_size=batch,
            compute=data.ActorPoolStrategy(size=size),
            num_gpus=1 if gpus else 0,
            num_cpus=0 if gpus else 1,
        )
        .take_all()
    )
    predicted = sum(row["predicted"] for row in results)
    from_cache = sum(row["from_cache"] for row in results)
    counts.add(job.model, predicted, from_cache, time.perf_counter() - started)
