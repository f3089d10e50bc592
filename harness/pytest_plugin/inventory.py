"""The golden-case part of the terminal summary: updates written, cases waiting for review, cases
whose images are gone, and images under a cases folder that no case uses.

As syrupy does with unused snapshots, only what was selected counts: a missing image is reported for
selected cases only, and a folder's unused images only when every case file in the folder was
collected (a case deselected with -k or -m still uses its image).
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.casefile.discover import is_case_file
from harness.casefile.schema import BrokenCase, Case
from harness.core.config import IMAGE_SUFFIXES
from harness.core.errors import display_path
from harness.core.text import count_cases
from harness.pytest_plugin.report_hooks import run_outputs
from harness.pytest_plugin.session import harness_run
from harness.pytest_plugin.update import UPDATE_KEY
from harness.reports.run_outputs import MARKER as OVERLAYS_MARKER

if TYPE_CHECKING:
    from harness.casefile.schema import CaseFile

CASE_FILES_KEY = pytest.StashKey[dict]()
SHOWN = 10  # paths listed per line before "and N more"


def remember_case_file(config: pytest.Config, case_file: CaseFile) -> None:
    """Every case file collected, with all its cases (selected or not, reviewed or not)."""
    config.stash.setdefault(CASE_FILES_KEY, {})[case_file.path.resolve()] = case_file


def golden_summary(config: pytest.Config) -> list[str]:
    """Lines for the terminal summary; empty when there is nothing to say."""
    run = harness_run(config)
    lines = []
    if run.broken_kept:
        lines.append(
            f"broken case files and cases are never deselected (they carry no tags): {len(run.broken_kept)} kept "
            f"despite -k, -m or --deselect: {_paths(run.broken_kept)}"
        )
    if not config.stash.get(CASE_FILES_KEY, None):
        return lines  # no case file collected: nothing more to say
    items = run.selected  # after -k, -m and node-id selection
    if config.getoption("harness_update"):
        lines += config.stash[UPDATE_KEY].summary_lines() if UPDATE_KEY in config.stash else []
    lines += _awaiting_review(items)
    lines += _missing_images(config, items)
    lines += _unused_images(config)
    return lines


def _paths(paths: list[str]) -> str:
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return ", ".join(paths[:SHOWN]) + more


def _awaiting_review(items: list[pytest.Item]) -> list[str]:
    waiting: dict[Path, list[str]] = {}
    for item in items:
        if getattr(item, "harness_kind", None) == "case" and item.case.awaiting_review:
            waiting.setdefault(item.case.file, []).append(item.case.name)
    return [
        f"recorded, not reviewed (skipped, not passed): {display_path(path)}: {count_cases(len(names))} "
        f"({_paths(names)}); check them with `vision-harness review {display_path(path)}`"
        for path, names in waiting.items()
    ]


def _missing_images(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    broken = {
        (path, case.name): case.image
        for path, case_file in config.stash.get(CASE_FILES_KEY, {}).items()
        for case in case_file.cases
        if isinstance(case, BrokenCase) and case.image is not None
    }
    missing = []
    for item in items:
        image = (
            broken.get((item.path.resolve(), item.name)) if getattr(item, "harness_kind", None) == "broken" else None
        )
        if image is not None and not image.exists():
            missing.append(f"{item.nodeid} ({display_path(image)})")
    if not missing:
        return []
    return [f"cases whose images are gone: {len(missing)}: {_paths(missing)}; restore the images or delete the cases"]


def _unused_images(config: pytest.Config) -> list[str]:
    case_files = config.stash.get(CASE_FILES_KEY, {})
    collected = set(case_files)
    used: set[Path] = set()
    for case_file in case_files.values():
        for case in case_file.cases:
            used.add(case.image) if case.image is not None else None
            if isinstance(case, Case):
                used.update(o.mask.png for o in case.objects if o.mask is not None and o.mask.png is not None)
    folders = sorted({path.parent for path in collected})
    skip = [".*", *config.getini("norecursedirs")]  # the folders pytest does not search, hidden ones included
    unused: set[Path] = set()
    for folder in folders:
        files = [p for p in folder.rglob("*") if not _skipped(p, folder, skip) and p.is_file()]
        # The harness' own overlay pictures are not case images: this run's folder, and any it made before.
        pictures = [m.parent.resolve() for m in folder.rglob(OVERLAYS_MARKER)] + _overlays_dir(config)
        files = [p for p in files if not any(p.resolve().is_relative_to(own) for own in pictures)]
        # Collected files are case files already; only the others are parsed to tell (a YAML parse each).
        others = [p for p in files if p.suffix in (".yaml", ".yml") and p.resolve() not in collected]
        if any(is_case_file(p) for p in others):
            continue  # a case file here was not collected: its images would look unused
        unused.update(
            p.resolve() for p in files if p.suffix.lower().lstrip(".") in IMAGE_SUFFIXES and p.resolve() not in used
        )
    if not unused:
        return []
    shown = [display_path(p) for p in sorted(unused)]
    return [
        f"images under the case folders that no case uses: {len(shown)}: {_paths(shown)}; add cases for them "
        "(vision-harness new IMAGE... --out CASES.yaml) or delete them"
    ]


def _overlays_dir(config: pytest.Config) -> list[Path]:
    outputs = run_outputs(config)
    return [outputs.settings.overlays_dir.resolve()] if outputs is not None else []


def _skipped(path: Path, folder: Path, patterns: list[str]) -> bool:
    *folders, name = path.relative_to(folder).parts
    return name.startswith(".") or any(fnmatch(part, pattern) for part in folders for pattern in patterns)
