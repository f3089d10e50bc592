"""Writing a file so that a reader never sees half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in ``path``'s folder, then rename it over ``path``.

    Readers (other pytest-xdist workers, a later run after a crash) see the old file or the new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # a temporary file is private; these are for whoever may read the folder
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """``write_bytes_atomically`` for UTF-8 text."""
    write_bytes_atomically(path, text.encode("utf-8"))
