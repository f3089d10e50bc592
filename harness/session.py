"""Run-wide state: the settings resolved from ini and command line, the model pool, the verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .config import Thresholds, resolve_model

if TYPE_CHECKING:
    from .matching import CaseVerdict
    from .models import ModelPool

DEFAULT_FILE_PATTERNS = ("*.yaml", "*.yml")


@dataclass(frozen=True)
class Settings:
    """Everything the command line and ini options decide, already validated."""

    model_override: str | None  # --harness-model: beats every case file
    default_model: str | None  # harness_model ini: used where a case file names none
    device: str | None
    thresholds: Thresholds
    file_patterns: tuple[str, ...]

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
        return cls(
            model_override=override,
            default_model=default,
            device=config.getoption("harness_device") or config.getini("harness_device") or None,
            thresholds=thresholds,
            file_patterns=tuple(config.getini("harness_files") or DEFAULT_FILE_PATTERNS),
        )


def _model_spec(value: str, base: Path, option: str) -> str:
    try:
        return resolve_model(value, base)
    except FileNotFoundError as exc:
        raise pytest.UsageError(f"{option} {value}: {exc}") from None


@dataclass
class HarnessRun:
    """State shared by every case item of one pytest session (kept in ``config.stash``)."""

    settings: Settings
    models: ModelPool = field(default_factory=lambda: _model_pool())
    verdicts: dict[str, CaseVerdict] = field(default_factory=dict)
    registered_tags: set[str] = field(default_factory=set)


def _model_pool() -> ModelPool:
    from .models import ModelPool  # imports Ultralytics only when a case file is collected

    return ModelPool()


RUN_KEY = pytest.StashKey[HarnessRun]()


def harness_run(config: pytest.Config) -> HarnessRun:
    """The run state, created on first use (settings are read once per session)."""
    if RUN_KEY not in config.stash:
        config.stash[RUN_KEY] = HarnessRun(Settings.from_config(config))
    return config.stash[RUN_KEY]
