"""The review app's editing API without a browser or a model: each edit changes only the lines it
must, a file changed on disk is never overwritten, undo gives the old bytes back."""

from __future__ import annotations

import difflib
import json
import shutil

import numpy as np
import pytest

from harness.casefile.edit import StaleFileError
from harness.casefile.load import load_case_file
from harness.core.geometry import mask_iou, mask_to_rle, polygons_to_rle, trace_rle
from harness.core.paths import find_rootdir, harness_cache_folder
from harness.review_app.edits import EditError
from harness.review_app.workspace import Workspace, failing_in_record

from conftest import FIXTURES

SQUARE = "[[212.37, 125.48], [218.45, 180.33], [163.6, 186.41], [157.52, 131.56]]"


@pytest.fixture
def project(tmp_path):
    """A project folder with a case file (comments, flow style, an RLE mask) and its image."""
    shutil.copy(FIXTURES / "images" / "golden-002.png", tmp_path / "scene.png")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    rle = polygons_to_rle([[77, 84, 152, 84, 152, 160, 77, 160]], 320, 240)
    counts = rle["counts"].decode().replace("\\", "\\\\")  # written double-quoted: a backslash escapes
    path = tmp_path / "cases.yaml"
    path.write_text(
        "# reviewed by hand\n"
        "version: 1\n"
        "model: model.pt   # not needed to edit\n"
        "task: segment\n"
        "cases:\n"
        "  - name: one   # the first\n"
        "    image: scene.png\n"
        "    recorded: {model: m.pt, reviewed: false}\n"
        "    objects:\n"
        "      - class: square\n"
        "        box: [158, 125, 218, 186]\n"
        f"        mask: {SQUARE}\n"
        "      - class: circle   # the big one\n"
        "        box: [77, 84, 152, 160]\n"
        f'        mask: {{rle: {{size: [320, 240], counts: "{counts}"}}}}\n'
        "  - name: two\n"
        "    image: scene.png\n"
        "    objects: []   # nothing may be detected\n"
    )
    return path


@pytest.fixture
def workspace(project):
    return Workspace([project], root=project.parent, cache_folder=None)


