"""Golden classify cases to an ImageFolder tree: ``OUT[/SPLIT]/LABEL/NAME.png`` for each case, NAME the
case's name, so that ``import folder`` (harness/golden/image_folder.py) gives the same cases back.

A folder holds one label an image: a case that accepts any of several (``labels: [a, b]``) has no
single folder and is refused, naming the case. ``min_confidence``, ``top_k`` and tags have no place in
the tree and are not exported (docs/classify.md).
"""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import CaseFileError, HarnessError
from harness.golden.export_common import Exported, cases_to_export, new_folder, place_image


def write_image_folder(case_file: Path, out: Path, *, split: str = "", symlink: bool = False) -> Exported:
    """Export a classify case file to the ImageFolder tree ``out`` (new or empty), under ``out/split`` if given.

    Raises:
        HarnessError: the file is not a classify case file, a case is broken or expects one of several
            labels, a label is not a folder name, or ``out`` holds files already; nothing is written then.
    """
    if split and (Path(split).name != split or split in (".", "..")):
        raise HarnessError(f"--split {split!r}: give the name of one folder under --out, e.g. val")
    _, cases, awaiting_review = cases_to_export(case_file, "folder")
    folders = {}
    for case in cases:  # every check before any write
        assert case.label is not None, "a classify case file's cases all expect a label"
        labels = case.label.labels
        if len(labels) != 1:
            raise CaseFileError(
                case_file,
                f"accepts any of {', '.join(labels)}; an ImageFolder tree holds one label an image: "
                "give the case one label, or leave it out of the export",
                case=case.name,
                field="labels",
            )
        if labels[0] in ("", ".", "..") or "/" in labels[0] or "\\" in labels[0]:
            raise CaseFileError(
                case_file, f"{labels[0]!r} cannot be a folder name: rename the class", case=case.name, field="label"
            )
        folders[case.name] = labels[0]
    new_folder(out)
    root = out / split if split else out
    for case in cases:
        place_image(case.image, root / folders[case.name] / f"{case.name}{case.image.suffix}", symlink=symlink)
    return Exported(tuple(folders), tuple(awaiting_review))
