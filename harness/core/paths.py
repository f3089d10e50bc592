"""Paths as the harness names them: relative to the project root where they lie below it."""

from __future__ import annotations

import functools
from pathlib import Path


def outside_root(path: Path, root: Path | None) -> str | None:
    """Why ``path`` may not be used, when it lies outside ``root`` (pytest's rootdir; None: anywhere is
    allowed); checked before the file is opened, so a shared case repo cannot reach elsewhere."""
    if root is None or path.resolve().is_relative_to(root.resolve()):
        return None
    return (
        f"{path} is outside the project root {root}; "
        "set harness_allow_outside_root = true in the pytest ini to allow it"
    )


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
