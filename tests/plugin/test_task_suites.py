"""The shipped obb and classify suites through the plugin: green on the shipped models with their
gates, mostly red on the weak ones with readable tables, a rot90 variant of an obb case passing on
the turned picture, and a warm rerun answered from the prediction cache with the same verdicts."""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
import yaml

from harness.cli import main as cli
from harness.reports.run_record import load_schema

from conftest import FIXTURES, MODELS, shipped_suite, with_case_line


def case_count(text: str) -> int:
    return len(yaml.safe_load(text)["cases"])


@pytest.mark.parametrize("task", ["obb", "classify"])
def test_shipped_suite_passes_with_its_gates(pytester, task):
    suite = shipped_suite(f"shapes-{task}.yaml", gates=True)
    pytester.makefile(".yaml", **{task: suite})
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    gates = [line for line in result.outlines if "::suite::" in line and "PASSED" in line]
    assert len(gates) >= 2
    result.assert_outcomes(passed=case_count(suite) + len(gates))
    result.stdout.fnmatch_lines([f"*model *shapes-{task}.pt ({task}, *"])


def test_weak_obb_model_fails_most_cases_with_an_obb_table(pytester):
    suite = shipped_suite("shapes-obb.yaml")
    pytester.makefile(".yaml", obb=suite)
    result = pytester.runpytest(f"--harness-model={MODELS / 'shapes-obb-weak.pt'}", "-p", "no:cacheprovider")
    assert result.parseoutcomes().get("failed", 0) > case_count(suite) / 2
    result.stdout.fnmatch_lines(["*#  class *expected obb *predicted obb *conf *obb IoU *verdict"])
    assert any("FAIL: obb IoU low" in line or "FAIL: missed" in line for line in result.outlines)
    assert "Traceback" not in result.stdout.str()


def test_weak_classifier_fails_most_cases_showing_the_top_five(pytester):
    suite = shipped_suite("shapes-classify.yaml")
    pytester.makefile(".yaml", classify=suite)
    result = pytester.runpytest(f"--harness-model={MODELS / 'shapes-classify-weak.pt'}", "-p", "no:cacheprovider")
    assert result.parseoutcomes().get("failed", 0) > case_count(suite) / 2
    result.stdout.fnmatch_lines(["*expected: * within the top 1, confidence >= 0.50", "*rank *class *score*"])
    # Five ranked rows under each table: ranks 1 to 5 in order.
    ranks = [line.split()[0] for line in result.outlines if line.strip()[:1].isdigit() and len(line.split()) >= 3]
    assert "".join(ranks).count("12345") >= 1
    assert "Traceback" not in result.stdout.str()


def test_a_rot90_variant_of_an_obb_case_passes_on_the_turned_picture(pytester):
    suite = with_case_line(shipped_suite("shapes-obb.yaml"), "obb-001", "transforms: [rot90]")
    pytester.makefile(".yaml", obb=suite)
    result = pytester.runpytest("-v", "-k", "obb-001", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*obb.yaml::obb-001?rot90? PASSED*"])


@pytest.mark.parametrize("task", ["obb", "classify"])
def test_a_warm_run_reads_the_cache_and_judges_the_same(pytester, task):
    suite = shipped_suite(f"shapes-{task}.yaml")
    pytester.makefile(".yaml", **{task: suite})
    weak = f"--harness-model={MODELS / f'shapes-{task}-weak.pt'}"
    cold = pytester.runpytest(weak, "-rA")
    warm = pytester.runpytest(weak, "-rA")
    assert warm.parseoutcomes() == cold.parseoutcomes()
    verdicts = [line for line in cold.outlines if line.startswith(("PASSED", "FAILED"))]
    assert verdicts and verdicts == [line for line in warm.outlines if line.startswith(("PASSED", "FAILED"))]
    warm.stdout.fnmatch_lines(["*): 0 images predicted in 0.0 s, * from the cache"])


@pytest.mark.parametrize("task", ["obb", "classify"])
def test_the_run_record_holds_oriented_boxes_and_labels_and_fits_its_schema(pytester, task):
    suite = shipped_suite(f"shapes-{task}.yaml", gates=True)
    pytester.makefile(".yaml", **{task: suite})
    pytester.runpytest(f"--harness-model={MODELS / f'shapes-{task}-weak.pt'}", "--harness-json=run.json")
    record = json.loads((pytester.path / "run.json").read_text())
    jsonschema.validate(record, load_schema(), cls=jsonschema.Draft202012Validator)
    verdicts = [case["verdict"] for case in record["cases"] if case["verdict"]]
    (metrics,) = [suite["metrics"] for suite in record["suites"]]
    if task == "obb":
        objects = [obj for verdict in verdicts for obj in verdict["objects"]]
        assert objects and all(len(obj["obb"]) == 8 and "obb_iou" in obj for obj in objects)
        assert "obb.map50_95" in metrics
    else:
        assert all(1 <= len(verdict["label"]["ranked"]) <= 5 for verdict in verdicts)
        assert any(not verdict["passed"] and verdict["label"]["problems"] for verdict in verdicts)
        assert "label.top1" in metrics and any(name.startswith("per_class.") for name in metrics)
        (confusion,) = [suite["confusion"] for suite in record["suites"]]
        assert sum(map(sum, confusion["matrix"])) == case_count(suite)
        # The diagonal holds the cases whose top class is right: the top-1 accuracy's numerator.
        correct = sum(confusion["matrix"][i][i] for i in range(len(confusion["classes"])))
        assert correct == round(metrics["label.top1"] * case_count(suite))


@pytest.mark.parametrize(
    ("task", "image", "predict"),
    [("obb", "obb-golden-001.png", "imgsz=256"), ("classify", "classify-golden-003.png", "imgsz=64")],
)
def test_new_records_the_model_s_oriented_boxes_or_label_and_reviewed_cases_pass(pytester, task, image, predict):
    shutil.copy(MODELS / f"shapes-{task}.pt", pytester.path / "model.pt")
    shutil.copy(FIXTURES / "images" / image, pytester.path / "a.png")
    # pytester runs in its own folder: the command line's relative paths are its.
    assert cli(["new", "a.png", "--model", "model.pt", "--out", "recorded.yaml", "--predict", predict]) == 0
    (case,) = yaml.safe_load((pytester.path / "recorded.yaml").read_text())["cases"]
    if task == "obb":
        assert case["objects"] and all(len(obj["obb"]) == 4 for obj in case["objects"])
    else:
        assert case["label"] == "star" and "objects" not in case  # golden picture 3 is a star
    assert cli(["review", "recorded.yaml", "--mark-reviewed"]) == 0
    result = pytester.runpytest("recorded.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)  # the model against its own, reviewed output
