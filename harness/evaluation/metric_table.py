"""A suite's metrics as a table looked up by gate path (``box.map50``, ``per_class.circle.mask.f1``,
``per_tag.night.box.recall``), with their bootstrap made once per resample count (and read back from
the bootstrap store when a run with the same verdicts drew it already). Computed by ``metrics.py``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from harness.evaluation.bootstrap import HEADLINE_AREAS, SEED, Bootstrap, CaseSample, complete, headline_bootstrap
from harness.evaluation.bootstrap_store import BootstrapStore
from harness.evaluation.resampled_map import AREAS


class SuiteMetrics:
    """Metrics of a set of judged cases. Keys look like ``box.map50_95`` or ``mask.f1``.

    A metric is absent when it is undefined: mAP with no expected objects at all, mask metrics
    when not every expected object has a mask, precision with no predictions. Per-tag metrics
    cost a COCO evaluation per tag and kind, so they are computed when first asked for.
    """

    def __init__(
        self,
        values: dict[str, float],
        per_class: dict[str, dict[str, float]],
        tags: Sequence[str],
        tag_values: Callable[[], dict[str, dict[str, float]]],
        images: int,
        samples: Callable[[tuple[str, ...]], list[CaseSample]] | None = None,
        tag_positions: dict[str, list[int]] | None = None,
        *,
        store: BootstrapStore | None = None,
        inputs: Callable[[], str] | None = None,
    ):
        self.values = values
        self.per_class = per_class
        self.tags = tuple(tags)
        self.images = images
        self._tag_values = tag_values
        self._per_tag: dict[str, dict[str, float]] | None = None
        self._samples = samples
        self.tag_positions = tag_positions or {}
        self._bootstraps: dict[int, Bootstrap] = {}
        self._complete: set[int] = set()
        self._store = store if inputs is not None else None
        self._inputs = inputs  # a digest of everything the bootstrap reads, for the store

    @functools.cached_property
    def samples(self) -> list[CaseSample]:
        """Per case, what the bootstrap needs (read from the COCO evaluation when first asked for)."""
        return self._samples(AREAS) if self._samples is not None else []

    @functools.cached_property
    def headline_samples(self) -> list[CaseSample]:
        """:attr:`samples` with the area range "all" only: what every run's bootstrap reads, in a
        quarter of the time."""
        return self._samples(HEADLINE_AREAS) if self._samples is not None else []

    def bootstrapped(self, resamples: int) -> bool:
        """Whether this bootstrap was made already (by a gate, a baseline, the run record)."""
        return resamples in self._bootstraps

    def bootstrap(self, resamples: int, *, full: bool = False) -> Bootstrap:
        """Every metric resampled over the cases (harness/evaluation/bootstrap.py), once per count.
        The area-range mAPs and per-tag metrics (which cost more than the rest together) only ``full``.
        With a store, values drawn by an earlier run from the same inputs are read, not drawn again."""
        if resamples not in self._bootstraps:
            values = self._stored(resamples, "headline")
            if values is None:
                found = headline_bootstrap(self.headline_samples, resamples)
                self._keep(resamples, "headline", found.values)
            else:
                found = Bootstrap(values, resamples, SEED, self.images)
            self._bootstraps[resamples] = found
        found = self._bootstraps[resamples]
        if full and resamples not in self._complete:
            values = self._stored(resamples, "full")
            if values is None:
                complete(found, self.samples, self.tag_positions)
                self._keep(resamples, "full", found.values)
            else:
                found.values.update(values)
            self._complete.add(resamples)
        return found

    @functools.cached_property
    def _inputs_digest(self) -> str:
        return self._inputs() if self._inputs is not None else ""

    def _stored(self, resamples: int, scope: str) -> dict[str, np.ndarray] | None:
        if self._store is None:
            return None
        return self._store.get(self._store.key(self._inputs_digest, resamples, SEED, scope))

    def _keep(self, resamples: int, scope: str, values: dict[str, np.ndarray]) -> None:
        if self._store is not None:
            self._store.put(self._store.key(self._inputs_digest, resamples, SEED, scope), values)

    @property
    def per_tag(self) -> dict[str, dict[str, float]]:
        if self._per_tag is None:
            self._per_tag = self._tag_values()
        return self._per_tag

    def tag(self, name: str) -> dict[str, float]:
        """The metrics of the cases carrying tag ``name`` (empty when no case does)."""
        return self.per_tag.get(name, {}) if name in self.tags else {}

    def lookup(self, path: str) -> float | None:
        """A metric by its gate path: ``box.map50``, ``per_class.circle.box.map50``, ``per_tag.night.mask.f1``."""
        scope, _, rest = path.partition(".")
        if scope in ("per_class", "per_tag"):
            group, _, name = rest.partition(".")
            table = self.per_class.get(group, {}) if scope == "per_class" else self.tag(group)
            return table.get(name)
        return self.values.get(path)

    def flat(self) -> dict[str, float]:
        """Every metric under its gate path, for baselines and reports."""
        out = dict(self.values)
        for scope, table in (("per_class", self.per_class), ("per_tag", self.per_tag)):
            for group, values in table.items():
                out |= {f"{scope}.{group}.{name}": value for name, value in values.items()}
        return out
