"""Keypoints on overlay pictures: expected ones green, a failing predicted one red, joined to its place."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.casefile.schema import Case, ExpectedObject
from harness.core.keypoints import KeypointSpec
from harness.evaluation.matching import match_objects
from harness.evaluation.predictions import Predictions
from harness.reports.overlay import EXPECTED_COLOUR, PROBLEM_COLOUR, draw, verdict_marks

SIZE = (320, 240)
KEYPOINTS = ((100.0, 40.0, 2), (70.0, 110.0, 2), (130.0, 110.0, 2), (100.0, 85.0, 0))


def judged(predicted: list) -> object:
    names = ("tip", "left_barb", "right_barb", "notch")
    spec = KeypointSpec(4, names, (0.05, 0.05, 0.05, 0.07), (0, 2, 1, 3), skeleton=((0, 1), (1, 3), (3, 2)))
    obj = ExpectedObject("arrow", (60.0, 30.0, 140.0, 120.0), 0.5, 0.5, keypoints=KEYPOINTS, oks=0.8)
    case = Case("c", Path("x.yaml"), Path("x.png"), SIZE, (), (obj,), 0, None, "pose", {}, keypoints=spec)
    found = Predictions(
        np.array([[62.0, 32.0, 138.0, 118.0]]), ("arrow",), np.array([0.9]), None, SIZE, np.array([predicted])
    )
    return match_objects(case, found, use_masks=False)


def colour_at(picture, x: float, y: float) -> tuple:
    return tuple(np.asarray(picture)[round(y), round(x)][:3])


def test_expected_keypoints_are_green_and_a_failing_predicted_one_is_red():
    verdict = judged([[100, 40, 0.9], [90, 110, 0.9], [130, 110, 0.9], [5, 5, 0.1]])
    assert not verdict.passed
    marks = verdict_marks(verdict)
    assert [p[2] for p in marks[0].keypoints.points] == ["tip", "left_barb", "right_barb"]  # not the unlabelled notch
    assert marks[0].keypoints.bones == (((100.0, 40.0), (70.0, 110.0)),)  # tip-left; the notch's bones are not drawn
    assert len(marks[1].keypoints.bones) == 3  # the prediction's: tip-left, left-notch, notch-right
    failing = [p for p in marks[1].keypoints.points if p[3]]
    assert [(p[2], p[4]) for p in failing] == [("left_barb", (70.0, 110.0))]
    picture = draw(np.zeros((SIZE[1], SIZE[0], 3), dtype=np.uint8), marks, labels=True, long_side=SIZE[0])
    assert colour_at(picture, 130, 110) == EXPECTED_COLOUR  # a passing keypoint: the expected dot shows
    assert colour_at(picture, 90, 110) == PROBLEM_COLOUR  # the failing predicted left barb
    assert colour_at(picture, 80, 110) == PROBLEM_COLOUR  # the line to where it should be


def test_a_passing_pose_draws_no_red():
    verdict = judged([[100, 40, 0.9], [70, 110, 0.9], [130, 110, 0.9], [5, 5, 0.1]])
    assert verdict.passed
    picture = draw(np.zeros((SIZE[1], SIZE[0], 3), dtype=np.uint8), verdict_marks(verdict), long_side=SIZE[0])
    assert not np.all(np.asarray(picture)[..., :3] == PROBLEM_COLOUR, axis=-1).any()
