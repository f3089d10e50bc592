"""The summary's unused images and cases whose images are gone, counted among what was selected."""

from __future__ import annotations

import shutil

import pytest

from conftest import FIXTURES, MODELS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
UNUSED = "images under the case folders that no case uses: *"
GONE = "cases whose images are gone: *"


def case_file(*images: str) -> str:
    cases = "".join(f"  - name: case-{i}\n    image: {image}\n    objects: []\n" for i, image in enumerate(images))
    return f"model: {MODELS / 'shapes-detect.pt'}\ncases:\n{cases}"


@pytest.fixture
def project(pytester):
    """cases/ with four images (one hidden) and a case file using two of them and a missing one."""
    images = pytester.path / "cases" / "img"
    (images / ".trash").mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png", ".trash/d.png"):
        shutil.copy(FIXTURES / "images" / "golden-000.png", images / name)  # an empty scene: every case passes
    (pytester.path / "cases" / "one.yaml").write_text(case_file("img/a.png", "img/b.png", "img/gone.png"))
    return pytester


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_unused_images_and_missing_images_are_listed_with_what_to_do(project, workers):
    # Under pytest-xdist the controller collects nothing: the workers' lines must reach its summary.
    result = project.runpytest("cases", *workers)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "cases whose images are gone: 1: cases/one.yaml::case-2 (cases/img/gone.png); restore the images or "
            "delete the cases",
            "images under the case folders that no case uses: 1: cases/img/c.png; add cases for them "
            "(vision-harness new IMAGE... --out CASES.yaml) or delete them",
        ]
    )


def test_only_selected_cases_count(project):
    # case-1 is deselected but still uses b.png. The case whose image is gone is broken, and a broken
    # case is never deselected (it carries no tags): it stays, as an error, and its image is listed.
    result = project.runpytest("cases", "-k", "case-0")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["images under the case folders that no case uses: 1: cases/img/c.png;*"])
    result.stdout.fnmatch_lines(["*1 kept despite -k, -m or --deselect: cases/one.yaml::case-2*"])
    result.stdout.fnmatch_lines([GONE])


def test_a_folder_whose_case_files_were_not_all_collected_is_not_judged(project):
    (project.path / "cases" / "two.yaml").write_text(case_file("img/c.png"))
    everything = project.runpytest("cases")
    everything.stdout.no_fnmatch_line(UNUSED)  # two.yaml uses c.png
    only_one = project.runpytest("cases/one.yaml")
    only_one.stdout.no_fnmatch_line(UNUSED)  # two.yaml was not collected: c.png may well be used
    only_one.stdout.fnmatch_lines([GONE])


def test_the_shipped_suites_say_nothing_about_images(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest()
    result.stdout.no_fnmatch_line("*vision-harness golden cases*")
