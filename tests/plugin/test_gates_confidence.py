"""Gates that know noise, run the way users run them: the significance rule against a baseline, metric
gates with a confidence, intervals in the summary and the run record, and their options.

The shipped models against their baselines: the weak models are flagged at 95% confidence; the
shipped model on another run (its predictions made afresh) is not. Against its ONNX export:
tests/acceptance/test_gates_onnx.py (the export takes a while).
"""

from __future__ import annotations

import json

import pytest

from conftest import MODELS, shipped_suite

BASELINE_ITEM = "shapes.yaml::suite::baseline"
SIGNIFICANT = ["--harness-baseline", "baseline.json", "--harness-confidence", "0.95"]


@pytest.mark.parametrize("suite, weak", [("shapes-detect.yaml", "detect"), ("shapes-seg.yaml", "seg")])
def test_the_weak_model_is_significantly_worse_and_the_shipped_model_is_not(pytester, suite, weak):
    pytester.makefile(".yaml", shapes=shipped_suite(suite))
    pytester.runpytest("--harness-save-baseline", "baseline.json").assert_outcomes(passed=24)
    saved = json.loads((pytester.path / "baseline.json").read_text())["suites"]["shapes.yaml"]["cases"]
    assert all("bootstrap" in case for case in saved.values())

    weak_model = f"--harness-model={MODELS}/shapes-{weak}-weak.pt"
    result = pytester.runpytest(*SIGNIFICANT, weak_model, BASELINE_ITEM)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "* suite metrics dropped more than 0.01 with 95% confidence (worst *",
            "*baseline*now*change*95% interval*",
            "*DROP > 0.01 (95%: drop >= *",
        ]
    )

    # The shipped model again, predicting every image afresh: a run of its own, not flagged.
    again = pytester.runpytest(*SIGNIFICANT, "-p", "no:cacheprovider", BASELINE_ITEM)
    again.assert_outcomes(passed=1)


# scene-001's four expected boxes moved by 5-6 pixels: the model now looks worse on that one case.
SHIFTED = {
    "[172, 88, 238, 154]": "[178, 94, 244, 160]",
    "[257, 223, 303, 273]": "[262, 228, 308, 278]",
    "[23, 230, 81, 295]": "[29, 236, 87, 301]",
    "[207, 32, 251, 78]": "[212, 37, 256, 83]",
}


def test_one_worse_case_fails_the_point_rule_but_is_within_the_noise(pytester):
    """One case of 24 gets worse: dozens of metrics drop by more than 0.01 (the point rule fails), but
    a third of the resamples leave that case out, so the drop is not there with 95% confidence."""
    text = shipped_suite("shapes-detect.yaml")
    pytester.makefile(".yaml", shapes=text)
    pytester.runpytest("--harness-save-baseline", "baseline.json")
    for old, new in SHIFTED.items():
        assert old in text
        text = text.replace(old, new)
    pytester.makefile(".yaml", shapes=text)

    point = pytester.runpytest("--harness-baseline", "baseline.json", BASELINE_ITEM)
    point.assert_outcomes(failed=1)
    point.stdout.fnmatch_lines(["* suite metrics dropped more than 0.01 (worst per_tag.dark.box.map75 *"])
    pytester.runpytest(*SIGNIFICANT, BASELINE_ITEM).assert_outcomes(passed=1)


def test_a_baseline_without_bootstrap_data_falls_back_to_the_point_rule_with_a_note(pytester):
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-detect.yaml"))
    pytester.runpytest("--harness-save-baseline", "baseline.json")
    document = json.loads((pytester.path / "baseline.json").read_text())
    for case in document["suites"]["shapes.yaml"]["cases"].values():
        del case["bootstrap"]  # as written before the bootstrap existed
    (pytester.path / "baseline.json").write_text(json.dumps(document))
    result = pytester.runpytest(*SIGNIFICANT, f"--harness-model={MODELS}/shapes-detect-weak.pt", BASELINE_ITEM)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "* suite metrics dropped more than 0.01 (worst *",
            "note: baseline baseline.json keeps no per-case bootstrap data for shapes.yaml (an older file): "
            "compared by the point rule; write it again with --harness-save-baseline",
        ]
    )


