"""YOLO pose labels (data.yaml with kpt_shape) to pose cases: the generator's own training labels come
back as its ground truth, to the labels' six decimals; a wrong count or visibility names the line."""

from __future__ import annotations

import re
import sys

import pytest

from harness.core.errors import DatasetError
from harness.golden.record import ModelInfo
from harness.golden.yolo import read_yolo

from conftest import FIXTURES

sys.path.insert(0, str(FIXTURES))
from pose_shapes import make_pose_scene, write_pose_dataset

POSE_MODEL = ModelInfo("shapes-pose.pt", "pose", ("arrow",))


def test_generated_pose_labels_import_as_the_generators_keypoints(tmp_path):
    data = write_pose_dataset(tmp_path / "arrows", 0, 6)
    cases = read_yolo(data, "val", POSE_MODEL)
    assert len(cases) == 6
    for index, case in enumerate(cases):
        scene = make_pose_scene("val", index)
        assert len(case.objects) == len(scene.arrows)
        for obj, arrow in zip(case.objects, scene.arrows, strict=True):
            assert obj["class"] == "arrow"
            for (x, y, v), (ex, ey) in zip(obj["keypoints"], arrow.keypoints, strict=True):
                assert v == 2
                assert (x, y) == pytest.approx((ex, ey), abs=1e-6 * 400)  # six decimals of a side of 400 px at most
    detect = read_yolo(data, "val", ModelInfo("shapes-detect.pt", "detect", ("arrow",)))
    assert all("keypoints" not in obj for case in detect for obj in case.objects)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0.5 0.5 0.2 0.2 0.1 0.1 2\n", "line 1: expected 4 box numbers and 4 keypoints of 3 (kpt_shape), got 7"),
        ("0 0.5 0.5 0.2 0.2" + " 0.1 0.1 5" * 4 + "\n", "line 1: keypoint 0: visibility must be 0, 1 or 2, got 5"),
    ],
)
def test_a_bad_pose_label_names_its_line(tmp_path, line, message):
    data = write_pose_dataset(tmp_path / "arrows", 0, 1)
    (tmp_path / "arrows" / "labels" / "val" / "00000.txt").write_text(line)
    with pytest.raises(DatasetError, match=re.escape(message)):
        read_yolo(data, "val", POSE_MODEL)
