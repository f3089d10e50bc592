"""Finding case files and the lines of their cases."""

from __future__ import annotations

import functools
import re
from pathlib import Path

CASES_KEY = re.compile(rb"^cases\s*:", re.MULTILINE)


def is_case_file(path: Path) -> bool:
    """A YAML file with a top-level ``cases:`` key; sniffed as text so broken YAML is still ours."""
    try:
        return CASES_KEY.search(path.read_bytes()) is not None
    except OSError:
        return False


def case_line(path: Path, name: str) -> int:
    """The 0-based line of ``name: NAME`` in a case file (0 where it cannot be found)."""
    try:
        stat = path.stat()
    except OSError:
        return 0
    return _case_lines(str(path), stat.st_mtime_ns, stat.st_size).get(name, 0)


_NAME_LINE = re.compile(rb"^\s*-?\s*name:\s*['\"]?([^'\"#\s]+)['\"]?\s*(#.*)?$", re.MULTILINE)


@functools.lru_cache(maxsize=256)
def _case_lines(path: str, mtime_ns: int, size: int) -> dict[str, int]:
    """Every case name's line, read once per file version (pytest asks for each item's location often)."""
    try:
        text = Path(path).read_bytes()
    except OSError:
        return {}
    lines: dict[str, int] = {}
    for match in _NAME_LINE.finditer(text):
        lines.setdefault(match.group(1).decode(errors="replace"), text.count(b"\n", 0, match.start()))
    return lines