def changed_lines(before: str, after: str) -> list[int]:
    """1-based numbers of the old file's lines that an edit replaced or removed."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    return [i + 1 for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal" for i in range(i1, max(i2, i1 + 1))]


def sha(workspace: Workspace) -> str:
    return workspace.listing()["files"][0]["sha256"]


def test_a_box_edit_changes_that_line_only(workspace, project):
    before = project.read_text()
    result = workspace.edit(0, "one", sha(workspace), {"op": "set", "index": 0, "box": [158, 125, 221.456, 186]})
    after = project.read_text()
    assert result["what"] == "objects[0].box"
    assert changed_lines(before, after) == [11]
    assert "        box: [158, 125, 221.46, 186]\n" in after
    assert result["case"]["objects"][0]["box"] == [158, 125, 221.46, 186]
    assert result["sha256"] == sha(workspace) == result["case"]["sha256"]


def test_an_rle_mask_is_shown_as_its_tracing_and_becomes_a_polygon_when_edited(workspace, project):
    view = workspace.case(0, "one")["objects"][1]["mask"]
    assert view["kind"] == "rle" and 0.95 <= view["trace_iou"] <= 1.0
    points = view["polygons"][0]
    points[0] = [points[0][0] - 5, points[0][1]]
    before = project.read_text()
    workspace.edit(0, "one", sha(workspace), {"op": "set", "index": 1, "polygons": [points]})
    after = project.read_text()
    assert changed_lines(before, after) == [15]
    obj = load_case_file(project, check_model=False).cases[0].objects[1]
    assert obj.mask.polygons is not None and obj.mask.rle is None
    assert workspace.case(0, "one")["objects"][1]["mask"]["kind"] == "polygon"


def test_class_thresholds_delete_and_case_fields(workspace, project):
    digest = sha(workspace)
    digest = workspace.edit(0, "one", digest, {"op": "class", "index": 1, "class": "triangle"})["sha256"]
    digest = workspace.edit(0, "one", digest, {"op": "thresholds", "index": 0, "box_iou": 0.9})["sha256"]
    digest = workspace.edit(0, "one", digest, {"op": "case", "tags": ["night", "small"], "max_extra": 2})["sha256"]
    text = project.read_text()
    assert "      - class: triangle # the big one\n" in text  # the comment stays on its line, at its column
    assert "        box_iou: 0.9\n" in text
    assert "    tags: [night, small]\n    thresholds: {max_extra: 2}\n    recorded:" in text
    case = load_case_file(project, check_model=False).cases[0]
    assert case.tags == ("night", "small") and case.max_extra == 2 and case.objects[0].box_iou == 0.9
    digest = workspace.edit(0, "one", digest, {"op": "thresholds", "index": 0, "box_iou": None})["sha256"]
    digest = workspace.edit(0, "one", digest, {"op": "case", "tags": [], "max_extra": None})["sha256"]
    workspace.edit(0, "one", digest, {"op": "delete", "index": 0})
    text = project.read_text()
    assert "box_iou" not in text and "tags" not in text and "thresholds" not in text
    assert [o.class_name for o in load_case_file(project, check_model=False).cases[0].objects] == ["triangle"]


def test_a_drawn_polygon_is_added_to_an_empty_case_in_block_style(workspace, project):
    triangle = [[66.43, 235.85], [102.57, 218.05], [99.91, 258.25]]
    obj = {"class": "triangle", "box": [66.43, 218.05, 102.57, 258.25], "polygons": [triangle]}
    workspace.edit(0, "two", sha(workspace), {"op": "add", "object": obj})
    text = project.read_text()
    assert text.endswith(
        "    objects:      # nothing may be detected\n"
        "      - class: triangle\n"
        "        box: [66.43, 218.05, 102.57, 258.25]\n"
        "        mask: [[66.43, 235.85], [102.57, 218.05], [99.91, 258.25]]\n"
    )
    assert len(load_case_file(project, check_model=False).cases[1].objects) == 1


def test_a_file_changed_on_disk_is_never_overwritten(workspace, project):
    seen = sha(workspace)
    project.write_text(project.read_text().replace("# the first", "# changed in an editor"))
    with pytest.raises(StaleFileError, match=r"cases.yaml: changed on disk since it was read .*reload it"):
        workspace.edit(0, "one", seen, {"op": "set", "index": 0, "box": [150, 125, 218, 186]})
    with pytest.raises(StaleFileError):
        workspace.edit(0, "one", seen, {"op": "reviewed"})
    assert "# changed in an editor" in project.read_text() and "[150, 125" not in project.read_text()
    workspace.edit(0, "one", sha(workspace), {"op": "set", "index": 0, "box": [150, 125, 218, 186]})
    assert "# changed in an editor" in project.read_text() and "[150, 125, 218, 186]" in project.read_text()


def test_undo_writes_the_old_bytes_back_unless_the_file_changed_since(workspace, project):
    original = project.read_bytes()
    digest = workspace.edit(0, "one", sha(workspace), {"op": "delete", "index": 1})["sha256"]
    workspace.edit(0, "one", digest, {"op": "reviewed"})
    assert "reviewed: true" in project.read_text()
    assert workspace.undo()["what"] == "undone: marked reviewed: one"
    assert workspace.undo()["case"]["objects"][1]["class"] == "circle"
    assert project.read_bytes() == original
    with pytest.raises(EditError, match="nothing to undo"):
        workspace.undo()
    workspace.edit(0, "one", sha(workspace), {"op": "delete", "index": 1})
    project.write_text(project.read_text() + "# appended elsewhere\n")
    with pytest.raises(StaleFileError):
        workspace.undo()
    assert project.read_text().endswith("# appended elsewhere\n")


def test_mark_all_reviewed_writes_each_file_once_and_skips_a_stale_one(workspace, project):
    result = workspace.mark_all_reviewed([{"file": 0, "case": "one"}, {"file": 0, "case": "two"}], {"0": "0" * 64})
    assert result["marked"] == [] and "changed on disk" in result["stale"][0]
    result = workspace.mark_all_reviewed(
        [{"file": 0, "case": "one"}, {"file": 0, "case": "two"}], {"0": sha(workspace)}
    )
    assert result["marked"] == [{"file": 0, "case": "one"}]  # "two" was written by a person: nothing to review
    assert load_case_file(project, check_model=False).cases[0].recorded.reviewed is True


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"op": "explode"}, "unknown edit 'explode'"),
        ({"op": "set", "index": 7, "box": [1, 2, 3, 4]}, r"objects\[7\]: no such object \(the case has 2\)"),
        ({"op": "set", "index": 0, "box": [1, 2, 3]}, r"box: expected \[x1, y1, x2, y2\]"),
        ({"op": "set", "index": 0, "polygons": [[[1, 2], [3, 4]]]}, "at least 3"),
        ({"op": "thresholds", "index": 0, "box_iou": 2}, r"outside \[0.0, 1.0\]"),
        ({"op": "case", "max_extra": -1}, "whole number >= 0"),
    ],
)
def test_a_malformed_edit_is_one_clear_line_and_writes_nothing(workspace, project, op, message):
    before = project.read_bytes()
    with pytest.raises(EditError, match=message):
        workspace.edit(0, "one", sha(workspace), op)
    assert project.read_bytes() == before


def test_an_edit_the_file_would_not_load_with_names_file_case_and_field(workspace, project):
    before = project.read_bytes()
    with pytest.raises(Exception, match=r"cases.yaml: case 'one': objects\[0\].box: .* outside the 240x320 image"):
        workspace.edit(0, "one", sha(workspace), {"op": "set", "index": 0, "box": [158, 125, 400, 186]})
    assert project.read_bytes() == before


def test_an_image_outside_the_root_is_refused(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(FIXTURES / "images" / "golden-002.png", tmp_path / "elsewhere.png")
    path = project / "cases.yaml"
    path.write_text("cases:\n  - name: out\n    image: ../elsewhere.png\n    objects: []\n")
    workspace = Workspace([path], root=project, cache_folder=None)
    with pytest.raises(Exception, match=r"case 'out': image: .*elsewhere.png is outside the folder the app serves"):
        workspace.image(0, "out")
    with pytest.raises(Exception, match="outside the folder the app serves"):
        Workspace([path], root=project / "sub", cache_folder=None)


def test_failing_cases_are_read_from_a_run_record(tmp_path):
    record = tmp_path / "run.json"
    cases = [
        {"suite": "cases/a.yaml", "name": "x[hflip]", "outcome": "failed"},
        {"suite": "cases/a.yaml", "name": "y", "outcome": "passed"},
    ]
    record.write_text(json.dumps({"invocation": {"rootdir": str(tmp_path)}, "cases": cases}))
    assert failing_in_record(record) == {(str(tmp_path / "cases" / "a.yaml"), "x")}
    record.write_text("[]")
    with pytest.raises(Exception, match="not a run record written by --harness-json"):
        failing_in_record(record)


def test_rootdir_and_cache_folder_are_pytests(tmp_path):
    (tmp_path / "tox.ini").write_text("[pytest]\n")
    (tmp_path / "cases" / "deep").mkdir(parents=True)
    (tmp_path / "cases" / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # not pytest's: passed over
    assert find_rootdir([tmp_path / "cases" / "deep" / "a.yaml", tmp_path / "cases" / "b.yaml"]) == tmp_path
    folder = harness_cache_folder(tmp_path)
    assert folder == tmp_path / ".pytest_cache" / "d" / "vision-harness"
    assert (tmp_path / ".pytest_cache" / ".gitignore").read_text().endswith("*\n")


def test_tracing_a_mask_keeps_its_shape():
    square = polygons_to_rle([[10, 10, 60, 10, 60, 40, 10, 40]], 100, 100)
    polygons, iou = trace_rle(square)
    assert len(polygons) == 1 and len(polygons[0]) == 8 and iou > 0.99
    two = np.zeros((100, 100), bool)
    two[20:30, 20:30] = two[60:70, 60:75] = True
    polygons, iou = trace_rle(mask_to_rle(two))
    assert len(polygons) == 2 and iou > 0.95
    assert float(mask_iou([polygons_to_rle(polygons, 100, 100)], [mask_to_rle(two)])[0, 0]) == pytest.approx(iou)
