"""The golden-case life cycle as a user walks it (pytest-regressions' test_usage_workflow, for cases):
record, review, pass; the model changes and the case fails; --harness-update rewrites it and still
fails; the rewritten case waits for review; once reviewed, the next run passes."""

from __future__ import annotations

import shutil

import pytest
import yaml
from PIL import Image

from harness.cli import main as cli

from conftest import FIXTURES, MODELS, with_case_line

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PREDICT = ["--predict", "imgsz=256", "--predict", "agnostic_nms=true"]


@pytest.fixture
def project(pytester):
    """A project with two images under cases/ and the shipped seg model as its model.pt."""
    (pytester.path / "cases" / "img").mkdir(parents=True)
    for index in (1, 2):
        shutil.copy(FIXTURES / "images" / f"golden-00{index}.png", pytester.path / "cases" / "img")
    shutil.copy(MODELS / "shapes-seg.pt", pytester.path / "model.pt")
    return pytester


def test_record_review_pass_change_fail_update_fail_review_pass(project, capsys):
    images = ["cases/img/golden-001.png", "cases/img/golden-002.png"]
    assert cli(["new", *images, "--model", "model.pt", "--out", "cases/shapes.yaml", *PREDICT]) == 0
    assert "recorded 2 cases from model.pt" in capsys.readouterr().out
    recorded = yaml.safe_load((project.path / "cases" / "shapes.yaml").read_text())
    assert [c["recorded"] for c in recorded["cases"]] == [{"model": "model.pt", "reviewed": False}] * 2
    assert all(c["objects"] for c in recorded["cases"])

    # Recorded, not reviewed: skipped with what to do, never a pass.
    result = project.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "recorded, not reviewed (skipped, not passed): cases/shapes.yaml: 2 cases (golden-001, golden-002)*",
            "SKIPPED [[]1[]] cases/shapes.yaml:8: recorded from model.pt's predictions, not reviewed: check it with "
            "`vision-harness review cases/shapes.yaml`, then *--mark-reviewed*",
        ]
    )
    assert result.ret == pytest.ExitCode.OK  # a skip is not a failure, but the summary says why

    # Review: one picture per case, the image with the expected objects drawn on it.
    assert cli(["review", "cases/shapes.yaml", "--out", "review"]) == 0
    pictures = sorted((project.path / "review" / "shapes").glob("*.png"))
    assert [p.name for p in pictures] == ["golden-001.png", "golden-002.png"]
    with Image.open(pictures[0]) as picture:
        assert picture.width >= 320  # at least the image itself
    assert cli(["review", "cases/shapes.yaml", "--mark-reviewed"]) == 0
    assert "marked reviewed: golden-001, golden-002" in capsys.readouterr().out
    project.runpytest().assert_outcomes(passed=2)

    # A person annotates the file; then the model changes and the cases fail.
    path = project.path / "cases" / "shapes.yaml"
    text = path.read_text().replace("  - name: golden-002\n", "  # the busy scene\n  - name: golden-002\n")
    text = text.replace("    image: img/golden-002.png\n", "    image: img/golden-002.png\n    tags: [busy]\n")
    path.write_text(text.replace("  - name: golden-001\n", "  - name: golden-001  # keep\n"))
    shutil.copy(MODELS / "shapes-seg-weak.pt", project.path / "model.pt")
    failing = project.runpytest()
    failing.assert_outcomes(failed=2)
    before = path.read_text()

    # --harness-update writes the new expectations, says what moved, and still fails.
    updated = project.runpytest("--harness-update")
    updated.assert_outcomes(failed=2)
    updated.stdout.fnmatch_lines(
        [
            "rewritten from model.pt: * added, * removed, * moved*; written to cases/shapes.yaml",
            "*removed  * (not found)",
            "updated cases/shapes.yaml: 2 cases rewritten (golden-001, golden-002), not reviewed*",
        ]
    )
    after = path.read_text()
    assert after != before
    for kept in ("# the busy scene", "tags: [busy]", "- name: golden-001  # keep", "predict: {imgsz: 256"):
        assert kept in after
    document = yaml.safe_load(after)
    assert [c["recorded"]["reviewed"] for c in document["cases"]] == [False, False]
    assert list(document["cases"][1]) == ["name", "image", "tags", "recorded", "objects"]  # key order kept

    # The rewritten cases wait for review; once reviewed, the changed model passes them.
    project.runpytest().assert_outcomes(skipped=2)
    assert cli(["review", "cases/shapes.yaml", "--mark-reviewed"]) == 0
    project.runpytest().assert_outcomes(passed=2)


def test_cases_waiting_for_review_count_in_no_suite_metric_or_gate(pytester, detect_suite):
    # scene-002's first box is moved off its square: judged, it would fail and pull recall below 1.
    text = detect_suite.replace("box: [158, 125, 218, 186]", "box: [108, 125, 168, 186]")
    text = text.replace("cases:\n", "metrics: {box.recall: 1.0}\ncases:\n", 1)
    waiting = with_case_line(text, "scene-002", "recorded: {model: m.pt, reviewed: false}")
    pytester.makefile(".yaml", shapes=waiting)
    cases = waiting.count("- name: ")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=cases - 1 + 1, skipped=1)  # the gate passes on the reviewed cases
    result.stdout.fnmatch_lines(["*shapes.yaml::suite::box*recall PASSED*", "shapes.yaml: box mAP50-95 *R 1.000"])
    pytester.makefile(".yaml", shapes=waiting.replace("reviewed: false", "reviewed: true"))
    reviewed = pytester.runpytest("-v")
    reviewed.assert_outcomes(passed=cases - 1, failed=2)  # scene-002 and the gate
    reviewed.stdout.fnmatch_lines(["*shapes.yaml::suite::box*recall FAILED*"])
