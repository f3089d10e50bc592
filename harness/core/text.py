"""Small text helpers shared by every table the harness prints: boxes, aligned columns, counts."""

from __future__ import annotations

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
