"""Run-wide state: the settings (harness/pytest_plugin/settings.py), the judge, the verdicts, the
case files collected; kept in ``config.stash`` for the session."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.core.errors import HarnessError
from harness.core.paths import CACHE_NAME
from harness.pytest_plugin.settings import Settings

if TYPE_CHECKING:
    from harness.casefile.schema import Case, CaseFile
    from harness.evaluation.baseline import Baseline
    from harness.evaluation.matching import CaseVerdict
    from harness.evaluation.metric_table import SuiteMetrics
    from harness.evaluation.suites import Judge, SuiteResult
    from harness.robustness.parity import ParityResult


@dataclass
class HarnessRun:
    """State shared by every item of one pytest session (kept in ``config.stash``)."""

    settings: Settings
    verdicts: dict[str, CaseVerdict] = field(default_factory=dict)  # by node id, for the summary
    case_files: dict[str, tuple[CaseFile, str]] = field(default_factory=dict)  # suite key -> (file, model spec)
    registered_tags: set[str] = field(default_factory=set)
    baseline_saved: list[str] = field(default_factory=list)  # suite keys written by --harness-save-baseline
    baseline_skipped: list[str] = field(default_factory=list)  # why a collected suite was not written
    cache_dir: Callable[[], Path | None] | None = None  # pytest's cache directory for predictions, made on first use
    selected: list[pytest.Item] = field(default_factory=list)  # the items this process may run
    worker_golden_lines: list[str] = field(default_factory=list)  # unused images etc., from xdist workers
    parity: dict[str, ParityResult] = field(default_factory=dict)  # export parity results, by node id
    broken_kept: list[str] = field(default_factory=list)  # broken items -k/-m would have deselected
    declared_marks: set[str] = field(default_factory=set)  # the markers of the project's own ini
    notes: list[str] = field(default_factory=list)  # one-line notes for the summary (e.g. an old baseline)
    _prefetched: set[tuple[str, str]] = field(default_factory=set)
    _baseline: Baseline | None = None
    _judge: Judge | None = None

    @functools.cached_property
    def cache_folder(self) -> Path | None:
        """pytest's cache folder for the harness, made on first use; None when off or unusable."""
        if not self.settings.use_cache or self.cache_dir is None:
            return None
        try:
            return self.cache_dir()
        except OSError as exc:
            # pytest itself only warns when its cache cannot be written: so do we, and run without.
            warnings.warn(pytest.PytestCacheWarning(f"vision-harness runs without its cache: {exc}"), stacklevel=1)
            return None

    @property
    def parse_cache(self) -> Path | None:
        """Where parsed case files are kept (with the prediction cache, and off with it)."""
        return self.cache_folder / "parsed" if self.cache_folder else None

    @property
    def collected_anything(self) -> bool:
        """Whether this run (or its workers) had case files, so that there is a summary to write."""
        return bool(self.case_files or self.verdicts or self.parity or self.worker_golden_lines or self.broken_kept)

    def models_used(self) -> list:
        """The models this run has predicted with, or taken predictions of from workers or the cache."""
        return list(self.judge.models.used())

    @property
    def judge_started(self) -> bool:
        return self._judge is not None

    @property
    def judge(self) -> Judge:
        if self._judge is None:
            # The models and their stack (numpy, scipy, pycocotools) only once a case is judged, not at start-up.
            from harness.evaluation.bootstrap_store import BootstrapStore
            from harness.evaluation.cache_store import cache_store
            from harness.evaluation.models import ModelPool
            from harness.evaluation.prediction_cache import PredictionCache
            from harness.evaluation.suites import Judge

            settings = self.settings
            url = settings.cache_url if settings.use_cache else None
            store = cache_store(self.cache_folder, url, on_error=_cache_warning)
            cache = PredictionCache(store=store) if store else None
            models = ModelPool(
                settings.device,
                cache=cache,
                half=settings.half,
                batch=settings.batch,
                trust_pickles=settings.trust_pickles,
            )
            bootstrap_store = BootstrapStore(store) if store else None  # beside the predictions, shared too
            self._judge = Judge(settings.device, models=models, bootstrap_store=bootstrap_store)
        return self._judge

    def prefetch(self, case: Case, model_spec: str) -> None:
        """Before the first case of its group is judged, predict the group's images together."""
        scope = self.settings.prefetch
        group = (str(case.file) if scope == "file" else "", model_spec)
        if scope == "none" or group in self._prefetched:
            return
        self._prefetched.add(group)
        cases = [
            item.case
            for item in self.selected
            if model_spec in (getattr(item, "model_spec", None), getattr(item, "compare_spec", None))
            and hasattr(item, "case")
            # skipped: nothing to predict; but export parity (a compare_spec) needs no reviewed expectations
            and (not item.case.awaiting_review or getattr(item, "compare_spec", None) is not None)
            and (scope != "file" or item.case.file == case.file)
        ]
        self.judge.prefetch(cases, model_spec)

    @functools.cached_property
    def complete_suites(self) -> dict[str, SuiteResult | str]:
        """Suites whose every case was judged in this session, by key; a string says why one is not.

        Read once the session is over (by the baseline writer and the summary), so computed once."""
        from harness.casefile.schema import Case  # numpy and pycocotools: not at start-up

        judged = {(v.case.file, v.case.name) for v in self.verdicts.values()}
        out: dict[str, SuiteResult | str] = {}
        for key, (case_file, model_spec) in self.case_files.items():
            cases = [c for c in case_file.cases if isinstance(c, Case)]
            missing = [c.name for c in cases if (c.file, c.name) not in judged]
            if len(cases) < len(case_file.cases) or missing:
                if len(missing) < len(cases):  # a file deselected entirely is not worth a line
                    out[key] = f"only {len(cases) - len(missing)} of {len(case_file.cases)} cases ran"
                continue
            try:
                out[key] = self.judge.suite(case_file, model_spec)
            except HarnessError as exc:
                out[key] = str(exc)
        return out

    @functools.cached_property
    def directory_metrics(self) -> dict[str, SuiteMetrics]:
        """Metrics over every complete case file of a folder that ran the same model, for folders
        with two or more such files; keyed ``folder/ (model)``."""
        from harness.evaluation.suites import SuiteResult, task_metrics  # the models' stack: not at start-up

        groups: dict[str, list[SuiteResult]] = {}
        for key, result in self.complete_suites.items():
            if isinstance(result, SuiteResult):
                folder = key.rpartition("/")[0] or "."
                groups.setdefault(f"{folder}/ ({result.model.name})", []).append(result)
        return {
            name: task_metrics(
                [v for result in results for v in result.verdicts],
                _pooled_task(results),
                # A case's bootstrap data does not depend on its suite: the files' own, not read again.
                samples=functools.partial(_pooled_samples, results),
                bootstrap_store=self.judge.bootstrap_store,
            )
            for name, results in groups.items()
            if len(results) > 1
        }

    def intervals(self, metrics: SuiteMetrics, *, needed: bool = True) -> dict[str, tuple[float, float]]:
        """The metrics' confidence intervals (empty with --harness-bootstrap 0). Unless ``needed``
        (the summary), only when --harness-bootstrap asks for them or they were made anyway."""
        settings = self.settings
        if settings.bootstrap == 0 or not (needed or settings.bootstrap or metrics.bootstrapped(settings.resamples)):
            return {}
        return metrics.bootstrap(settings.resamples).intervals(settings.interval_confidence)

    def save_baseline(self) -> None:
        """--harness-save-baseline: write every complete suite's metrics and per-object IoU."""
        from harness.evaluation.baseline import suite_record, write_baseline  # not at start-up: numpy and scipy

        suites = {}
        for key, result in self.complete_suites.items():
            if isinstance(result, str):
                self.baseline_skipped.append(f"{key}: {result}")
            else:
                suites[key] = suite_record(result)
        directories = {key: metrics.flat() for key, metrics in self.directory_metrics.items()}
        write_baseline(self.settings.save_baseline, suites, directories)
        self.baseline_saved = sorted(suites)

    @property
    def baseline(self) -> Baseline | None:
        """The baseline given with --harness-baseline, read once."""
        if self._baseline is None and self.settings.baseline is not None:
            from harness.evaluation.baseline import Baseline  # not at start-up: numpy and scipy

            self._baseline = Baseline.load(self.settings.baseline)
        return self._baseline


