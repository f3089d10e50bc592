"""The golden-case part of the terminal summary: updates written, cases waiting for review, cases
whose images are gone, and images under a cases folder that no case uses.

As syrupy does with unused snapshots, only what was selected counts: a missing image is reported for
selected cases only, and a folder's unused images only when every case file in the folder was
collected (a case deselected with -k or -m still uses its image).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .errors import display_path

SELECTED_KEY = pytest.StashKey[list]()
SHOWN = 10  # paths listed per line before "and N more"


def remember_selection(session: pytest.Session) -> None:
    session.config.stash[SELECTED_KEY] = list(session.items)


def golden_summary(config: pytest.Config) -> list[str]:
    """Lines for the terminal summary; empty when there is nothing to say."""
    from .update import UPDATE_KEY

    items = config.stash.get(SELECTED_KEY, [])
    lines = config.stash[UPDATE_KEY].summary_lines() if UPDATE_KEY in config.stash else []
    lines += _awaiting_review(items)
    lines += _missing_images(config, items)
    lines += _unused_images(config)
    return lines


def _paths(paths: list[str]) -> str:
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return ", ".join(paths[:SHOWN]) + more


def _awaiting_review(items: list[pytest.Item]) -> list[str]:
    from .collect import CaseItem

    waiting: dict[Path, list[str]] = {}
    for item in items:
        if isinstance(item, CaseItem) and item.case.awaiting_review:
            waiting.setdefault(item.case.file, []).append(item.case.name)
    return [
        f"recorded, not reviewed (skipped, not passed): {display_path(path)}: {len(names)} cases "
        f"({_paths(names)}); check them with `vision-harness review {display_path(path)}`"
        for path, names in waiting.items()
    ]


def _missing_images(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    from .cases import BrokenCase
    from .collect import BrokenItem
    from .session import harness_run

    broken = {
        (case_file.path.resolve(), case.name): case.image
        for case_file, _ in harness_run(config).case_files.values()
        for case in case_file.cases
        if isinstance(case, BrokenCase) and case.image is not None
    }
    missing = []
    for item in items:
        image = broken.get((item.path.resolve(), item.name)) if isinstance(item, BrokenItem) else None
        if image is not None and not image.exists():
            missing.append(f"{item.nodeid} ({display_path(image)})")
    if not missing:
        return []
    return [f"cases whose images are gone: {len(missing)}: {_paths(missing)}; restore the images or delete the cases"]


def _unused_images(config: pytest.Config) -> list[str]:
    from ultralytics.data.utils import IMG_FORMATS

    from .cases import Case
    from .collect import is_case_file
    from .session import harness_run

    run = harness_run(config)
    collected = {case_file.path.resolve() for case_file, _ in run.case_files.values()}
    used: set[Path] = set()
    for case_file, _ in run.case_files.values():
        for case in case_file.cases:
            used.add(case.image) if case.image is not None else None
            if isinstance(case, Case):
                used.update(o.mask.png for o in case.objects if o.mask is not None and o.mask.png is not None)
    folders = sorted({path.parent for path in collected})
    unused: set[Path] = set()
    for folder in folders:
        files = [p for p in folder.rglob("*") if not _hidden(p, folder) and p.is_file()]
        case_files = {p.resolve() for p in files if p.suffix in (".yaml", ".yml") and is_case_file(p)}
        if not case_files <= collected:
            continue  # a case file here was not collected: its images would look unused
        unused.update(
            p.resolve() for p in files if p.suffix.lower().lstrip(".") in IMG_FORMATS and p.resolve() not in used
        )
    if not unused:
        return []
    shown = [display_path(p) for p in sorted(unused)]
    return [
        f"images under the case folders that no case uses: {len(shown)}: {_paths(shown)}; add cases for them "
        "(vision-harness new IMAGE... --out CASES.yaml) or delete them"
    ]


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)
