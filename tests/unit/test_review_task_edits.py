"""The review app's keypoint and oriented-box edits without a browser or a model: each writes that
object's one line in the file's own form, keeps every comment, and undo gives the old bytes back; an
edit the file's task has no place for is refused with one line and writes nothing."""

from __future__ import annotations

import json
import shutil

import pytest
from test_review_server import request

from harness.casefile.edit import CaseDocument
from harness.core.errors import CaseFileError
from harness.review_app.edits import EditError, replace_object
from harness.review_app.workspace import Workspace

from conftest import CASES, FIXTURES, review_app

POSE = """\
# pose cases, reviewed by hand
version: 1
model: model.pt
task: pose
keypoints:
  names: [tip, left_barb, right_barb, notch]
  skeleton: [[0, 1], [1, 3], [3, 2], [2, 0]]   # the outline
cases:
  - name: arrows   # two arrows
    image: pose.png
    objects:
      - class: arrow
        box: [297, 115, 362, 160]
        area: 940   # the mask's pixels
        keypoints: [[297.16, 159.84, 2], [362.93, 150.97, 2], [345.95, 114.85, 2], [339.67, 139.86, 2]]
      - class: arrow
        box: [46, 163, 89, 202]
        keypoints: [[89.97, 202.41, 2], [63.65, 161.49, 2], [44.94, 183.99, 2], [63.5, 180.39, 2]]
"""

OBB = """\
# obb cases
version: 1
model: model.pt
task: obb
cases:
  - name: boxes
    image: obb.png
    objects:
      - class: rectangle   # the long one
        obb: [[176.34, 18.03], [156.54, 100.68], [123.29, 92.71], [143.09, 10.07]]
      - class: triangle
        obb: {xywhr: [260, 100, 40, 20, 0.5]}
        obb_iou: 0.6
"""


def project(tmp_path, name: str, text: str, image: str):
    shutil.copy(FIXTURES / "images" / f"{image}.png", tmp_path / f"{name}.png")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path, Workspace([path], root=tmp_path, cache_folder=None)


def sha(workspace: Workspace) -> str:
    return workspace.listing()["files"][0]["sha256"]


def test_a_keypoint_edit_writes_that_objects_keypoints_line_only_and_undo_restores_the_bytes(tmp_path):
    path, workspace = project(tmp_path, "pose", POSE, "pose-golden-001")
    view = workspace.case(0, "arrows")
    assert view["keypoints"]["names"] == ["tip", "left_barb", "right_barb", "notch"]
    assert view["keypoints"]["skeleton"] == [[0, 1], [1, 3], [3, 2], [2, 0]]
    assert view["objects"][1]["keypoints"][0] == [89.97, 202.41, 2]
    before = path.read_bytes()
    moved = [[80.004, 200.5, 2], [63.65, 161.49, 1], [44.94, 183.99, 0], [63.5, 180.39, 2]]
    result = workspace.edit(0, "arrows", sha(workspace), {"op": "keypoints", "index": 1, "keypoints": moved})
    assert result["what"] == "objects[1].keypoints"
    expected = POSE.replace(
        "[[89.97, 202.41, 2], [63.65, 161.49, 2], [44.94, 183.99, 2], [63.5, 180.39, 2]]",
        "[[80, 200.5, 2], [63.65, 161.49, 1], [44.94, 183.99, 0], [63.5, 180.39, 2]]",
    )
    assert path.read_text() == expected
    assert result["case"]["objects"][1]["keypoints"][1] == [63.65, 161.49, 1]
    workspace.undo()
    assert path.read_bytes() == before


def test_an_obb_edit_writes_corners_in_place_and_rewrites_xywhr_as_corners(tmp_path):
    path, workspace = project(tmp_path, "obb", OBB, "obb-golden-001")
    view = workspace.case(0, "boxes")
    assert view["objects"][0]["obb"][0] == [176.34, 18.03]
    assert len(view["objects"][1]["obb"]) == 4  # xywhr shown as its corners
    before = path.read_bytes()
    corners = [[180.344, 20], [160.5, 102.68], [127.29, 94.71], [147.09, 12.07]]
    workspace.edit(0, "boxes", sha(workspace), {"op": "obb", "index": 0, "obb": corners})
    after = OBB.replace(
        "[[176.34, 18.03], [156.54, 100.68], [123.29, 92.71], [143.09, 10.07]]",
        "[[180.34, 20], [160.5, 102.68], [127.29, 94.71], [147.09, 12.07]]",
    )
    assert path.read_text() == after
    square = [[250, 90], [270, 90], [270, 110], [250, 110]]
    result = workspace.edit(0, "boxes", sha(workspace), {"op": "obb", "index": 1, "obb": square})
    assert result["what"] == "objects[1].obb"
    assert path.read_text() == after.replace(
        "{xywhr: [260, 100, 40, 20, 0.5]}", "[[250, 90], [270, 90], [270, 110], [250, 110]]"
    )
    workspace.undo()
    workspace.undo()
    assert path.read_bytes() == before


SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1]]
REFUSED = [
    ("obb", {"op": "keypoints", "index": 0, "keypoints": [[1, 2, 2]]}, "keypoints: the file's task is obb; "),
    ("pose", {"op": "obb", "index": 0, "obb": SQUARE}, "obb: the file's task is pose; only a `task: obb` file"),
    ("pose", {"op": "keypoints", "index": 0, "keypoints": [[1, 2, 2]] * 3}, "keypoints: 3 given, but the file's"),
    ("pose", {"op": "keypoints", "index": 0, "keypoints": [[1, 2, 3]] * 4}, "keypoints[0]: v must be 0 (not l"),
    ("obb", {"op": "obb", "index": 0, "obb": SQUARE[:3]}, "obb: expected four corners"),
    ("obb", {"op": "obb", "index": 5, "obb": SQUARE}, "objects[5]: no such object (the case has 2)"),
]


@pytest.mark.parametrize(("file", "op", "message"), REFUSED)
def test_an_edit_that_does_not_fit_the_task_is_one_line_and_writes_nothing(tmp_path, file, op, message):
    text, image, case = (OBB, "obb-golden-001", "boxes") if file == "obb" else (POSE, "pose-golden-001", "arrows")
    path, workspace = project(tmp_path, file, text, image)
    with pytest.raises(EditError) as caught:
        workspace.edit(0, case, sha(workspace), op)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert path.read_text() == text


def test_an_obb_edit_the_loader_refuses_names_the_field_and_writes_nothing(tmp_path):
    path, workspace = project(tmp_path, "obb", OBB, "obb-golden-001")
    crossed = [[100, 100], [200, 200], [200, 100], [100, 200]]
    with pytest.raises(CaseFileError, match=r"objects\[0\]\.obb: not written, the case would not load: the edges"):
        workspace.edit(0, "boxes", sha(workspace), {"op": "obb", "index": 0, "obb": crossed})
    assert path.read_text() == OBB


def test_an_accepted_prediction_replaces_the_keypoints_or_the_corners_and_keeps_area_and_thresholds(tmp_path):
    path, _ = project(tmp_path, "pose", POSE, "pose-golden-001")
    case = CaseDocument.load(path).case("arrows")
    predicted = {
        "class": "arrow",
        "box": [40, 160, 90, 203],
        "keypoints": [[90, 203, 2], [63, 161, 2], [45, 184, 0], [63, 180, 2]],
    }
    replace_object(case, 0, predicted)
    assert dict(case["objects"][0]) == {**predicted, "area": 940}
    path, _ = project(tmp_path, "obb", OBB, "obb-golden-001")
    case = CaseDocument.load(path).case("boxes")
    predicted = {"class": "rectangle", "obb": [[250, 90], [270, 90], [270, 110], [250, 110]]}
    replace_object(case, 1, predicted)
    assert dict(case["objects"][1]) == {**predicted, "obb_iou": 0.6}


def test_the_shipped_pose_file_is_written_back_with_its_own_indents():
    """Its ``keypoints:`` block is indented 2, its cases' keys 4: an edit must keep both."""
    path = CASES / "shapes-pose.yaml"
    assert CaseDocument.load(path).text() == path.read_text()


def test_the_server_answers_a_keypoint_edit_and_refuses_one_that_does_not_fit_with_its_line(tmp_path):
    path, workspace = project(tmp_path, "pose", POSE, "pose-golden-001")
    moved = [[88, 200, 2], [63.65, 161.49, 2], [44.94, 183.99, 2], [63.5, 180.39, 2]]
    with review_app(path) as (_, port, token):

        def post(op: dict) -> tuple[int, dict]:
            body = json.dumps({"file": 0, "case": "arrows", "sha256": sha(workspace), "op": op})
            status, text, _ = request(
                port, f"/{token}/api/edit", method="POST", headers={"Content-Type": "application/json"}, body=body
            )
            return status, json.loads(text)

        assert post({"op": "obb", "index": 1, "obb": [[0, 0], [9, 0], [9, 9], [0, 9]]}) == (
            400,
            {"error": "obb: the file's task is pose; only a `task: obb` file has obb"},
        )
        assert post({"op": "keypoints", "index": 1, "keypoints": moved[:2]})[0] == 400
        assert path.read_text() == POSE
        status, answer = post({"op": "keypoints", "index": 1, "keypoints": moved})
        assert (status, answer["what"]) == (200, "objects[1].keypoints")
    assert path.read_text() == POSE.replace("[[89.97, 202.41, 2], [63.65", "[[88, 200, 2], [63.65")


