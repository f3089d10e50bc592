"""Finding case files and the lines of their cases.

A case file is recognised by parsing it, whatever its style (block or flow YAML, JSON, quoted keys):
a YAML file whose top-level mapping has a ``cases`` key. Only files whose text never names ``cases``
are passed over unparsed; a file that names it but cannot be parsed is taken as a case file, so that
its error is reported rather than the file skipped unseen.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml

from harness.casefile.yaml_parse import load_bounded
from harness.core.config import MAX_CASE_FILE_MB


def may_be_case_file(path: Path) -> bool:
    """Whether ``path`` names ``cases`` anywhere: a file that does not cannot be a case file."""
    try:
        return b"cases" in path.read_bytes()
    except OSError:
        return False


def is_case_document(document: Any) -> bool:
    """Whether a parsed YAML document is a case file's: a mapping with a ``cases`` key."""
    return isinstance(document, dict) and "cases" in document


def is_case_file(path: Path, *, max_mb: float = MAX_CASE_FILE_MB) -> bool:
    """A YAML file whose top-level mapping has a ``cases`` key (parsed, see the module's docstring)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if b"cases" not in data:
        return False
    if len(data) > max_mb * 1e6:
        return True  # too big to parse here: taken as one, so that the loader's refusal is seen
    try:
        return is_case_document(load_bounded(data.decode("utf-8")))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return True  # names `cases` and cannot be read: taken as one, so that its error is seen


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