def _cache_warning(message: str) -> None:
    """A shared cache that fails is a warning, as pytest's own cache is: the run goes on without it."""
    warnings.warn(pytest.PytestCacheWarning(message), stacklevel=2)


def _pooled_task(results: list[SuiteResult]) -> str:
    """The task whose metrics a folder's suites pool: theirs when they share one; else boxes alone."""
    tasks = {result.model.task for result in results}
    return tasks.pop() if len(tasks) == 1 else "detect"


def _pooled_samples(results: list[SuiteResult], areas: tuple[str, ...]) -> list:
    full = len(areas) > 1  # all four area ranges, or the headline's "all"
    return [s for r in results for s in (r.metrics.samples if full else r.metrics.headline_samples)]


RUN_KEY = pytest.StashKey[HarnessRun]()
ROBUSTNESS_MARKER = "robustness"  # on every transformed variant: `-m "not robustness"` runs the plain cases only


def configure_run(config: pytest.Config) -> HarnessRun:
    """The run state, with every option checked now, so that a bad one stops the run before collection."""
    run = harness_run(config)
    # Read before other plugins configure (this hook runs first): what the project declared itself.
    run.declared_marks = {mark_name(line) for line in config.getini("markers")}
    config.addinivalue_line(
        "markers",
        f"{ROBUSTNESS_MARKER}: a transformed variant or a search of a golden case (transforms: and search: in case "
        "files)",
    )
    if config.getoption("harness_update") and uses_xdist(config):
        # Workers would each rewrite the same case files: one update's cases would be lost.
        raise pytest.UsageError("--harness-update writes case files: run it without pytest-xdist (-n, --dist, --tx)")
    try:
        run.baseline  # noqa: B018 - reads the baseline file now, for the same reason
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    return run


def mark_name(line: str) -> str:
    """A ``markers`` ini line's mark: ``xfail(condition, ...): mark the test ...`` -> ``xfail``."""
    return line.split(":", 1)[0].split("(", 1)[0].strip()


def uses_xdist(config: pytest.Config) -> bool:
    """Whether pytest-xdist will hand items to workers: -n, --dist other than no, or any --tx."""
    option = config.option
    return bool(getattr(option, "numprocesses", None) or getattr(option, "tx", None)) or getattr(
        option, "dist", "no"
    ) not in ("no", None)


def _cache_dir(config: pytest.Config) -> Path | None:
    """pytest's cache folder for the harness, made now; None with -p no:cacheprovider."""
    cache = getattr(config, "cache", None)
    return cache.mkdir(CACHE_NAME) if cache is not None else None


def harness_run(config: pytest.Config) -> HarnessRun:
    """The run state, created on first use (settings are read once per session)."""
    if RUN_KEY not in config.stash:
        # Looked up when first used: the run is made before the cache provider configures config.cache.
        config.stash[RUN_KEY] = HarnessRun(
            Settings.from_config(config), cache_dir=functools.partial(_cache_dir, config)
        )
    return config.stash[RUN_KEY]
