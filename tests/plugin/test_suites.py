"""Suite metric gates, baselines and model comparison, run the way users run them."""

from __future__ import annotations

import json

import pytest
import yaml

from harness.casefile.load import load_case_file
from harness.cli import main as cli_main
from harness.core.errors import CaseFileError

from conftest import MODELS

WEAK_SEG = str(MODELS / "shapes-seg-weak.pt")
BASELINE_ITEM = "shapes.yaml::suite::baseline"
GATES = """metrics:
  box.map50: 0.9
  mask.map50_95: 0.6
  per_class:
    circle: {mask.map50_95: 0.6}
  per_tag:
    crowded: {box.recall: 0.9}
"""


def with_gates(suite: str, gates: str = GATES) -> str:
    return suite.replace("cases:\n", gates + "cases:\n", 1)


def case_count(text: str) -> int:
    return len(yaml.safe_load(text)["cases"])


def test_gates_are_items_of_their_own(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=with_gates(seg_suite))
    listed = pytester.runpytest("--collect-only", "-q").outlines
    assert "shapes.yaml::suite::mask.map50_95" in listed
    assert "shapes.yaml::suite::per_class.circle.mask.map50_95" in listed
    assert "shapes.yaml::suite::per_tag.crowded.box.recall" in listed
    result = pytester.runpytest()
    result.assert_outcomes(passed=case_count(seg_suite) + 4)
    pytester.runpytest("-k", "suite").assert_outcomes(passed=4)
    pytester.runpytest("shapes.yaml::suite::mask.map50_95").assert_outcomes(passed=1)


