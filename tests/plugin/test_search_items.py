"""search: in case files, run by the plugin on the shipped seg model: the shrunk break, its report,
review, counting and caching; the grid and the search itself are tests/unit/test_search.py."""

from __future__ import annotations

import json
import re

import pytest

from conftest import shipped_suite, with_case_line

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# --- the plugin, on the shipped seg model ----------------------------------------------------------------------

TORCH_PROBE = """
import sys

def pytest_unconfigure(config):
    print("torch imported:", "torch" in sys.modules)
"""
NOISE_CASE = "scene-002"  # at noise sigma 17 this case's image already gets an extra detection


def search_suite(search: str, case: str = NOISE_CASE) -> str:
    """The shipped seg suite with ``search`` on one case."""
    return with_case_line(shipped_suite("shapes-seg.yaml"), case, f"search: {search}")


def test_a_breaking_search_reports_the_shrunk_break_its_table_and_overlay(pytester, monkeypatch):
    pytester.makefile(".yaml", seg=search_suite("{noise: [0, 30]}"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))
    result = pytester.runpytest(
        f"seg.yaml::{NOISE_CASE}[search]", "--harness-json=run.json", "--harness-report=report.html"
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "Traceback" not in out
    headline = re.search(
        r"breaks at noise=(\d+) \(shrunk from noise=(\d+); (\d+) images judged, (\d+) predicted\)", out
    )
    assert headline, out
    assert int(headline.group(1)) <= int(headline.group(2))
    overlay = pytester.path / "harness-overlays" / "seg.yaml" / f"{NOISE_CASE}[search][noise={headline.group(1)}].png"
    assert overlay.is_file()
    result.stdout.fnmatch_lines(
        [
            f"case '{NOISE_CASE}[[]search[]][[]noise=*[]]' in seg.yaml: model shapes-seg.pt, image *golden-002.png (*)",
            "unmatched predictions: * (max_extra 0: FAIL)",
            f"overlay: harness-overlays/seg.yaml/{NOISE_CASE}[[]search[]][[]noise=*[]].png",
            "searches: 1, held 0, broke 1",
            f"FAILED seg.yaml::{NOISE_CASE}[[]search[]] - breaks at noise=*",
        ]
    )
    record = json.loads((pytester.path / "run.json").read_text())
    (case,) = record["cases"]
    assert case["node_id"] == f"seg.yaml::{NOISE_CASE}[search]" and case["outcome"] == "failed"
    assert case["message"].startswith(f"breaks at noise={headline.group(1)} ")
    assert case["verdict"]["passed"] is False and case["overlay"]
    assert f"{NOISE_CASE}[search]" in (pytester.path / "report.html").read_text()
    assert f"{NOISE_CASE}[search]" in (pytester.path / "summary.md").read_text()


def test_a_search_of_a_case_waiting_for_review_is_skipped_like_the_case(pytester):
    text = with_case_line(search_suite("{noise: [0, 30]}"), NOISE_CASE, "recorded: {model: m.pt, reviewed: false}")
    pytester.makefile(".yaml", seg=text)
    result = pytester.runpytest(f"seg.yaml::{NOISE_CASE}", f"seg.yaml::{NOISE_CASE}[search]", "-rs")
    result.assert_outcomes(skipped=2)


def test_a_search_that_holds_passes_and_its_items_are_counted_apart(pytester):
    pytester.makefile(".yaml", seg=search_suite("{brightness: [0.9, 1.1]}"))
    result = pytester.runpytest(
        f"seg.yaml::{NOISE_CASE}", f"seg.yaml::{NOISE_CASE}[search]", "--harness-search-examples=3", "-m", "robustness"
    )
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["cases judged: 0, passed 0, failed 0", "searches: 1, held 1, broke 0"])


def test_search_examples_must_be_one_or_more(pytester):
    pytester.makefile(".yaml", seg=search_suite("{noise: [0, 30]}"))
    result = pytester.runpytest("--harness-search-examples=0")
    result.stderr.fnmatch_lines(["*--harness-search-examples 0: must be 1 or more*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_two_runs_report_the_same_break_and_the_second_predicts_nothing(pytester):
    """Separate processes, so that nothing in memory carries over: the second run reads every image's
    predictions from the prediction cache, never imports torch, and shrinks to the same perturbation."""
    pytester.makefile(".yaml", seg=search_suite("{noise: [0, 30], brightness: [0.5, 1.5]}"))
    pytester.makeconftest(TORCH_PROBE)
    headlines, model_lines = [], []
    for _ in range(2):
        result = pytester.runpytest_subprocess(f"seg.yaml::{NOISE_CASE}[search]", "--harness-device=cpu")
        result.assert_outcomes(failed=1)
        headlines.append(next(line for line in result.outlines if line.startswith("breaks at ")))
        model_lines.append(next(line for line in result.outlines if line.startswith("model ")))
    cold, warm = (re.fullmatch(r"(breaks at .*; (\d+) images judged), (\d+) predicted\)", h) for h in headlines)
    assert cold and warm, headlines
    assert cold.group(1) == warm.group(1)  # the same break, shrunk from the same first break, the same images
    assert int(cold.group(3)) > 0 and warm.group(3) == "0"
    assert " 0 images predicted in 0.0 s, " in model_lines[1]
    result.stdout.fnmatch_lines(["*torch imported: False"])  # the second run's
