"""Paths as the harness names them: relative to the project root where they lie below it."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

from harness.core.config import IMAGE_SUFFIXES


def outside_root(path: Path, root: Path | None) -> str | None:
    """Why ``path`` may not be used, when it lies outside ``root`` (pytest's rootdir; None: anywhere is
    allowed); checked before the file is opened, so a shared case repo cannot reach elsewhere."""
    if root is None or resolved(path).is_relative_to(_resolved_folder(str(root))):
        return None
    return (
        f"{path} is outside the project root {root}; "
        "set harness_allow_outside_root = true in the pytest ini to allow it"
    )


def resolved(path: Path) -> Path:
    """``path.resolve()``, sharing the resolution of its folder with its siblings: a folder of 10,000
    images is resolved once (a system call per part of its path), then each file costs one lstat.
    Exact: a name that is no symbolic link resolves to its resolved folder plus the name."""
    name = path.name
    if name in ("", ".", ".."):
        return path.resolve()
    full = _resolved_folder(str(path.parent)) / name
    return full.resolve() if os.path.islink(full) else full


@functools.lru_cache(maxsize=1024)
def _resolved_folder(folder: str) -> Path:
    return Path(folder).resolve()


def forget_resolved_folders() -> None:
    """Resolve folders afresh from here on (each case file is read with what its folders are now)."""
    _resolved_folder.cache_clear()


def only_pictures(folder: Path) -> bool:
    """Whether ``folder`` holds files and nothing but picture files (by suffix, as Ultralytics tells)."""
    try:
        with os.scandir(folder) as entries:
            found = False
            for entry in entries:
                if os.path.splitext(entry.name)[1][1:].lower() not in IMAGE_SUFFIXES or not entry.is_file():
                    return False
                found = True
            return found
    except OSError:
        return False  # unreadable: pytest's own walk reports it


def suite_key(root: Path, path: Path) -> str:
    """A case file's (or image's) name in baselines and records: its path relative to ``root``
    (pytest's rootdir), or its absolute path where it lies elsewhere."""
    return _relative_key(str(root), str(path))


@functools.lru_cache(maxsize=4096)
def _relative_key(root: str, path: str) -> str:
    # Asked several times per item; resolving paths means system calls, so once per file is enough.
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


# pytest's cache plugin keeps a plugin's data in <rootdir>/.pytest_cache/d/<name>; the harness' name:
CACHE_NAME = "vision-harness"
# Files that make a folder pytest's rootdir, with the text that marks them as pytest's (None: any such file).
_INI_FILES = (("pytest.ini", None), (".pytest.ini", None), ("pyproject.toml", "[tool.pytest"), ("tox.ini", "[pytest]"))
_INI_FILES += (("setup.cfg", "[tool:pytest]"),)


def find_rootdir(paths: Sequence[Path]) -> Path:
    """The folder pytest takes as its rootdir when given ``paths``, without importing pytest.

    pytest's rule, as far as case files need it: from the paths' common folder upwards, the first
    folder holding a pytest ini file; else the first holding setup.py; else the common folder.
    """
    folders = [(path if path.is_dir() else path.parent).resolve() for path in paths]
    common = Path(os.path.commonpath([str(folder) for folder in folders])) if folders else Path.cwd().resolve()
    for folder in (common, *common.parents):
        for name, marker in _INI_FILES:
            candidate = folder / name
            if candidate.is_file() and (marker is None or _mentions(candidate, marker)):
                return folder
    return next((folder for folder in (common, *common.parents) if (folder / "setup.py").is_file()), common)


def _mentions(path: Path, marker: str) -> bool:
    try:
        return marker in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def harness_cache_folder(rootdir: Path) -> Path:
    """Where the pytest plugin keeps predictions and parsed case files for a project (pytest's
    ``config.cache.mkdir(CACHE_NAME)`` with the default ``cache_dir``), made as pytest makes it:
    a new ``.pytest_cache`` gets pytest's ``.gitignore`` and ``CACHEDIR.TAG``, so git and backups skip it."""
    cache = rootdir / ".pytest_cache"
    if not cache.is_dir():
        try:
            cache.mkdir()
            (cache / ".gitignore").write_text("# Created by pytest automatically.\n*\n")
            (cache / "CACHEDIR.TAG").write_bytes(b"Signature: 8a477f597d28d172789f06886806bc55\n")
        except OSError:
            pass  # a read-only project: the cache's writes fail quietly, costing speed only
    return cache / "d" / CACHE_NAME