def test_failing_gate_shows_value_threshold_and_worst_cases(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=with_gates(seg_suite))
    result = pytester.runpytest(f"--harness-model={WEAK_SEG}", "-k", "suite")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "mask.map50_95 = 0.* < 0.6",
            "suite shapes.yaml: * cases, model shapes-seg-weak.pt",
            "worst contributing cases:",
            "*case*worst IoU*verdict*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_gate_on_a_tag_no_case_has_is_undefined_and_fails(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=with_gates(seg_suite, "metrics:\n  per_tag:\n    foggy: {box.map50: 0.5}\n"))
    result = pytester.runpytest("-k", "suite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["per_tag.foggy.box.map50 = undefined < 0.5 *"])


def test_a_broken_case_makes_the_gates_error_not_pass(pytester, seg_suite):
    text = with_gates(seg_suite).replace("golden-003.png", "gone.png")
    pytester.makefile(".yaml", shapes=text)
    result = pytester.runpytest("-k", "suite")
    result.assert_outcomes(errors=5)  # the 4 gates, and the broken case, which -k never deselects
    result.stdout.fnmatch_lines(["*metrics: suite metrics need every case, and these cannot run: scene-003*"])
    result.stdout.fnmatch_lines(["*1 kept despite -k, -m or --deselect: shapes.yaml::scene-003*"])


@pytest.mark.parametrize(
    ("metrics", "field", "phrase"),
    [
        ("{box.map90: 0.5}", "metrics.box.map90", "unknown key"),
        ("{box.map50: 1.5}", "metrics.box.map50", "outside [0.0, 1.0]"),
        ("{per_tag: {low-light: {box.map50: 0.5}}}", "metrics.per_tag.low-light", "not a tag name"),
        ("{per_class: {circle: {box.mAP: 0.5}}}", "metrics.per_class.circle.box.mAP", "unknown key"),
        ("{per_tag: true}", "metrics.per_tag", "expected a mapping of tags to gates"),
    ],
)
def test_gate_schema_errors(tmp_path, metrics, field, phrase):
    path = tmp_path / "cases.yaml"
    path.write_text(f"model: m.pt\nmetrics: {metrics}\ncases: []\n")
    with pytest.raises(CaseFileError) as info:
        load_case_file(path, check_model=False)
    assert info.value.field == field
    assert phrase in str(info.value)


def test_mask_gate_on_a_detect_file_is_an_error(tmp_path):
    path = tmp_path / "cases.yaml"
    path.write_text("model: m.pt\ntask: detect\nmetrics: {mask.map50: 0.5}\ncases: []\n")
    with pytest.raises(CaseFileError, match=r"metrics\.mask\.map50: the file's task is detect"):
        load_case_file(path, check_model=False)


def test_baseline_round_trip(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    saved = pytester.runpytest("--harness-save-baseline", "baseline.json")
    saved.stdout.fnmatch_lines(["baseline written to baseline.json: 1 suites"])
    document = json.loads((pytester.path / "baseline.json").read_text())
    suite = document["suites"]["shapes.yaml"]
    assert suite["predict"] == yaml.safe_load(seg_suite)["predict"]
    assert len(suite["model_sha256"]) == 64
    assert {"ultralytics", "torch", "python"} <= set(document["environment"])
    assert 0.7 < suite["metrics"]["mask.map50_95"] <= 1
    assert len(suite["cases"]) == case_count(seg_suite)

    # Same model: nothing dropped, so everything passes, the baseline item included.
    pytester.runpytest("--harness-baseline", "baseline.json").assert_outcomes(passed=case_count(seg_suite) + 1)

    # The weak model: the baseline item fails with a delta table, worst first.
    weak = pytester.runpytest("--harness-baseline", "baseline.json", f"--harness-model={WEAK_SEG}", BASELINE_ITEM)
    weak.assert_outcomes(failed=1)
    weak.stdout.fnmatch_lines(
        ["* suite metrics dropped more than 0.01 (worst *", "*baseline*now*change*", "*DROP > 0.01"]
    )


def test_case_iou_drop_against_baseline_fails_the_case(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    pytester.runpytest("--harness-save-baseline", "baseline.json")
    document = json.loads((pytester.path / "baseline.json").read_text())
    case = document["suites"]["shapes.yaml"]["cases"]["scene-001"]
    case["objects"][0]["box_iou"] = 0.999  # pretend the baseline model was nearly perfect on this object
    (pytester.path / "baseline.json").write_text(json.dumps(document))
    result = pytester.runpytest("--harness-baseline", "baseline.json", "-k", "scene-001")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*IoU dropped more than 0.01 since the baseline:", "*objects[[]0[]] * box iou*0.9990*"]
    )
    # A generous allowance lets it pass again.
    loose = pytester.runpytest("--harness-baseline", "baseline.json", "--harness-max-drop", "0.5", "-k", "scene-001")
    loose.assert_outcomes(passed=1)


def test_baseline_with_other_predict_arguments_is_refused(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    pytester.runpytest("--harness-save-baseline", "baseline.json")
    pytester.makefile(".yaml", shapes=seg_suite.replace("imgsz: 256", "imgsz: 320"))
    result = pytester.runpytest("--harness-baseline", "baseline.json", "-k", "scene-001")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*recorded shapes.yaml with predict *: imgsz differ; save a new baseline*"])


def test_partial_run_is_not_saved_as_a_suite(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    result = pytester.runpytest("--harness-save-baseline", "baseline.json", "-k", "scene-001 or scene-002")
    result.stdout.fnmatch_lines(
        ["baseline written to baseline.json: 0 suites", "  not in the baseline: shapes.yaml: only 2 of *"]
    )


def test_unreadable_baseline_is_a_usage_error(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    (pytester.path / "baseline.json").write_text("{}")
    result = pytester.runpytest("--harness-baseline", "baseline.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline.json: not a version 1 vision-harness baseline*"])


def test_compare_prints_suite_and_case_deltas(tmp_path, seg_suite, capsys):
    (tmp_path / "shapes.yaml").write_text(seg_suite)
    status = cli_main(["compare", str(tmp_path), "--model", str(MODELS / "shapes-seg.pt"), "--model", WEAK_SEG])
    out = capsys.readouterr().out
    assert status == 0
    assert "shapes-seg.pt -> shapes-seg-weak.pt" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("mask.map50_95"))
    strong, weak, change = (float(v) for v in row.split()[1:4])
    assert change == pytest.approx(weak - strong, abs=1e-4) and change < -0.2
    assert "pass -> FAIL" in out


def test_compare_reports_a_suite_it_cannot_run_and_exits_2(tmp_path, detect_suite, capsys):
    (tmp_path / "shapes.yaml").write_text(detect_suite)
    status = cli_main(["compare", str(tmp_path), "--model", str(MODELS / "shapes-seg.pt"), "--model", WEAK_SEG])
    assert status == 2
    assert "cannot compare" in capsys.readouterr().out


def test_the_suite_name_is_reserved(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    path = tmp_path / "cases.yaml"
    path.write_text("model: m.pt\ncases: [{name: suite, image: a.png, objects: []}]\n")
    (broken,) = load_case_file(path, check_model=False).cases
    assert "'suite' is reserved for the file's metric gates" in str(broken.error)


def test_folder_metrics_combine_the_files_of_one_model(pytester, seg_suite):
    document = yaml.safe_load(seg_suite)
    first, second = dict(document), dict(document)
    first["cases"], second["cases"] = document["cases"][:12], document["cases"][12:]
    pytester.makefile(".yaml", a=yaml.safe_dump(first), b=yaml.safe_dump(second))
    result = pytester.runpytest("--harness-save-baseline", "baseline.json")
    result.stdout.fnmatch_lines(
        ["a.yaml: box mAP50-95 *", "b.yaml: box mAP50-95 *", "./ (shapes-seg.pt): box mAP50-95 *"]
    )
    saved = json.loads((pytester.path / "baseline.json").read_text())["directories"]["./ (shapes-seg.pt)"]
    pytester.makefile(".yaml", shapes=seg_suite)
    (pytester.path / "a.yaml").unlink()
    (pytester.path / "b.yaml").unlink()
    pytester.runpytest("--harness-save-baseline", "whole.json")
    one_file = json.loads((pytester.path / "whole.json").read_text())["suites"]["shapes.yaml"]["metrics"]
    # The folder's metrics over two halves equal the metrics of one file holding all the cases.
    assert saved["mask.map50_95"] == pytest.approx(one_file["mask.map50_95"], abs=1e-9)
    assert saved["box.recall"] == pytest.approx(one_file["box.recall"], abs=1e-9)


def test_gates_never_run_cases_outside_the_project(pytester, seg_suite):
    pytester.makeini("[pytest]\n")  # images outside the project are not allowed
    pytester.makefile(".yaml", shapes=with_gates(seg_suite))
    result = pytester.runpytest("--harness-model=" + str(MODELS / "shapes-seg.pt"), "-k", "suite")
    result.assert_outcomes(errors=4 + 24)  # the gates, and every case (broken: never deselected)
    result.stdout.fnmatch_lines(["*suite metrics need every case, and these cannot run: scene-000, *"])
    assert "images predicted" not in result.stdout.str()
