"""The run's settings: every command-line option and ini setting of the plugin, read and checked once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.core.config import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    MAX_CASE_FILE_MB,
    Thresholds,
    check_confidence,
    resolve_model,
)

DEFAULT_FILE_PATTERNS = ("*.yaml", "*.yml")


@dataclass(frozen=True)
class Settings:
    """Everything the command line and ini options decide, already validated."""

    model_override: str | None  # --harness-model: beats every case file
    default_model: str | None  # harness_model ini: used where a case file names none
    device: str | None
    thresholds: Thresholds
    file_patterns: tuple[str, ...]
    save_baseline: Path | None = None
    baseline: Path | None = None
    max_drop: float = 0.01
    allow_outside_root: bool = False  # may case files name images and models outside the rootdir?
    use_cache: bool = True  # keep predictions in pytest's cache directory (--harness-no-cache: no)
    cache_url: str | None = None  # --harness-cache-url: a shared prediction cache beside the local one
    half: bool = False  # --harness-half: FP16 inference
    batch: int | None = None  # --harness-batch: images per forward pass (None: chosen per device)
    prefetch: str = "model"  # which selected cases are predicted together: "model", "file" or "none"
    search_examples: int = 25  # --harness-search-examples: examples a search judges before it gives up
    compare_override: str | None = None  # --harness-compare-to: the parity model of every case file
    max_case_file_mb: float = MAX_CASE_FILE_MB  # harness_max_case_file_mb: bigger case files are refused
    trust_pickles: bool = False  # load .pt models as plain pickles (code in them runs), not safely
    bootstrap: int | None = None  # --harness-bootstrap: resamples (0: no intervals; None: when something uses them)
    confidence: float | None = None  # --harness-confidence: the significance rule (None: the point rule)

    @property
    def resamples(self) -> int:
        """Resamples wherever intervals are made: --harness-bootstrap's, else the default."""
        return DEFAULT_RESAMPLES if self.bootstrap is None else self.bootstrap

    @property
    def interval_confidence(self) -> float:
        """The confidence of the intervals shown: the significance rule's, else 95%."""
        return self.confidence if self.confidence is not None else DEFAULT_CONFIDENCE

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        ini_dir = config.inipath.parent if config.inipath else config.rootpath
        thresholds = Thresholds()
        for name, convert in (("box_iou", float), ("mask_iou", float), ("max_extra", int)):
            raw = config.getini(f"harness_{name}")
            if raw:
                try:
                    value = convert(raw)
                except ValueError:
                    raise pytest.UsageError(f"harness_{name} = {raw!r}: expected a {convert.__name__}") from None
                low, high = (0, 1) if convert is float else (0, None)
                if value < low or (high is not None and value > high):
                    raise pytest.UsageError(f"harness_{name} = {raw!r}: must be in [{low}, {high or 'inf'}]")
                thresholds = thresholds.override({name: value})
        override = config.getoption("harness_model")
        if override:
            override = _model_spec(override, Path.cwd(), "--harness-model")
        default = config.getini("harness_model") or None
        if default:
            default = _model_spec(default, ini_dir, "harness_model")
        baseline = config.getoption("harness_baseline")
        if baseline and not Path(baseline).is_file():
            raise pytest.UsageError(f"--harness-baseline {baseline}: file not found")
        max_drop = config.getoption("harness_max_drop")
        if not 0 <= max_drop <= 1:
            raise pytest.UsageError(f"--harness-max-drop {max_drop}: must be in [0, 1]")
        compare = config.getoption("harness_compare_to")
        save = config.getoption("harness_save_baseline")
        batch = config.getoption("harness_batch")
        if batch is not None and batch < 1:
            raise pytest.UsageError(f"--harness-batch {batch}: must be 1 or more")
        search_examples = config.getoption("harness_search_examples")
        if search_examples < 1:
            raise pytest.UsageError(f"--harness-search-examples {search_examples}: must be 1 or more")
        return cls(
            bootstrap=_resamples(config),
            confidence=_confidence(config),
            max_case_file_mb=_positive_float(config, "harness_max_case_file_mb", MAX_CASE_FILE_MB),
            search_examples=search_examples,
            use_cache=not config.getoption("harness_no_cache"),
            cache_url=_cache_url(config),
            half=bool(config.getoption("harness_half")),
            batch=batch,
            prefetch=_prefetch_scope(config),
            compare_override=_model_spec(compare, Path.cwd(), "--harness-compare-to") if compare else None,
            save_baseline=Path(save) if save else None,
            baseline=Path(baseline) if baseline else None,
            max_drop=max_drop,
            model_override=override,
            default_model=default,
            device=config.getoption("harness_device") or config.getini("harness_device") or None,
            thresholds=thresholds,
            file_patterns=tuple(config.getini("harness_files") or DEFAULT_FILE_PATTERNS),
            allow_outside_root=bool(config.getini("harness_allow_outside_root")),
            trust_pickles=bool(config.getoption("harness_trust_pickles") or config.getini("harness_trust_pickles")),
        )


def _positive_float(config: pytest.Config, name: str, default: float) -> float:
    raw = config.getini(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{name} = {raw!r}: expected a number") from None
    if not value > 0:
        raise pytest.UsageError(f"{name} = {raw!r}: must be more than 0")
    return value


def _cache_url(config: pytest.Config) -> str | None:
    """The shared cache's URL (from the command line or the ini; never from a case file), checked now."""
    url = config.getoption("harness_cache_url") or config.getini("harness_cache_url") or None
    if url and "://" not in url:
        raise pytest.UsageError(
            f"harness cache URL {url!r}: give an fsspec URL with a scheme, e.g. s3://bucket/prefix or "
            "file:///mnt/shared/cache"
        )
    return url


def _resamples(config: pytest.Config) -> int | None:
    option, raw = config.getoption("harness_bootstrap"), config.getini("harness_bootstrap")
    if option is None and not raw:
        return None  # when something uses them: a record, a report, the significance rule
    where = "--harness-bootstrap" if option is not None else "harness_bootstrap ="
    try:
        value = option if option is not None else int(raw)
    except ValueError:
        raise pytest.UsageError(f"{where} {raw!r}: expected a whole number of resamples (0 turns them off)") from None
    if value != 0 and value < 100:
        # Fewer resamples cannot place a 95% percentile bound: its tail would hold under 3 of them.
        raise pytest.UsageError(f"{where} {value}: use 0 (no intervals) or 100 or more resamples")
    return value


def _confidence(config: pytest.Config) -> float | None:
    value = config.getoption("harness_confidence")
    if value is None:
        return None
    problem = check_confidence(value)
    if problem:
        raise pytest.UsageError(f"--harness-confidence {value}: {problem}")
    if _resamples(config) == 0:
        raise pytest.UsageError("--harness-confidence needs the bootstrap: do not set --harness-bootstrap 0")
    return value


def _prefetch_scope(config: pytest.Config) -> str:
    """Which cases a process predicts together, so that it predicts only cases it will run.

    A serial run plans across every selected case of a model. A pytest-xdist worker plans across a
    case file when every item of a file comes to it (--dist loadfile), across every case with
    --dist each, and not at all when items are handed out one by one (--dist load).
    """
    worker = getattr(config, "workerinput", None)
    if worker is None:
        return "model"
    return {"loadfile": "file", "each": "model"}.get(worker.get("harness_dist", "load"), "none")


def _model_spec(value: str, base: Path, option: str) -> str:
    try:
        return resolve_model(value, base)
    except FileNotFoundError as exc:
        raise pytest.UsageError(f"{option} {value}: {exc}") from None
