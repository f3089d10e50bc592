"""Export parity on real models: the shipped models exported to ONNX, run against the shipped suites
through the plugin, the way README's "Export parity" tells users to. The exports are tests/conftest.py's
`onnx_models`; the same failing parity run's HTML report in Chromium is tests/browser/test_report_browser.py."""

from __future__ import annotations

import json

import pytest

from conftest import with_compare_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_shipped_models_exports_are_at_parity_on_the_shipped_suites(pytester, onnx_models):
    pytester.makefile(".yaml", seg=with_compare_to("shapes-seg.yaml", onnx_models["shapes-seg.onnx"]))
    pytester.makefile(".yaml", detect=with_compare_to("shapes-detect.yaml", onnx_models["shapes-detect.onnx"]))
    result = pytester.runpytest("--harness-json=run.json")
    result.assert_outcomes(passed=96)  # 48 cases and their 48 parity items
    summary = [line for line in result.outlines if line.startswith("parity ")]
    assert len(summary) == 2
    for line in summary:
        assert ": 24 cases, passed 24, failed 0;" in line and "; 0 borderline" in line
    record = json.loads((pytester.path / "run.json").read_text())
    assert len(record["parity"]) == 48 and record["totals"]["items"]["passed"] == 96
    results = [item["result"] for item in record["parity"]]
    assert all(r["passed"] and r["unmatched"] == 0 for r in results)
    # The figures README gives: a dynamic export predicts what the .pt model predicts, to float rounding.
    assert min(r["worst_iou"] for r in results if r["worst_iou"] is not None) > 0.9999
    assert max(r["max_conf_difference"] for r in results if r["max_conf_difference"] is not None) < 1e-4
    import jsonschema

    from harness.reports.run_record import load_schema

    jsonschema.validate(record, load_schema(), cls=jsonschema.Draft202012Validator)


def test_the_weak_model_s_export_fails_parity_with_a_table_and_the_option_overrides_the_file(
    pytester, onnx_models, monkeypatch
):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))
    # The file names the good export; --harness-compare-to replaces it with the weak model's.
    pytester.makefile(".yaml", seg=with_compare_to("shapes-seg.yaml", onnx_models["shapes-seg.onnx"]))
    result = pytester.runpytest(
        "--harness-compare-to=" + str(onnx_models["shapes-seg-weak.onnx"]), "-rf", "--harness-report=report.html"
    )
    # Every case still passes (the model itself is unchanged); every parity item of an image with
    # objects fails, and the three empty scenes, where neither model finds anything, pass.
    result.assert_outcomes(passed=24 + 3, failed=21)
    result.stdout.fnmatch_lines(
        [
            "*_ scene-001[[]parity[]] _*",
            "parity: * (worst IoU *, largest conf difference *)",
            "case 'scene-001' in seg.yaml: A shapes-seg.pt against B shapes-seg-weak.onnx, image *",
            "each pair needs IoU >= 0.98 and |conf A - conf B| <= 0.02; *",
            "  A  B  class * box IoU  mask IoU  conf A  conf B  verdict",
            "*FAIL: *",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED seg.yaml::scene-001[[]parity[]] - parity: *"])
    result.stdout.fnmatch_lines(["parity shapes-seg.pt against shapes-seg-weak.onnx: 24 cases, passed 3, failed 21; *"])
    assert "hint:" not in result.stdout.str()  # a dynamic export: the input size is not the reason
    summary = (pytester.path / "summary.md").read_text()
    assert "Export parity: 21 failed, 0 errors, 3 passed of 24 items; 1 borderline predictions tolerated." in summary
    assert "| `seg.yaml::scene-001[parity]` | failed | parity: " in summary
    assert "Traceback" not in result.stdout.str()


def test_a_static_export_breaks_parity_and_the_report_says_why(pytester, onnx_models):
    pytester.makefile(".yaml", seg=with_compare_to("shapes-seg.yaml", onnx_models["shapes-seg-static.onnx"]))
    result = pytester.runpytest("-k", "parity")
    outcomes = result.parseoutcomes()
    # Square images get the same input either way; the non-square ones are letterboxed to 256x256
    # instead of a 256-wide rectangle, and some of them move beyond the tolerances.
    assert outcomes.get("failed", 0) >= 1 and outcomes["passed"] + outcomes["failed"] == 24
    result.stdout.fnmatch_lines(["hint: shapes-seg-static.onnx has a fixed 256x256 input, *export with dynamic=True*"])
