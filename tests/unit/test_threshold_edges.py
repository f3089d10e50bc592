"""Every threshold is an inclusive minimum: an IoU exactly at its threshold passes, for box and mask,
in the case verdict and in the suite's recall count alike, and so do gates, baselines and parity.

The IoUs here are exact in binary floating point (0.5 and 0.75 from whole-pixel boxes and masks), so
"exactly at the threshold" is really equal, not equal after rounding; one float above the IoU
(``math.nextafter``) must fail, so the edge is pinned from both sides.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness.casefile.schema import Case, ExpectedObject, MaskSpec
from harness.core.config import meets_minimum, within_tolerance
from harness.core.geometry import mask_to_rle
from harness.evaluation.baseline import Delta, format_deltas
from harness.evaluation.matching import match_objects
from harness.evaluation.metrics import suite_metrics
from harness.evaluation.predictions import Predictions
from harness.evaluation.verdict_text import format_verdict
from harness.robustness.parity import compare_predictions

SIZE = (64, 48)  # width, height
EXPECTED_BOX = (0.0, 0.0, 20.0, 20.0)
HALF_BOX = (0.0, 0.0, 20.0, 10.0)  # box IoU with EXPECTED_BOX: 200 / 400 = 0.5 exactly


def rectangle(x1: int, y1: int, x2: int, y2: int) -> dict:
    mask = np.zeros((SIZE[1], SIZE[0]), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask_to_rle(mask)


def case_of(obj: ExpectedObject) -> Case:
    return Case("edge", Path("cases/edge.yaml"), Path("cases/edge.png"), SIZE, (), (obj,), 0, None, None, {})


def predicted(box, mask: dict | None = None) -> Predictions:
    masks = None if mask is None else [mask]
    return Predictions(np.array([box], dtype=np.float64), ("cat",), np.array([0.9]), masks, SIZE)


@pytest.mark.parametrize(("threshold", "passes"), [(0.5, True), (math.nextafter(0.5, 1.0), False)])
def test_a_box_iou_exactly_at_its_threshold_passes_the_case_and_counts_as_found(threshold, passes):
    case = case_of(ExpectedObject("cat", EXPECTED_BOX, threshold, 0.5))
    verdict = match_objects(case, predicted(HALF_BOX), use_masks=False)
    assert verdict.objects[0].box_iou == 0.5  # exact: the test is about the comparison, not rounding
    assert verdict.passed is passes
    # The suite's recall counts an object as found exactly when the case verdict passes it.
    assert suite_metrics([verdict], with_masks=False).values["box.recall"] == (1.0 if passes else 0.0)
    assert ("0.500 >= " if passes else "0.500 <  ") in format_verdict(verdict, model_name="m.pt")


@pytest.mark.parametrize(("threshold", "passes"), [(0.75, True), (math.nextafter(0.75, 1.0), False)])
def test_a_mask_iou_exactly_at_its_threshold_passes_the_case_and_counts_as_found(threshold, passes):
    # Same boxes (box IoU 1), masks of 400 and 300 pixels, one inside the other: mask IoU 0.75 exactly.
    expected = ExpectedObject("cat", EXPECTED_BOX, 0.5, threshold, MaskSpec(rle=rectangle(0, 0, 20, 20)))
    verdict = match_objects(case_of(expected), predicted(EXPECTED_BOX, rectangle(0, 0, 15, 20)), use_masks=True)
    assert (verdict.objects[0].box_iou, verdict.objects[0].mask_iou) == (1.0, 0.75)
    assert verdict.passed is passes
    metrics = suite_metrics([verdict], with_masks=True).values
    assert metrics["mask.recall"] == (1.0 if passes else 0.0) and metrics["box.recall"] == 1.0


def test_the_one_comparison_is_inclusive_and_never_passes_nothing():
    assert meets_minimum(0.5, 0.5) and not meets_minimum(math.nextafter(0.5, 0.0), 0.5)
    assert not meets_minimum(None, 0.0)  # a miss, or an undefined metric, is below every minimum
    assert within_tolerance(-0.25, 0.25) and within_tolerance(0.25, 0.25)
    assert not within_tolerance(math.nextafter(0.25, 1.0), 0.25)


def test_parity_accepts_a_pair_exactly_at_its_iou_and_conf_tolerances():
    a = Predictions(np.array([EXPECTED_BOX]), ("cat",), np.array([0.75]), None, SIZE)
    b = Predictions(np.array([HALF_BOX]), ("cat",), np.array([0.5]), None, SIZE)
    (row,) = compare_predictions(a, b, iou=0.5, conf=0.25, conf_threshold=0.25, use_masks=False)
    assert (row.box_iou, row.conf_difference, row.problems) == (0.5, 0.25, ())
    (row,) = compare_predictions(a, b, iou=math.nextafter(0.5, 1.0), conf=0.125, conf_threshold=0.25, use_masks=False)
    assert row.problems == ("box IoU low", "conf differs")


def test_a_baseline_drop_exactly_at_the_allowed_drop_is_not_marked():
    exactly, beyond = Delta("box.map50", 0.75, 0.5), Delta("box.map75", 0.75, 0.25)
    marks = [line.rstrip().endswith("DROP > 0.25") for line in format_deltas([exactly, beyond], 0.25)[-2:]]
    assert marks == [False, True]
