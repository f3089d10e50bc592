"""--harness-overlays, --harness-overlays-dir and the output options' checks, run as users run them."""

from __future__ import annotations

import pytest
from PIL import Image
from test_plugin import case_count, shift_first_box

from conftest import MODELS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def pngs(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))


def test_a_failing_case_prints_the_path_of_its_overlay(pytester, detect_suite):
    text, _ = shift_first_box(detect_suite, "scene-002", 1 / 3)
    pytester.makefile(".yaml", shapes=text)
    result = pytester.runpytest()
    result.assert_outcomes(passed=case_count(detect_suite) - 1, failed=1)
    result.stdout.fnmatch_lines(["*FAIL: box IoU low*", "overlay: harness-overlays/shapes.yaml/scene-002.png"])
    folder = pytester.path / "harness-overlays"
    assert pngs(folder) == ["shapes.yaml/scene-002.png"]  # passing cases get none by default
    with Image.open(folder / "shapes.yaml" / "scene-002.png") as picture:
        assert picture.format == "PNG" and max(picture.size) >= 640  # enlarged so that labels are legible
    result.stdout.fnmatch_lines(["overlays: 1 picture in harness-overlays"])


def test_all_draws_every_case_and_none_draws_nothing(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    pytester.runpytest().assert_outcomes(passed=case_count(detect_suite))
    assert not (pytester.path / "harness-overlays").exists()  # no failure, no folder
    pytester.runpytest("--harness-overlays", "all", "--harness-overlays-dir", "pictures").assert_outcomes(
        passed=case_count(detect_suite)
    )
    assert len(pngs(pytester.path / "pictures")) == case_count(detect_suite)
    weak = "--harness-model=" + str(MODELS / "shapes-detect-weak.pt")
    result = pytester.runpytest(weak, "--harness-overlays=none", "--harness-overlays-dir=elsewhere")
    assert result.parseoutcomes()["failed"] > 0
    assert "overlay:" not in result.stdout.str()
    assert not (pytester.path / "elsewhere").exists()


def test_pictures_of_an_earlier_run_are_removed_only_from_the_harness_folder(pytester, detect_suite):
    failing, _ = shift_first_box(detect_suite, "scene-002", 1 / 3)
    pytester.makefile(".yaml", shapes=failing)
    pytester.runpytest()
    assert pngs(pytester.path / "harness-overlays") == ["shapes.yaml/scene-002.png"]
    assert pytester.runpytest("--collect-only").ret == 0
    assert pngs(pytester.path / "harness-overlays") == ["shapes.yaml/scene-002.png"]  # nothing ran: kept
    pytester.makefile(".yaml", shapes=detect_suite)  # fixed: the old failure's picture must not linger
    pytester.runpytest().assert_outcomes(passed=case_count(detect_suite))
    assert pngs(pytester.path / "harness-overlays") == []
    # A folder the harness did not make keeps what is in it.
    mine = pytester.mkdir("mine")
    Image.new("RGB", (4, 4)).save(mine / "holiday.png")
    for _ in range(2):
        pytester.runpytest("--harness-overlays-dir=mine", "--harness-overlays=all")
        assert "holiday.png" in pngs(mine) and len(pngs(mine)) == case_count(detect_suite) + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--harness-report", "."], "*--harness-report .: is a folder; give a file name*"),
        (["--harness-json", "."], "*--harness-json .: is a folder; give a file name*"),
        (["--harness-overlays", "some"], "*argument --harness-overlays: invalid choice: 'some'*"),
        (["--harness-overlays-dir", "shapes.yaml"], "*--harness-overlays-dir shapes.yaml: exists and is not a folder*"),
    ],
)
def test_bad_output_options_are_usage_errors(pytester, detect_suite, args, message):
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_help_lists_the_output_options(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*--harness-overlays={failed,all,none}*",
            "*--harness-overlays-dir=DIR*",
            "*--harness-report=PATH.html*",
            "*--harness-json=PATH*",
        ]
    )


def test_a_report_that_cannot_be_written_is_said_and_the_outcome_stays(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest("--harness-report=shapes.yaml/report.html", "--harness-json=out/run.json")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["JSON record: out/run.json (0.* MB)", "HTML report not written: *shapes.yaml*"])


def test_overlay_pictures_are_not_reported_as_images_no_case_uses(pytester, detect_suite):
    text, _ = shift_first_box(detect_suite, "scene-002", 1 / 3)
    pytester.makefile(".yaml", shapes=text)
    for args in ([], ["--harness-overlays-dir=pictures"]):  # the default folder, and one of the user's
        result = pytester.runpytest(*args)
        result.stdout.fnmatch_lines(["overlay: *scene-002.png"])
        assert "no case uses" not in result.stdout.str()
    Image.new("RGB", (4, 4)).save(pytester.path / "stray.png")
    pytester.runpytest().stdout.fnmatch_lines(["images under the case folders that no case uses: 1: stray.png*"])


COUNT_DRAWINGS = """
import harness.reports.run_outputs

drawn = []
original = harness.reports.run_outputs.draw_pictures


def pytest_configure(config):
    def counted(verdict, kinds):
        drawn.append(verdict.case.name)
        return original(verdict, kinds)

    harness.reports.run_outputs.draw_pictures = counted


def pytest_unconfigure(config):
    harness.reports.run_outputs.draw_pictures = original
    print("drawn:", sorted(drawn))
"""


def test_a_rerun_copies_the_pictures_of_an_unchanged_verdict_and_draws_a_changed_one(pytester, detect_suite):
    text, _ = shift_first_box(detect_suite, "scene-002", 1 / 3)
    text, _ = shift_first_box(text, "scene-004", 1 / 3)
    path = pytester.makefile(".yaml", shapes=text)
    pytester.makeconftest(COUNT_DRAWINGS)
    every = str(sorted(f"scene-{i:03d}" for i in range(case_count(detect_suite))))
    first = pytester.runpytest("--harness-report=report.html")
    assert f"drawn: {every}" in first.outlines  # every case has a report thumbnail
    overlay = pytester.path / "harness-overlays" / "shapes.yaml" / "scene-002.png"
    before, report = overlay.read_bytes(), (pytester.path / "report.html").read_bytes()

    again = pytester.runpytest("--harness-report=report.html")
    again.stdout.fnmatch_lines(["overlay: harness-overlays/shapes.yaml/scene-002.png"])
    assert "drawn: []" in again.outlines  # every picture copied from the cache
    assert overlay.read_bytes() == before
    pictures = b"data:image/webp;base64,"
    assert (pytester.path / "report.html").read_bytes().count(pictures) == report.count(pictures) > 0

    # Another threshold changes every verdict (it is in the overlay's labels): drawn again, failing cases only.
    path.write_text(path.read_text().replace("box_iou: 0.75", "box_iou: 0.7", 1))
    assert "drawn: ['scene-002', 'scene-004']" in pytester.runpytest().outlines
    assert "drawn: []" in pytester.runpytest().outlines
    assert "drawn: ['scene-002', 'scene-004']" in pytester.runpytest("--cache-clear").outlines
