"""Golden obb cases to DOTA: ``images/NAME.png`` and ``labelTxt/NAME.txt`` for each case, NAME the case's
name, so that ``import dota`` (harness/golden/dota.py) gives the same cases back.

A label line is ``x1 y1 x2 y2 x3 y3 x4 y4 category difficult``: the corners in pixels in the case's
own order (DOTA's is clockwise from any corner; dota.py keeps the order it reads), a crowd object as
``difficult 1`` (dota.py reads it back as crowd, as DOTA's evaluation ignores both), no
``imagesource:``/``gsd:`` header (the harness knows neither; DOTA's tools and dota.py read files
without). Coordinates are written losslessly (a float's repr); import keeps 0.01 px, as every case
file does. DOTA has no field for tags, thresholds (``obb_iou``, ``max_extra``) or the transforms: they
are not exported (docs/obb.md).
"""

from __future__ import annotations

from pathlib import Path

from harness.casefile.schema import Case, ExpectedObject
from harness.core.errors import CaseFileError
from harness.golden.export_common import Exported, cases_to_export, new_folder, place_image


def write_dota(case_file: Path, out: Path, *, symlink: bool = False) -> Exported:
    """Export an obb case file to the DOTA folder ``out`` (new or empty): ``out/images`` and ``out/labelTxt``.

    Raises:
        HarnessError: the file is not an obb case file, a case is broken, a class name is not one word,
            or ``out`` holds files already; nothing is written then.
    """
    _, cases, awaiting_review = cases_to_export(case_file, "dota")
    labels = {case.name: _label_text(case_file, case) for case in cases}  # every check before any write
    new_folder(out)
    (out / "labelTxt").mkdir()
    for case in cases:
        place_image(case.image, out / "images" / f"{case.name}{case.image.suffix}", symlink=symlink)
        (out / "labelTxt" / f"{case.name}.txt").write_text(labels[case.name], encoding="utf-8")
    return Exported(tuple(labels), tuple(awaiting_review))


def _label_text(case_file: Path, case: Case) -> str:
    lines = []
    for index, obj in enumerate(case.objects):
        category = obj.class_name
        if not category or len(category.split()) != 1 or category != category.strip():
            raise CaseFileError(
                case_file,
                f"{category!r}: a DOTA category is one word, and the import splits lines at spaces "
                "(DOTA writes small-vehicle): rename the class",
                case=case.name,
                field=f"objects[{index}].class",
            )
        lines.append(dota_line(obj))
    return "".join(f"{line}\n" for line in lines)


def dota_line(obj: ExpectedObject) -> str:
    """One oriented box as a DOTA label line: four corners, category, difficult (1 for a crowd region)."""
    assert obj.obb is not None, "an obb case file's objects all carry corners"
    corners = " ".join(_coordinate(value) for value in obj.obb)
    return f"{corners} {obj.class_name} {int(obj.crowd)}"


def _coordinate(value: float) -> str:
    """Whole pixels as DOTA writes them (``123``); others as repr, the shortest text that reads back exactly."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)
