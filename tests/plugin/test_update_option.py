"""pytest --harness-update: only the selected failing cases are rewritten, and nothing a person wrote is lost."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import FIXTURES, MODELS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def shift_box(text: str, case: str, dx: float, extra: str = "") -> str:
    """Move the first expected box of ``case`` right by ``dx`` pixels, editing the text in place."""
    start = text.index(f"- name: {case}\n")
    match = re.compile(r"box: \[(\d+), (\d+), (\d+), (\d+)\]").search(text, start)
    x1, y1, x2, y2 = (int(v) for v in match.groups())
    box = f"box: [{x1 + dx:g}, {y1}, {x2 + dx:g}, {y2}]{extra}"
    return text[: match.start()] + box + text[match.end() :]


def case_block(text: str, case: str) -> str:
    start = text.index(f"  - name: {case}\n")
    end = text.find("\n  - name: ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.fixture
def annotated(pytester, detect_suite):
    """The shipped detect suite with two cases broken on purpose and a person's edits around them."""
    text = "# The team's golden cases. Keep this comment.\n" + detect_suite
    text = shift_box(text, "scene-002", -20, "\n        box_iou: 0.74   # hand-tuned: a tight square")
    text = shift_box(text, "scene-006", -20)
    text = text.replace("  - name: scene-002\n", "  # scene-002 is the busy one\n  - name: scene-002\n")
    pytester.makefile(".yaml", shapes=text)
    return pytester.path / "shapes.yaml"


def test_update_rewrites_only_the_selected_failing_case_and_keeps_the_rest(pytester, annotated):
    before = annotated.read_text()
    result = pytester.runpytest("--harness-update", "shapes.yaml::scene-002", "shapes.yaml::scene-003")
    result.assert_outcomes(passed=1, failed=1)  # scene-003 passes and stays as it was
    result.stdout.fnmatch_lines(
        [
            "1 box IoU low (worst IoU 0.501); rewritten from shapes-detect.pt: 0 added, 0 removed, 5 moved "
            "(lowest IoU with the old 0.501)",
            "rewritten from shapes-detect.pt: *; written to shapes.yaml",
            "  moved    square [[]138, 125, 198, 186[]] -> [[]157.3, 125.8, 218.1, 185.8[]] (box IoU 0.501 to the old)",
            "updated shapes.yaml: 1 case rewritten (scene-002), not reviewed*",
            "FAILED shapes.yaml::scene-002 - 1 box IoU low (worst IoU 0.501); rewritten*",
        ]
    )
    after = annotated.read_text()
    old_block, new_block = case_block(before, "scene-002"), case_block(after, "scene-002")
    # Not one byte changed outside the case (pytester wrote the file without its final line break).
    assert after.replace(new_block, old_block) == before + "\n"
    assert "# The team's golden cases. Keep this comment." in after
    assert "# scene-002 is the busy one" in after
    assert "box_iou: 0.74   # hand-tuned: a tight square" in new_block  # the object is still found
    assert "recorded: {model: shapes-detect.pt, reviewed: false}" in new_block
    assert case_block(after, "scene-006") == case_block(before, "scene-006")  # failing, but not selected
    rewritten = next(c for c in yaml.safe_load(after)["cases"] if c["name"] == "scene-002")
    assert rewritten["tags"] == next(c for c in yaml.safe_load(before)["cases"] if c["name"] == "scene-002")["tags"]

    # The rewritten case now waits for review; the unselected failing one still fails as before.
    again = pytester.runpytest("shapes.yaml::scene-002", "shapes.yaml::scene-006")
    again.assert_outcomes(skipped=1, failed=1)


def test_update_with_keyword_selection_writes_each_file_once(pytester, annotated):
    before = annotated.read_text()
    result = pytester.runpytest("--harness-update", "-k", "scene-002 or scene-006 or scene-007")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["updated shapes.yaml: 2 cases rewritten (scene-002, scene-006)*"])
    after = annotated.read_text()
    assert case_block(after, "scene-007") == case_block(before, "scene-007")
    assert after.count("reviewed: false") == 2


def test_update_of_a_passing_run_writes_nothing(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    path = pytester.path / "shapes.yaml"
    stamp = path.stat().st_mtime_ns
    result = pytester.runpytest("--harness-update", "-k", "scene-001 or scene-002")
    result.assert_outcomes(passed=2)
    assert path.stat().st_mtime_ns == stamp
    assert "rewritten from" not in result.stdout.str() and "updated " not in result.stdout.str()


def test_help_lists_the_update_option(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--harness-update*rewrite the expected objects of the selected failing*"])


@pytest.mark.parametrize(
    "workers", [("-n", "2"), ("--dist", "load", "--tx", "popen"), ("--tx", "2*popen")], ids=["n", "dist-tx", "tx"]
)
def test_update_refuses_parallel_workers(pytester, detect_suite, workers):
    """Any pytest-xdist distribution is refused, not only -n: workers would each rewrite the file."""
    pytester.makefile(".yaml", shapes=detect_suite)
    before = (pytester.path / "shapes.yaml").read_bytes()
    result = pytester.runpytest("--harness-update", *workers)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--harness-update writes case files: run it without pytest-xdist (-n, --dist, --tx)"])
    assert (pytester.path / "shapes.yaml").read_bytes() == before


def test_an_empty_case_that_now_finds_objects_gets_them_one_per_line(pytester):
    pytester.makefile(
        ".yaml",
        shapes=f"model: {MODELS / 'shapes-detect.pt'}\npredict: {{imgsz: 256, agnostic_nms: true}}\ncases:\n"
        f"  - name: busy\n    image: {FIXTURES / 'images' / 'golden-001.png'}\n    objects: []   # nothing here\n",
    )
    result = pytester.runpytest("--harness-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*rewritten from shapes-detect.pt: 4 added, 0 removed, 0 moved*"])
    text = (pytester.path / "shapes.yaml").read_text()
    assert text.count("\n      - class: ") == 4
    # The person's comment stays with the list it was written on.
    assert (
        "recorded: {model: shapes-detect.pt, reviewed: false}\n    objects:      # nothing here\n      - class:" in text
    )
