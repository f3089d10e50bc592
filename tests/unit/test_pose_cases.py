"""Pose case files: the keypoints block and objects' keypoints, their errors (file, case, field), the
model-fit check, the failure table's keypoint rows, and keypoints through the prediction cache."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from ruamel.yaml import YAML

from harness.casefile.edit import object_entry
from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase
from harness.core.errors import CaseFileError
from harness.core.keypoints import COCO_SIGMAS
from harness.evaluation.matching import match_objects
from harness.evaluation.pose_matching import object_area, pose_misfit
from harness.evaluation.prediction_cache import predictions_from_json, predictions_to_json
from harness.evaluation.predictions import Predictions
from harness.evaluation.verdict_text import format_verdict, summarize_verdict
from harness.golden.record import predicted_objects

WIDTH, HEIGHT = 320, 240
ARROW = "[[100, 40, 2], [70, 110, 2], [130, 110, 2], [100, 85, 1]]"
HEADER = """\
model: model.pt
task: pose
keypoints: {names: [tip, left_barb, right_barb, notch], flip_idx: [0, 2, 1, 3], sigmas: [0.05, 0.06, 0.06, 0.08]}
thresholds: {oks: 0.8, max_error: 6}
cases:
"""


def load(tmp_path: Path, text: str, header: str = HEADER):
    Image.new("RGB", (WIDTH, HEIGHT)).save(tmp_path / "a.png")
    (tmp_path / "model.pt").write_bytes(b"")
    path = tmp_path / "pose.yaml"
    path.write_text(header + text)
    return load_case_file(path)


def one_case(objects: str) -> str:
    return f"  - name: arrow\n    image: a.png\n    objects:\n{objects}"


ONE_ARROW = one_case(f"      - class: arrow\n        box: [60, 30, 140, 120]\n        keypoints: {ARROW}\n")


def test_a_pose_file_loads_names_flip_idx_sigmas_and_thresholds(tmp_path):
    loaded = load(tmp_path, ONE_ARROW)
    (case,) = loaded.cases
    spec = case.keypoints
    assert spec.names == ("tip", "left_barb", "right_barb", "notch")
    assert spec.flip_idx == (0, 2, 1, 3)
    assert spec.sigmas == (0.05, 0.06, 0.06, 0.08)
    assert spec.skeleton == ()  # none given: no bones drawn
    (obj,) = case.objects
    assert obj.keypoints[3] == (100.0, 85.0, 1)
    assert (obj.oks, obj.max_error, obj.area) == (0.8, 6.0, None)
    assert object_area(obj, case.image_size) == 80 * 90  # no area:, no mask: the box's


def test_sigmas_default_to_coco_for_17_keypoints_and_to_one_over_k_otherwise(tmp_path):
    header = HEADER.replace(", sigmas: [0.05, 0.06, 0.06, 0.08]", "")
    assert load(tmp_path, ONE_ARROW, header).cases[0].keypoints.sigmas == (0.25,) * 4
    flips = "[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]"
    seventeen = f"model: model.pt\ntask: pose\nkeypoints: {{flip_idx: {flips}}}\ncases: []\n"
    assert load(tmp_path, "", seventeen).keypoints.sigmas == COCO_SIGMAS


@pytest.mark.parametrize(
    ("objects", "field", "message"),
    [
        ("      - class: arrow\n        box: [60, 30, 140, 120]\n", "objects[0].keypoints", "missing"),
        (
            "      - class: arrow\n        box: [60, 30, 140, 120]\n        keypoints: [[1, 2, 2], [3, 4, 2]]\n",
            "objects[0].keypoints",
            "2 keypoints, but the file's keypoints: block has 4",
        ),
        (
            "      - class: arrow\n        box: [60, 30, 140, 120]\n"
            "        keypoints: [[100, 40, 3], [70, 110, 2], [130, 110, 2], [100, 85, 1]]\n",
            "objects[0].keypoints[0]",
            "v must be 0 (not labelled), 1 (occluded) or 2 (visible)",
        ),
        (
            "      - class: arrow\n        box: [60, 30, 140, 120]\n"
            "        keypoints: [[400, 40, 2], [70, 110, 2], [130, 110, 2], [100, 85, 1]]\n",
            "objects[0].keypoints[0]",
            "outside the 320x240 image",
        ),
        (
            f"      - class: arrow\n        box: [60, 30, 140, 120]\n        keypoints: {ARROW}\n        oks: 1.5\n",
            "objects[0].oks",
            "outside [0.0, 1.0]",
        ),
        (
            "      - class: arrow\n        box: [60, 30, 140, 120]\n        area: 90\n        crowd: true\n",
            "objects[0].area",
            "only an object with keypoints",
        ),
    ],
)
def test_a_bad_object_breaks_its_case_with_file_case_and_field(tmp_path, objects, field, message):
    (case,) = load(tmp_path, one_case(objects)).cases
    assert isinstance(case, BrokenCase)
    text = str(case.error)
    assert f"pose.yaml: case 'arrow': {field}: " in text and message in text


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ("{names: [a, b], sigmas: [0.1, 0.1, 0.1]}", "keypoints.sigmas", "3 entries, but names has 2"),
        ("{flip_idx: [1, 2, 0]}", "keypoints.flip_idx[0]", "0 becomes 1 but 1 becomes 2"),
        ("{flip_idx: [0, 5]}", "keypoints.flip_idx[1]", "expected a keypoint index 0..1"),
        ("{names: [a, a]}", "keypoints.names", "appears twice"),
        ("{sigmas: [0.1, 0]}", "keypoints.sigmas[1]", "outside"),
        ("{colours: [red]}", "keypoints.colours", "unknown key"),
        ("{names: [a, b], skeleton: [[0, 2]]}", "keypoints.skeleton[0]", "expected a keypoint index 0..1, got 2"),
        ("{names: [a, b], skeleton: [0, 1]}", "keypoints.skeleton[0]", "expected [i, j], got 0"),
    ],
)
def test_a_bad_keypoints_block_makes_the_file_unusable(tmp_path, block, field, message):
    header = f"model: model.pt\ntask: pose\nkeypoints: {block}\ncases:\n"
    with pytest.raises(CaseFileError) as caught:
        load(tmp_path, ONE_ARROW, header)
    assert f"{field}: " in str(caught.value) and message in str(caught.value)


def test_keypoints_in_a_detect_file_are_refused(tmp_path):
    (case,) = load(tmp_path, ONE_ARROW, "model: model.pt\ntask: detect\ncases:\n").cases
    assert "objects[0].keypoints: the file's task is detect; keypoints need task: pose" in str(case.error)


def test_a_model_with_another_keypoint_count_is_named(tmp_path):
    (case,) = load(tmp_path, ONE_ARROW).cases
    assert pose_misfit(case, "arrows.pt", "pose", [4, 3]) is None
    field, message = pose_misfit(case, "people.pt", "pose", [17, 3])
    assert field == "keypoints"
    assert (
        message == "the file's keypoints: block has 4 keypoints, but people.pt predicts 17 (its kpt_shape is [17, 3])"
    )
    assert pose_misfit(case, "boxes.pt", "detect", None) == (
        "objects[0].keypoints",
        "boxes.pt is a detect model and predicts no keypoints",
    )


def pose_predictions(keypoints: list, score: float = 0.9) -> Predictions:
    return Predictions(
        np.array([[62.0, 32.0, 138.0, 118.0]]),
        ("arrow",),
        np.array([score]),
        None,
        (WIDTH, HEIGHT),
        np.array([keypoints], dtype=np.float64),
    )


def test_the_failure_table_lists_every_keypoint(tmp_path):
    (case,) = load(tmp_path, ONE_ARROW).cases
    # The left barb 20 px off: OKS falls below 0.8 and the keypoint is past max_error 6.
    found = pose_predictions([[100, 40, 0.9], [90, 110, 0.8], [130, 110, 0.9], [100, 85, 0.4]])
    verdict = match_objects(case, found, use_masks=False)
    assert not verdict.passed
    assert verdict.objects[0].problems == ["OKS low", "keypoint off"]
    text = format_verdict(verdict, model_name="arrows.pt")
    assert text.splitlines()[0].startswith("1 OKS low, 1 keypoint off")
    # The summary gives the keypoints' own figure beside the box's.
    assert text.splitlines()[0].endswith(f"(worst IoU {verdict.worst_iou:.3f}, worst OKS 0.786)")
    assert verdict.worst_iou > 0.9
    missed = match_objects(case, Predictions.empty((WIDTH, HEIGHT), with_masks=False), use_masks=False)
    assert summarize_verdict(missed) == "1 missed (worst IoU 0.000, worst OKS 0.000)"
    assert "object 0 (arrow) keypoints: OKS 0.786 < 0.80 (area 7200 px² from box; 4 sigmas: the file)" in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("    ")}
    assert set(rows) >= {"keypoint", "tip", "left_barb", "right_barb", "notch"}
    assert "[70.0, 110.0]" in rows["left_barb"] and "[90.0, 110.0]" in rows["left_barb"]
    assert "20.0" in rows["left_barb"] and rows["left_barb"].rstrip().endswith("FAIL")
    assert "1 occluded" in rows["notch"] and rows["notch"].rstrip().endswith("ok")


def test_a_perfect_prediction_passes_with_oks_one(tmp_path):
    (case,) = load(tmp_path, ONE_ARROW).cases
    found = pose_predictions([[100, 40, 0.9], [70, 110, 0.8], [130, 110, 0.9], [100, 85, 0.4]])
    verdict = match_objects(case, found, use_masks=False)
    assert verdict.passed and verdict.objects[0].oks == 1.0


def test_keypoints_survive_the_prediction_cache_and_damage_is_a_miss():
    original = pose_predictions([[100.25, 40.5, 0.9], [70.0, 110.0, 0.8], [130.0, 110.0, 0.9], [100.0, 85.0, 0.4]])
    entry = json.loads(json.dumps(predictions_to_json(original)))
    restored = predictions_from_json(entry)
    assert np.array_equal(restored.keypoints, original.keypoints)
    nan = float("nan")
    for damaged in ([], [[[1.0, 2.0, 1.5]] * 4], [[[1.0, 2.0]] * 4], [[[1.0, 2.0, 0.5]] * 4] * 2, [[[nan, 2.0, 0.5]]]):
        with pytest.raises(ValueError):
            predictions_from_json({**entry, "keypoints": damaged})


def test_recorded_keypoints_keep_only_confident_ones_inside_the_image_and_load_back(tmp_path):
    found = pose_predictions([[100.25, 40.5, 0.9], [70.0, 110.0, 0.3], [330.0, 110.0, 0.9], [100.0, 85.0, 0.6]])
    (obj,) = predicted_objects(found)
    assert obj["keypoints"] == [[100.25, 40.5, 2], [0, 0, 0], [0, 0, 0], [100, 85, 2]]
    stream = io.StringIO()
    YAML().dump({"objects": [object_entry(obj)]}, stream)
    assert "keypoints: [[100.25, 40.5, 2], [0, 0, 0], [0, 0, 0], [100, 85, 2]]" in stream.getvalue()
    text = one_case(
        "      - class: arrow\n        box: [60, 30, 140, 120]\n        keypoints: " + str(obj["keypoints"]) + "\n"
    )
    (case,) = load(tmp_path, text).cases
    assert case.objects[0].keypoints[0] == (100.25, 40.5, 2)
