"""CI summaries: the Markdown appended to GITHUB_STEP_SUMMARY, and the end of the terminal summary."""

from __future__ import annotations

import pytest

from conftest import MODELS, shipped_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WEAK_SEG = "--harness-model=" + str(MODELS / "shapes-seg-weak.pt")


def test_step_summary_is_appended_with_metrics_gates_and_worst_cases(pytester, monkeypatch):
    summary = pytester.path / "step-summary.md"
    summary.write_text("output of an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-seg.yaml", gates=True))
    result = pytester.runpytest(WEAK_SEG)
    text = summary.read_text()
    assert text.startswith("output of an earlier step\n## vision-harness: FAILED\n")
    assert "3 of 3 gates failed" in text
    assert "| `shapes.yaml` | `mask.map50_95` |" in text and "**FAIL**" in text
    metrics_row = next(line for line in text.splitlines() if line.startswith("| `shapes.yaml` | 0."))
    assert len(metrics_row.split("|")) == 2 + 11  # the suite and ten headline metrics
    failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in result.outlines if line.startswith("FAILED")]
    worst = [line for line in text.splitlines() if line.startswith("| `shapes.yaml::scene-")]
    assert len(worst) == 10
    assert all(row.split("`")[1] in failed and "| failed |" in row for row in worst)
    result.stdout.fnmatch_lines([f"step summary appended to {summary}"])


def test_no_step_summary_without_the_variable(pytester, monkeypatch, seg_suite):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makefile(".yaml", shapes=seg_suite)
    result = pytester.runpytest()
    assert "step summary" not in result.stdout.str()
    assert not list(pytester.path.glob("*.md"))


def test_terminal_summary_ends_with_suite_metrics_and_the_worst_five_cases(pytester):
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-seg.yaml", gates=True))
    result = pytester.runpytest(WEAK_SEG, "--harness-save-baseline=baseline.json")
    lines = result.outlines
    section = lines[lines.index(next(line for line in lines if "= vision-harness =" in line)) :]
    section = section[: section.index(next(line for line in section if "short test summary info" in line))]
    assert section[-2].startswith("shapes.yaml: box mAP50-95 ")
    assert section[-1].startswith("worst cases: ") and section[-1].count(" (worst IoU ") == 5
    assert any(line.startswith("baseline written to baseline.json") for line in section[:-2])
