"""Every exception the harness raises on purpose, each saying what, where, and what to do next."""

from __future__ import annotations

import functools
from pathlib import Path


class HarnessError(Exception):
    """Base of the harness' own errors: shown to the user as one line, without a traceback."""


class CaseFileError(HarnessError, ValueError):
    """A case file, or one case in it, cannot be used as written.

    The message reads ``FILE: case 'NAME': FIELD: what is wrong`` so one line says where to look.
    """

    def __init__(self, path: Path | str, message: str, *, case: str | None = None, field: str | None = None):
        self.path = Path(path)
        self.case = case
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __reduce__(self):  # keyword arguments survive pickling (pytest-xdist workers send errors home)
        return functools.partial(CaseFileError, case=self.case, field=self.field), (self.path, self.message)

    def __str__(self) -> str:
        parts = [display_path(self.path)]
        if self.case is not None:
            parts.append(f"case {self.case!r}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        # One line, always: a key or value quoted from the file may itself hold line breaks.
        return ": ".join(parts).replace("\r", "\\r").replace("\n", "\\n")


class ModelError(HarnessError, RuntimeError):
    """A model cannot be loaded, does not fit the case file, or fails while predicting."""


class ImageError(HarnessError, OSError):
    """An image cannot be read as a picture."""


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class DatasetError(HarnessError, ValueError):
    """An annotation file or label folder cannot be imported as written.

    The message reads ``FILE: WHERE: what is wrong``, WHERE naming the image, annotation or line.
    """

    def __init__(self, path: Path | str, where: str | None, message: str):
        self.path = Path(path)
        text = ": ".join(part for part in (display_path(self.path), where, message) if part)
        super().__init__(text.replace("\r", "\\r").replace("\n", "\\n"))
