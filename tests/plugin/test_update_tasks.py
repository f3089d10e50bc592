"""pytest --harness-update on oriented-box (obb) and classify cases: the broken case is rewritten from
the model, every other byte of the file stays, and once reviewed the case passes on that model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from harness.casefile.load import load_case_file
from harness.core.oriented import xywhr_to_corners
from harness.golden.review import mark_reviewed

from conftest import MODELS, shipped_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RECTANGLE = "obb: [[122.23, 31], [79.92, 78.56], [53.12, 54.73], [95.44, 7.17]]"  # obb-003's first object
MOVED_RECTANGLE = "obb: [[110.23, 43], [67.92, 90.56], [41.12, 66.73], [83.44, 19.17]]"  # 12 px left, 12 down
CROWD = "      - class: ellipse\n        obb: [[280, 200], [310, 200], [310, 230], [280, 230]]\n        crowd: true\n"


def case_block(text: str, case: str) -> str:
    start = text.index(f"  - name: {case}\n")
    end = text.find("\n  - name: ", start + 1)
    return text[start : end if end > 0 else None]


def write_suite(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def assert_only_case_changed(before: str, after: str, case: str) -> str:
    """The rewritten case's new text, after checking that not one byte changed outside it."""
    old_block, new_block = case_block(before, case), case_block(after, case)
    assert new_block != old_block
    assert after.replace(new_block, old_block) == before
    return new_block


def case_named(path: Path, name: str):
    return next(case for case in load_case_file(path).cases if case.name == name)


def test_update_rewrites_a_broken_obb_case_and_keeps_the_rest(pytester):
    text = "# Our oriented boxes. Keep this comment.\n" + shipped_suite("shapes-obb.yaml")
    assert RECTANGLE in text
    text = text.replace(RECTANGLE, MOVED_RECTANGLE + "\n        obb_iou: 0.6   # hand-tuned: a thin box")
    text = text.replace("  - name: obb-004\n", CROWD + "  - name: obb-004\n")  # obb-003's last object
    path = write_suite(pytester.path, "obb.yaml", text)

    result = pytester.runpytest("--harness-update", "-k", "obb-003 or obb-004")
    result.assert_outcomes(failed=1, passed=1)  # obb-004 passes and stays as it was
    result.stdout.fnmatch_lines(
        [
            "1 obb IoU low (worst IoU 0.*); rewritten from shapes-obb.pt: 0 added, 0 removed, 2 moved "
            "(lowest IoU with the old 0.*)",
            "rewritten from shapes-obb.pt: *; written to obb.yaml",
            "  moved    rectangle (76, 55) 64x36 132° -> (*) *x* *° (obb IoU 0.* to the old)",
            "  moved    triangle (46, 174) 76x27 134° -> (*) *x* *° (obb IoU 0.* to the old)",
            "updated obb.yaml: 1 case rewritten (obb-003), not reviewed*",
            "FAILED obb.yaml::obb-003 - 1 obb IoU low (worst IoU 0.*); rewritten from sh*",
        ]
    )
    after = path.read_text()
    new_block = assert_only_case_changed(text, after, "obb-003")
    assert after.startswith("# Our oriented boxes. Keep this comment.\n")
    assert "recorded: {model: shapes-obb.pt, reviewed: false}" in new_block
    assert "obb_iou: 0.6   # hand-tuned: a thin box" in new_block  # the rectangle is still found
    assert MOVED_RECTANGLE not in new_block
    assert new_block.endswith(CROWD.rstrip("\n"))  # the crowd region, as it was
    rewritten = case_named(path, "obb-003")
    assert rewritten.tags == ("wide",)
    assert [obj.class_name for obj in rewritten.objects] == ["rectangle", "triangle", "ellipse"]
    assert rewritten.objects[0].obb_iou == 0.6

    pytester.runpytest("obb.yaml::obb-003").assert_outcomes(skipped=1)  # waiting for review
    assert mark_reviewed(path, ["obb-003"]) == ["obb-003"]
    pytester.runpytest("obb.yaml::obb-003").assert_outcomes(passed=1)


# obb-001's first object, and the same box as Ultralytics' centre, sides and angle (to 0.01 px).
OBB_001_RECTANGLE = "obb: [[176.34, 18.03], [156.54, 100.68], [123.29, 92.71], [143.09, 10.07]]"
OBB_001_XYWHR = "obb: {xywhr: [149.82, 55.37, 84.99, 34.19, 1.8059]}"