def test_oks_and_obb_iou_are_per_object_thresholds_the_panel_edits(tmp_path):
    path, workspace = project(tmp_path, "obb", OBB, "obb-golden-001")
    assert workspace.case(0, "boxes")["objects"][1]["obb_iou"] == 0.6
    workspace.edit(0, "boxes", sha(workspace), {"op": "thresholds", "index": 1, "obb_iou": None})
    workspace.edit(0, "boxes", sha(workspace), {"op": "thresholds", "index": 0, "obb_iou": 0.7})
    expected = OBB.replace("        obb_iou: 0.6\n", "")
    assert path.read_text().replace("        obb_iou: 0.7\n", "") == expected
    assert "[143.09, 10.07]]\n        obb_iou: 0.7\n" in path.read_text()
    path, workspace = project(tmp_path, "pose", POSE, "pose-golden-001")
    result = workspace.edit(0, "arrows", sha(workspace), {"op": "thresholds", "index": 1, "oks": 0.8})
    assert result["case"]["objects"][1]["oks"] == 0.8
    assert path.read_text().endswith("[63.5, 180.39, 2]]\n        oks: 0.8\n")


def test_a_move_writes_box_and_keypoints_by_the_same_offset_and_one_undo_restores_both(tmp_path):
    """A keypoint not labelled (v 0) moves too, even off the image (the loader takes any position
    for it); coordinates are rounded to 0.01 px as the file writes them; comments stay."""
    text = POSE.replace("[44.94, 183.99, 2], [63.5", "[0, 0, 0], [63.5")
    path, workspace = project(tmp_path, "pose", text, "pose-golden-001")
    before = path.read_bytes()
    result = workspace.edit(0, "arrows", sha(workspace), {"op": "move", "index": 1, "dx": -6.5, "dy": 3.333})
    assert result["what"] == "objects[1].box, objects[1].keypoints"
    assert path.read_text() == text.replace("box: [46, 163, 89, 202]", "box: [39.5, 166.33, 82.5, 205.33]").replace(
        "[[89.97, 202.41, 2], [63.65, 161.49, 2], [0, 0, 0], [63.5, 180.39, 2]]",
        "[[83.47, 205.74, 2], [57.15, 164.82, 2], [-6.5, 3.33, 0], [57, 183.72, 2]]",
    )
    assert result["case"]["objects"][1]["box"] == [39.5, 166.33, 82.5, 205.33]
    workspace.undo()
    assert path.read_bytes() == before


def test_a_move_writes_the_polygon_mask_the_page_moved_with_it(tmp_path):
    path, workspace = project(tmp_path, "pose", POSE, "pose-golden-001")
    polygon = [[56, 173], [79, 173], [79, 192.5]]
    op = {"op": "move", "index": 1, "dx": 10, "dy": 10, "polygons": [polygon]}
    result = workspace.edit(0, "arrows", sha(workspace), op)
    assert result["what"] == "objects[1].box, objects[1].keypoints, objects[1].mask"
    assert path.read_text() == POSE.replace("box: [46, 163, 89, 202]", "box: [56, 173, 99, 212]").replace(
        "[[89.97, 202.41, 2], [63.65, 161.49, 2], [44.94, 183.99, 2], [63.5, 180.39, 2]]",
        "[[99.97, 212.41, 2], [73.65, 171.49, 2], [54.94, 193.99, 2], [73.5, 190.39, 2]]\n"
        "        mask: [[56, 173], [79, 173], [79, 192.5]]",
    )


MOVES_REFUSED = [
    ({"op": "move", "index": 1, "dx": -50, "dy": 0}, r"objects\[1\]\.box.*not written, the case would not load"),
    ({"op": "move", "index": 1, "dx": "3", "dy": 0}, r"^move\.dx: expected a finite number, got '3'$"),
    ({"op": "move", "index": 7, "dx": 1, "dy": 0}, r"^objects\[7\]: no such object \(the case has 2\)"),
]


@pytest.mark.parametrize(("op", "message"), MOVES_REFUSED)
def test_a_move_out_of_the_image_or_malformed_is_one_line_and_writes_nothing(tmp_path, op, message):
    path, workspace = project(tmp_path, "pose", POSE, "pose-golden-001")
    with pytest.raises((EditError, CaseFileError), match=message) as caught:
        workspace.edit(0, "arrows", sha(workspace), op)
    assert "\n" not in str(caught.value)
    assert path.read_text() == POSE


def test_a_move_is_refused_in_an_obb_file_and_for_an_object_without_keypoints(tmp_path):
    path, workspace = project(tmp_path, "obb", OBB, "obb-golden-001")
    with pytest.raises(EditError, match=r"^move: the file's task is obb; only a `task: pose` file has move$"):
        workspace.edit(0, "boxes", sha(workspace), {"op": "move", "index": 0, "dx": 1, "dy": 1})
    line = "        keypoints: [[89.97, 202.41, 2], [63.65, 161.49, 2], [44.94, 183.99, 2], [63.5, 180.39, 2]]\n"
    assert line in POSE
    text = POSE.replace(line, "")
    path, workspace = project(tmp_path, "pose", text, "pose-golden-001")
    with pytest.raises(EditError, match=r"^objects\[1\]: a move needs an object with box and keypoints"):
        workspace.edit(0, "arrows", sha(workspace), {"op": "move", "index": 1, "dx": 1, "dy": 1})
    assert path.read_text() == text
