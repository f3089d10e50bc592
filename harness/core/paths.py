"""Paths as the harness names them: relative to the project root where they lie below it."""

from __future__ import annotations

import functools
from pathlib import Path


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