def test_update_from_the_weak_obb_model_adds_and_removes_objects(pytester):
    assert xywhr_to_corners(np.array([[149.82, 55.37, 84.99, 34.19, 1.8059]])).ravel() == pytest.approx(
        [176.34, 18.03, 156.54, 100.68, 123.29, 92.71, 143.09, 10.07], abs=0.02
    )
    text = shipped_suite("shapes-obb.yaml").replace(OBB_001_RECTANGLE, OBB_001_XYWHR)
    assert OBB_001_XYWHR in text
    path = write_suite(pytester.path, "obb.yaml", text)
    weak = f"--harness-model={MODELS / 'shapes-obb-weak.pt'}"

    result = pytester.runpytest("--harness-update", weak, "obb.yaml::obb-001")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "rewritten from shapes-obb-weak.pt: 1 added, 1 removed, 2 moved (lowest IoU with the old 0.*); "
            "written to obb.yaml",
            "  removed  triangle (278, 40) 65x25 111° (not found)",
            "  added    rectangle (*) *x* *° conf 0.*",
        ]
    )
    new_block = assert_only_case_changed(text, path.read_text(), "obb-001")
    assert "recorded: {model: shapes-obb-weak.pt, reviewed: false}" in new_block
    assert "xywhr" not in new_block  # the moved rectangle is written as corners, as `new` writes them
    assert new_block.count("        obb: [[") == 3
    assert "model: {path: " in path.read_text()  # the file still runs its own model

    mark_reviewed(path, ["obb-001"])
    pytester.runpytest(weak, "obb.yaml::obb-001").assert_outcomes(passed=1)


def test_update_replaces_a_wrong_label_with_the_top_class(pytester):
    text = "# Our labels. Keep this comment.\n" + shipped_suite("shapes-classify.yaml")
    broken = text.replace("    label: star\n", "    label: circle   # a guess\n", 1)
    broken = broken.replace("    label: triangle\n", "    labels: [circle, star]\n", 1)  # classify-004
    path = write_suite(pytester.path, "classify.yaml", broken)

    result = pytester.runpytest("--harness-update", "-k", "classify-003 or classify-004 or classify-005")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "wrong label: top class star (*), expected circle; "
            "rewritten from shapes-classify.pt: label circle -> star (confidence *)",
            "wrong label: top class triangle (*), expected circle or star; "
            "rewritten from shapes-classify.pt: label circle or star -> triangle (confidence *)",
        ]
    )
    result.stdout.fnmatch_lines(["updated classify.yaml: 2 cases rewritten (classify-003, classify-004), *"])
    after = path.read_text()
    for case in ("classify-003", "classify-004"):
        after = after.replace(case_block(after, case), case_block(broken, case))
    assert after == broken  # nothing outside the two cases changed
    rewritten = path.read_text()
    # The comment stays in its column; `recorded:` goes just before the label, the other keys stay.
    assert re.fullmatch(
        r"  - name: classify-003\n    image: \S+\n    tags: \[dark\]\n"
        r"    recorded: \{model: shapes-classify.pt, reviewed: false\}\n"
        r"    label: star +# a guess\n    min_confidence: 0.5",
        case_block(rewritten, "classify-003"),
    )
    assert "    labels: [triangle]\n" in case_block(rewritten, "classify-004")

    assert mark_reviewed(path) == ["classify-003", "classify-004"]
    again = pytester.runpytest("-k", "classify-003 or classify-004")
    again.assert_outcomes(passed=2)


def test_update_from_the_weak_classify_model_keeps_min_confidence(pytester):
    """The weak model is right on classify-000 but unsure: that failure is the case's min_confidence,
    which no update lowers; on classify-002 it is wrong, and the new label still fails on it."""
    text = shipped_suite("shapes-classify.yaml")
    path = write_suite(pytester.path, "classify.yaml", text)
    weak = f"--harness-model={MODELS / 'shapes-classify-weak.pt'}"

    result = pytester.runpytest("--harness-update", weak, "-k", "classify-000 or classify-002")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "confidence low: circle scored 0.* < 0.50; not rewritten: the top class is already circle: "
            "lower min_confidence by hand if the model is right",
            "wrong label: top class * expected square; rewritten from "
            "shapes-classify-weak.pt: label square -> * (confidence 0.*), below the case's min_confidence 0.50, "
            "which the update keeps",
        ]
    )
    result.stdout.fnmatch_lines(["updated classify.yaml: 1 case rewritten (classify-002), *"])
    after = path.read_text()
    assert case_block(after, "classify-000") == case_block(text, "classify-000")
    assert_only_case_changed(text, after, "classify-002")

    mark_reviewed(path, ["classify-002"])
    again = pytester.runpytest(weak, "classify.yaml::classify-002")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["confidence low: * scored 0.* < 0.50"])
