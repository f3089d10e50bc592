"""Pose cases to COCO keypoints JSON and back: keypoints, num_keypoints, area and the OKS thresholds
survive; pycocotools' keypoint evaluation reads the export; a bad keypoint list names its annotation."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from harness.casefile.load import load_case_file
from harness.core.errors import DatasetError
from harness.golden.coco import read_coco, write_coco
from harness.golden.keypoint_blocks import keypoint_block
from harness.golden.record import ModelInfo

from conftest import CASES, FIXTURES

POSE_MODEL = ModelInfo("shapes-pose.pt", "pose", ("arrow",))


def test_the_pose_suite_goes_to_coco_keypoints_and_back(tmp_path):
    out = tmp_path / "pose.json"
    assert write_coco(CASES / "shapes-pose.yaml", out, images=FIXTURES / "images") == 24
    exported = json.loads(out.read_text())
    assert exported["categories"] == [
        {
            "id": 1,
            "name": "arrow",
            "keypoints": ["tip", "left_barb", "right_barb", "notch"],
            "skeleton": [[1, 2], [2, 4], [4, 3], [3, 1]],  # COCO counts keypoints from 1
        }
    ]
    assert keypoint_block(out, "coco") == {  # what an import writes as the new file's keypoints: block
        "names": ["tip", "left_barb", "right_barb", "notch"],
        "skeleton": [[0, 1], [1, 3], [3, 2], [2, 0]],
    }
    first = exported["annotations"][0]
    assert len(first["keypoints"]) == 12 and first["num_keypoints"] == 4
    original = [c for c in load_case_file(CASES / "shapes-pose.yaml").cases]
    by_name = {case.name: case for case in original}
    imported = read_coco(out, FIXTURES / "images", POSE_MODEL)
    assert len(imported) == len(original)
    for new in imported:
        case = by_name[new.name]
        assert [tuple(map(tuple, o["keypoints"])) for o in new.objects] == [o.keypoints for o in case.objects]
        assert [o["area"] for o in new.objects] == [o.area for o in case.objects]
    # pycocotools reads the export as keypoint ground truth, and the ground truth scores 1 against itself.
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
        results = [
            {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
            for a in coco.dataset["annotations"]
        ]
        evaluation = COCOeval(coco, coco.loadRes(results), "keypoints")
        evaluation.params.kpt_oks_sigmas = np.array(load_case_file(CASES / "shapes-pose.yaml").keypoints.sigmas)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_a_bad_keypoint_list_names_its_annotation(tmp_path):
    out = tmp_path / "pose.json"
    write_coco(CASES / "shapes-pose.yaml", out, images=FIXTURES / "images")
    document = json.loads(out.read_text())
    document["annotations"][0]["keypoints"][2] = 7
    out.write_text(json.dumps(document))
    with pytest.raises(DatasetError, match=r"annotations\[0\] .*\.keypoints\[2\]: v must be 0, 1 or 2, got 7"):
        read_coco(out, FIXTURES / "images", POSE_MODEL)
