"""An overlay picture of a real failure: the weak seg model on a shipped case, judged and drawn.

What is drawn where, in which colour, is tests/unit/test_overlay.py, on synthetic predictions.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from harness.casefile.load import load_case_file
from harness.evaluation.suites import Judge
from harness.reports.overlay import PROBLEM_COLOUR, case_overlay, save_png

from conftest import CASES, MODELS


def pixels(picture: Image.Image, colour) -> np.ndarray:
    """Boolean map of the pixels of exactly ``colour``."""
    return np.all(np.asarray(picture)[..., :3] == colour, axis=-1)


def test_weak_model_on_a_shipped_case_writes_a_png_with_failures(tmp_path):
    case = next(c for c in load_case_file(CASES / "shapes-seg.yaml").cases if c.objects)
    verdict = Judge("cpu").verdict(case, str(MODELS / "shapes-seg-weak.pt"))
    assert not verdict.passed
    path = save_png(case_overlay(case, verdict), tmp_path / "deep" / "overlay.png")
    with Image.open(path) as written:
        assert written.format == "PNG"
        assert pixels(written.convert("RGB"), PROBLEM_COLOUR).any()
