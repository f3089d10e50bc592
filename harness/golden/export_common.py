"""What every ``vision-harness export`` format shares: which format fits which task (and the one-line
refusal of one that does not), the cases a folder export writes, the output folder and its images."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case, CaseFile
from harness.core.errors import HarnessError, display_path

# Each export format, the tasks whose case files it writes, and what it holds (for the refusal line).
EXPORT_FORMATS = {
    "coco": (("detect", "segment", "pose"), "boxes, masks and keypoints"),
    "dota": (("obb",), "oriented boxes"),
    "folder": (("classify",), "one label an image"),
    "yolo": (("detect", "segment", "pose", "obb"), "boxes, polygons, keypoints and oriented boxes"),
}


def format_for(task: str) -> str:
    """The export format of a ``task`` case file (a file without ``task:`` is a detect or segment file); the
    first that writes it, so a refusal names the format written for that task alone."""
    return next(name for name, (tasks, _) in EXPORT_FORMATS.items() if task in tasks)


def check_format(case_file: Path, task: str | None, export_format: str) -> None:
    """Refuse, in one line naming the file and the format to use instead, a format that does not fit its task.

    Raises:
        HarnessError: ``cases/a.yaml: export dota writes oriented boxes; this is a detect case file: use ...``.
    """
    task = task or "detect"
    tasks, holds = EXPORT_FORMATS[export_format]
    if task not in tasks:
        raise HarnessError(
            f"{display_path(case_file)}: export {export_format} writes {holds}; this is a{'n' * (task[0] in 'aeiou')} "
            f"{task} case file: use `vision-harness export {format_for(task)}`"
        )


@dataclass(frozen=True)
class Exported:
    """What a folder export wrote: the cases, by name, and those left out as awaiting review."""

    cases: tuple[str, ...]
    awaiting_review: tuple[str, ...]
    crowd: tuple[str, ...] = ()  # cases whose crowd regions were left out (a format without a crowd flag)


def cases_to_export(case_file: Path, export_format: str) -> tuple[CaseFile, list[Case], list[str]]:
    """The loaded file, its cases a person stands behind, and the names of those awaiting review.

    A recorded case nobody has reviewed is a model's own output, which pytest skips: written as a label
    it would read as a person's, so it is left out (and named). A broken case stops the export.
    """
    loaded = load_case_file(case_file, check_model=False)
    check_format(case_file, loaded.task, export_format)
    broken = [case for case in loaded.cases if isinstance(case, BrokenCase)]
    if broken:
        raise broken[0].error
    cases = [case for case in loaded.cases if isinstance(case, Case)]
    return loaded, [c for c in cases if not c.awaiting_review], [c.name for c in cases if c.awaiting_review]


def new_folder(out: Path) -> None:
    """Make the output folder; one that holds files already is refused, since stale label files or
    pictures left in it would import as cases of their own."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HarnessError(f"{display_path(out)}: exists and is not an empty folder: give a new --out folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"{display_path(out)}: cannot make the folder: {exc.strerror}") from None


def place_image(source: Path, target: Path, *, symlink: bool) -> None:
    """The case's picture at ``target``: a copy (the folder travels on its own), or a link to ``source``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if symlink:
        os.symlink(source.resolve(), target)
    else:
        shutil.copy2(source, target)
