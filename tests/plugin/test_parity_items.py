"""Export parity items in pytest runs (`compare_to:` and --harness-compare-to), with a shipped model
compared with itself; the comparison itself on synthetic predictions is tests/unit/test_parity.py."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import MODELS, shipped_suite

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def test_a_broken_compare_to_is_one_error_line_for_the_file(pytester):
    broken = shipped_suite("shapes-detect.yaml").replace(
        "task: detect\n", "task: detect\ncompare_to: {model: x.onnx}\n"
    )
    pytester.makefile(".yaml", broken=broken)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["broken.yaml: compare_to.model: file not found: x.onnx (looked for *)"])
    assert "Traceback" not in result.stdout.str()


def test_the_option_must_name_a_file_and_is_in_help(pytester):
    result = pytester.runpytest("--harness-compare-to=gone.onnx")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--harness-compare-to gone.onnx: file not found: gone.onnx*"])
    help_text = pytester.runpytest("--help").stdout.str()
    assert re.search(r"--harness-compare-to=PATH\s+export parity", help_text)


def test_every_case_gets_a_parity_item_beside_it_recorded_ones_too(pytester):
    """With the model as its own compare_to, every pair matches exactly; the items' names, markers and
    the summary show how parity items sit beside the cases."""
    text = shipped_suite("shapes-seg.yaml")
    text = text.replace("task: segment\n", f"task: segment\ncompare_to: {MODELS / 'shapes-seg.pt'}\n")
    document = yaml.safe_load(text)
    document["cases"] = document["cases"][:3]
    document["cases"][2]["recorded"] = {"model": "shapes-seg.pt", "reviewed": False}
    tag = document["cases"][1]["tags"][0]
    pytester.makefile(".yaml", seg=yaml.safe_dump(document, sort_keys=False))
    result = pytester.runpytest("-v", "-rs", "-p", "no:cacheprovider")
    names = [c["name"] for c in document["cases"]]
    expected = [f"seg.yaml::{n}{suffix} " for n in names for suffix in ("", "[parity]")]
    run = [line for line in result.outlines if line.startswith("seg.yaml::")]
    assert [line.split(" ")[0] + " " for line in run] == expected
    result.assert_outcomes(passed=5, skipped=1)  # the recorded case waits for review; its parity runs
    assert f"seg.yaml::{names[2]}[parity] PASSED" in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*= vision-harness export parity =*",
            "parity shapes-seg.pt against shapes-seg.pt: 3 cases, passed 3, failed 0; * 0 borderline",
        ]
    )
    tagged = pytester.runpytest("-m", tag, "-k", "parity", "--collect-only", "-q", "-p", "no:cacheprovider")
    tagged.stdout.fnmatch_lines([f"seg.yaml::{names[1]}[parity]"])
    assert len([line for line in tagged.outlines if "::" in line]) == sum(
        tag in c.get("tags", []) for c in document["cases"]
    )


def test_a_candidate_model_without_its_export_skips_parity_and_says_why(pytester):
    # The export need not even exist: it is not used.
    text = shipped_suite("shapes-detect.yaml").replace(
        "task: detect\n", "task: detect\ncompare_to: shapes-detect.onnx\n"
    )
    pytester.makefile(".yaml", detect=text)
    result = pytester.runpytest("-k", "parity", "-rs", "--harness-model=" + str(MODELS / "shapes-detect-weak.pt"))
    result.assert_outcomes(skipped=24)
    result.stdout.fnmatch_lines(
        ["SKIPPED * --harness-model replaces the model, and compare_to (shapes-detect.onnx) is no export of it*"]
    )


def test_models_of_different_tasks_cannot_be_at_parity(pytester):
    text = shipped_suite("shapes-detect.yaml").replace(
        "task: detect\n", f"task: detect\ncompare_to: {MODELS / 'shapes-seg.pt'}\n"
    )
    pytester.makefile(".yaml", detect=text)
    result = pytester.runpytest("detect.yaml::scene-001[parity]", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*detect.yaml: case 'scene-001': compare_to: shapes-seg.pt is a segment model but shapes-detect.pt "
            "is a detect model: not an export of it*"
        ]
    )
