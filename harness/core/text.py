"""Small text helpers shared by every table the harness prints: boxes, aligned columns, counts."""

from __future__ import annotations

import reprlib
from collections.abc import Sequence


def format_box(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.1f}".rstrip("0").rstrip(".") for v in box) + "]"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned text columns, indented by two spaces: the header line, then one line per row."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]


def count_cases(count: int) -> str:
    """``1 case``, ``2 cases``."""
    return f"{count} case" + ("" if count == 1 else "s")


def short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that no value a file names makes an error long."""
    text = repr(value) if isinstance(value, str) else reprlib.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def listed(names: Sequence[str], shown: int = 10) -> str:
    """``a, b, c`` and, past ``shown`` names, ``... and N more``."""
    more = f" ... and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(short_repr(n, 30) if len(n) > 30 else n for n in names[:shown]) + more
