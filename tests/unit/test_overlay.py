"""Overlay pictures: what is drawn where, in which colour, with which label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.casefile.schema import Case, ExpectedObject, MaskSpec
from harness.core.geometry import mask_to_rle
from harness.evaluation.matching import match_objects
from harness.evaluation.predictions import Predictions
from harness.reports.overlay import (
    EXPECTED_COLOUR,
    PREDICTED_COLOUR,
    PROBLEM_COLOUR,
    Mark,
    case_overlay,
    draw,
    expected_marks,
    verdict_marks,
)

WIDTH, HEIGHT = 160, 120


def pixels(picture: Image.Image | np.ndarray, colour) -> np.ndarray:
    """Boolean map of the pixels of exactly ``colour``."""
    return np.all(np.asarray(picture)[..., :3] == colour, axis=-1)


def make_case(tmp_path: Path, *objects: ExpectedObject, max_extra: int = 0) -> Case:
    image = tmp_path / "grey.png"
    Image.fromarray(np.full((HEIGHT, WIDTH, 3), 90, np.uint8)).save(image)
    return Case(
        name="synthetic",
        file=tmp_path / "cases.yaml",
        image=image,
        image_size=(WIDTH, HEIGHT),
        tags=(),
        objects=objects,
        max_extra=max_extra,
        model=None,
        task=None,
    )


def obj(box, class_name="cat", mask=None, box_iou=0.75) -> ExpectedObject:
    return ExpectedObject(class_name, tuple(float(v) for v in box), box_iou, 0.5, mask)


def predictions(*items, masks=None) -> Predictions:
    """From ``(class_name, box, score)`` tuples."""
    return Predictions(
        boxes=np.array([item[1] for item in items], dtype=np.float64).reshape(-1, 4),
        class_names=tuple(item[0] for item in items),
        scores=np.array([item[2] for item in items], dtype=np.float64),
        masks=masks,
        image_size=(WIDTH, HEIGHT),
    )


def test_expected_objects_alone_are_green_boxes_and_mask_outlines(tmp_path):
    square = MaskSpec(polygons=((20, 20, 60, 20, 60, 60, 20, 60),))
    case = make_case(tmp_path, obj((20, 20, 60, 60), mask=square), obj((100, 30, 140, 90), "dog"))
    picture = case_overlay(case)  # no verdict: what a reviewer of expected objects sees
    assert not pixels(picture, PREDICTED_COLOUR).any()
    assert not pixels(picture, PROBLEM_COLOUR).any()
    bar = picture.height - HEIGHT * 4  # 160 px wide is enlarged 4x; the title bar sits on top
    assert bar > 0
    green = pixels(picture, EXPECTED_COLOUR)[bar:]
    assert green[30 * 4 + 10, 100 * 4 - 1 : 100 * 4 + 2].any()  # the dog box's left edge
    assert green[40 * 4, 20 * 4 : 20 * 4 + 4].any()  # the square's outline at its left side
    assert not green[40 * 4, 40 * 4]  # but not its inside: masks are outlines
    assert [m.label for m in expected_marks(case)] == ["#0 cat", "#1 dog"]


def test_matched_missed_and_extra_objects_are_labelled(tmp_path):
    case = make_case(tmp_path, obj((10, 10, 50, 50)), obj((100, 10, 140, 50)))
    found = predictions(("cat", (10, 10, 50, 50), 0.9), ("dog", (60, 60, 90, 100), 0.4))
    marks = verdict_marks(match_objects(case, found, use_masks=False))
    assert [(m.role, m.label, m.problem, m.dashed) for m in marks] == [
        ("expected", "#0 cat box 1.00", False, False),
        ("expected", "#1 cat MISSED", True, True),
        ("predicted", "#0 cat conf 0.90", False, False),
        ("predicted", "EXTRA dog conf 0.40", True, True),
    ]
    failing = draw(np.full((HEIGHT, WIDTH, 3), 90, np.uint8), marks)
    assert pixels(failing, PROBLEM_COLOUR).sum() > 100  # two red labels
    assert pixels(failing, PREDICTED_COLOUR).any()


def test_a_passing_case_has_no_red(tmp_path):
    case = make_case(tmp_path, obj((10, 10, 50, 50)))
    verdict = match_objects(case, predictions(("cat", (11, 10, 50, 51), 0.8)), use_masks=False)
    assert verdict.passed
    picture = case_overlay(case, verdict)
    assert not pixels(picture, PROBLEM_COLOUR).any()
    assert pixels(picture, EXPECTED_COLOUR).any() and pixels(picture, PREDICTED_COLOUR).any()


def test_low_iou_and_allowed_extras(tmp_path):
    case = make_case(tmp_path, obj((10, 10, 50, 50)), max_extra=1)
    found = predictions(("cat", (30, 10, 70, 50), 0.7), ("cat", (100, 60, 120, 80), 0.3))
    marks = verdict_marks(match_objects(case, found, use_masks=False))
    assert (marks[0].label, marks[0].problem, marks[0].dashed) == ("#0 cat box 0.33 LOW", True, False)
    # One extra is allowed here: marked as extra, dashed, but not a failure.
    assert (marks[2].label, marks[2].problem, marks[2].dashed) == ("EXTRA cat conf 0.30", False, True)


def test_mask_iou_is_in_the_label_and_prediction_outlines_are_magenta(tmp_path):
    square = MaskSpec(polygons=((20, 20, 60, 20, 60, 60, 20, 60),))
    case = make_case(tmp_path, obj((20, 20, 60, 60), mask=square))
    predicted = np.zeros((HEIGHT, WIDTH), bool)
    predicted[20:60, 30:60] = True  # three quarters of the square
    found = predictions(("cat", (20, 20, 60, 60), 0.95), masks=[mask_to_rle(predicted)])
    verdict = match_objects(case, found, use_masks=True)
    marks = verdict_marks(verdict)
    assert marks[0].label == "#0 cat box 1.00 mask 0.75"
    picture = draw(np.zeros((HEIGHT, WIDTH, 3), np.uint8), marks, labels=False, long_side=WIDTH)
    magenta = pixels(picture, PREDICTED_COLOUR)
    assert magenta[40, 30]  # the predicted mask's left edge, inside the expected square
    assert not magenta[40, 45]


def test_thumbnails_have_the_size_asked_for_and_carry_no_labels(tmp_path):
    case = make_case(tmp_path, obj((10, 10, 50, 50)))
    verdict = match_objects(case, predictions(), use_masks=False)
    thumbnail = case_overlay(case, verdict, labels=False, long_side=80)
    assert thumbnail.size == (80, 60)
    assert not pixels(thumbnail, PROBLEM_COLOUR).any()
    assert pixels(thumbnail, EXPECTED_COLOUR).any()


def test_dashed_boxes_have_gaps():
    black = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    top_edge = slice(20, 100)
    solid = pixels(
        draw(black, [Mark("predicted", (20, 20, 100, 80), "x")], labels=False, long_side=WIDTH), PREDICTED_COLOUR
    )
    dashed = pixels(
        draw(black, [Mark("predicted", (20, 20, 100, 80), "x", dashed=True)], labels=False, long_side=WIDTH),
        PREDICTED_COLOUR,
    )
    assert solid[20, top_edge].all()
    assert 0.3 < dashed[20, top_edge].mean() < 0.8


@pytest.mark.parametrize(("size", "drawn_long_side"), [((160, 120), 640), ((480, 360), 640), ((3200, 100), 1600)])
def test_small_pictures_are_enlarged_and_huge_ones_shrunk(size, drawn_long_side):
    picture = draw(np.zeros((size[1], size[0], 3), np.uint8), [])
    assert max(picture.size) == drawn_long_side


def test_a_picture_that_cannot_be_drawn_is_said_in_one_line(tmp_path):
    from harness.evaluation.matching import match_objects
    from harness.reports.run_outputs import OutputSettings, RunOutputs

    case = make_case(tmp_path, obj((10, 10, 50, 50)))
    verdict = match_objects(case, predictions(), use_masks=False)
    case.image.unlink()  # gone between predicting and drawing
    outputs = RunOutputs(OutputSettings("failed", tmp_path / "pictures", tmp_path / "r.html", None, None))
    line = outputs.case_judged("x.yaml::synthetic", "x.yaml", verdict, failing=True)
    assert line.startswith("overlay not drawn: image not found: ")
    assert not (tmp_path / "pictures").exists()