def test_malformed_bootstrap_data_in_a_baseline_is_one_line(pytester):
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-detect.yaml"))
    pytester.runpytest("--harness-save-baseline", "baseline.json")
    document = json.loads((pytester.path / "baseline.json").read_text())
    document["suites"]["shapes.yaml"]["cases"]["scene-001"]["bootstrap"] = {"counts": {"box": "many"}}
    (pytester.path / "baseline.json").write_text(json.dumps(document))
    result = pytester.runpytest(*SIGNIFICANT, BASELINE_ITEM)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "baseline baseline.json: suite shapes.yaml, case 'scene-001': bootstrap.counts.box: expected class -> "
            "[[]found, expected, predicted[]]; write the baseline again with --harness-save-baseline"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_metric_gates_with_a_confidence(pytester):
    """box.map50_95 is 0.950 [0.939, 0.962] on the shipped detect suite: a minimum of 0.955 fails the
    point rule but not 95% confidence; 0.99 fails both, with the bound in the report."""
    text = shipped_suite("shapes-detect.yaml")
    near = "metrics: {confidence: 0.95, box.map50_95: 0.955}\n"
    far = "metrics: {confidence: 0.95, box.map50_95: 0.99}\n"
    pytester.makefile(".yaml", near=text.replace("cases:\n", near + "cases:\n", 1))
    pytester.makefile(".yaml", far=text.replace("cases:\n", far + "cases:\n", 1))
    pytester.makefile(".yaml", point=text.replace("cases:\n", "metrics: {box.map50_95: 0.955}\n" + "cases:\n", 1))
    result = pytester.runpytest("--harness-json", "run.json")  # every case runs: the record has the gates
    result.assert_outcomes(passed=3 * 24 + 1, failed=2)
    result.stdout.fnmatch_lines(
        ["*box.map50_95 = 0.9498 < 0.99*", "95% one-sided bound of box.map50_95: at most 0.9*"], consecutive=False
    )
    result.stdout.fnmatch_lines(
        ["FAILED far.yaml::suite::box.map50_95 - *", "FAILED point.yaml::suite::box.map50_95 - *"]
    )
    gates = {s["key"]: s["gates"][0] for s in json.loads((pytester.path / "run.json").read_text())["suites"]}
    assert gates["near.yaml"]["passed"] and gates["near.yaml"]["confidence"] == 0.95
    assert gates["near.yaml"]["upper_bound"] >= 0.955 > gates["near.yaml"]["value"]
    assert not gates["point.yaml"]["passed"] and gates["point.yaml"]["confidence"] is None


def test_intervals_in_the_summary_and_the_record_are_deterministic(pytester):
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-seg.yaml"))
    records, entries = [], []
    for run in ("a", "b"):
        result = pytester.runpytest("-k", "not robustness", "--harness-json", f"{run}.json")
        result.stdout.fnmatch_lines(
            [
                "intervals: 95% percentile bootstrap over cases, 1000 resamples (--harness-bootstrap)",
                "shapes.yaml: box mAP50-95 0.9* [[]0.9*, 0.9*[]] mAP50 *; mask mAP50-95 0.8* [[]0.8*, 0.*[]] *",
            ]
        )
        records.append(json.loads((pytester.path / f"{run}.json").read_text())["suites"][0])
        # The first run keeps its resampled values; the second reads them (same entries, none new).
        entries.append(sorted(p.name for p in (pytester.path / ".pytest_cache").rglob("bootstrap-*")))
    assert entries[0] and entries[0] == entries[1]
    first, second = records
    assert first["intervals"] == second["intervals"]
    assert first["bootstrap"] == {
        "method": "percentile",
        "resamples": 1000,
        "seed": 19,
        "confidence": 0.95,
        "unit": "case",
    }
    low, high = first["intervals"]["mask.map50_95"]
    assert low < first["metrics"]["mask.map50_95"] < high
    assert 0 < first["detectable"]["mask.map50_95"] < 0.1


def test_intervals_only_where_used_unless_asked_for(pytester):
    """A plain run makes no intervals (the bootstrap would double a warm run of cached predictions);
    --harness-bootstrap N puts them in the summary."""
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-detect.yaml"))
    plain = pytester.runpytest("-k", "not robustness")
    assert "intervals:" not in plain.stdout.str()
    plain.stdout.fnmatch_lines(["shapes.yaml: box mAP50-95 0.950 mAP50 1.000 P 1.000 R 1.000"])
    asked = pytester.runpytest("-k", "not robustness", "--harness-bootstrap", "200")
    asked.stdout.fnmatch_lines(
        [
            "intervals: 95% percentile bootstrap over cases, 200 resamples (--harness-bootstrap)",
            "shapes.yaml: box mAP50-95 0.950 [[]0.9*, 0.9*[]] mAP50 1.000 [[]1.000, 1.000[]] *",
        ]
    )


def test_bootstrap_zero_turns_intervals_off(pytester):
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-detect.yaml"))
    result = pytester.runpytest("--harness-bootstrap", "0", "--harness-json", "run.json")
    assert "intervals:" not in result.stdout.str()
    suite = json.loads((pytester.path / "run.json").read_text())["suites"][0]
    assert suite["bootstrap"] is None and suite["intervals"] == {}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--harness-confidence", "0.3"], "--harness-confidence 0.3: expected a confidence in [0.5, 1), e.g. 0.95*"),
        (["--harness-confidence", "1"], "--harness-confidence 1.0: expected a confidence in [0.5, 1)*"),
        (["--harness-bootstrap", "20"], "--harness-bootstrap 20: use 0 (no intervals) or 100 or more resamples"),
        (
            ["--harness-bootstrap", "0", "--harness-confidence", "0.95"],
            "--harness-confidence needs the bootstrap: do not set --harness-bootstrap 0",
        ),
    ],
)
def test_bad_options_are_usage_errors(pytester, arguments, message):
    result = pytester.runpytest(*arguments)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_bad_ini_resamples_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nharness_bootstrap = many\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*harness_bootstrap = 'many': expected a whole number of resamples*"])
