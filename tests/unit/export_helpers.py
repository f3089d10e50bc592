"""Shared by the export round-trip tests (test_task_export.py, test_yolo_export.py): case files read
back by name, a stand-in model for the importers, case names and a plain picture."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st
from PIL import Image

from harness.casefile.load import load_case_file
from harness.golden.record import ModelInfo

# Import keeps 0.01 px (harness.casefile.edit.number), as every case file: a coordinate off a hundredth
# comes back rounded to the nearest one, at most half a hundredth away (plus float noise).
IMPORT_ROUNDING = 0.005 + 1e-9
# Names the importers keep as they are (they name cases from file stems).
CASE_NAMES = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.\-]{0,8}[A-Za-z0-9])?", fullmatch=True)


def by_name(case_file: Path) -> dict:
    return {case.name: case for case in load_case_file(case_file, check_model=False).cases}


def stand_in(folder: Path, task: str, names: tuple[str, ...]) -> ModelInfo:
    model_file = folder / f"{task}.pt"
    model_file.write_bytes(b"stand-in")  # add_cases names it; nothing loads it
    return ModelInfo(str(model_file), task, names)


def plain_picture(folder: Path, width: int, height: int) -> Path:
    path = folder / "scene.png"
    Image.new("RGB", (width, height), (90, 120, 150)).save(path)
    return path
