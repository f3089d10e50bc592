"""The pose suite through pytest: the weak pose model fails with keypoint tables, and the run record
(--harness-json) carries OKS and every keypoint, valid against the published schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from harness.casefile.load import load_case_file
from harness.evaluation.suites import Judge
from harness.reports.ci_summary import step_summary

from conftest import FIXTURES, MODELS, require_module, shipped_suite

SCHEMA = Path(__file__).resolve().parents[2] / "harness" / "reports" / "run-record.schema.json"


def test_the_weak_pose_model_fails_with_keypoint_tables_and_the_record_holds_them(pytester):
    suite = shipped_suite("shapes-pose.yaml", gates=True)
    pytester.makefile(".yaml", shapes_pose=suite)
    result = pytester.runpytest("--harness-model=" + str(MODELS / "shapes-pose-weak.pt"), "--harness-json=run.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*object 0 (arrow) keypoints: OKS * (area * px² from area:; 4 sigmas: the file)"])
    result.stdout.fnmatch_lines(["*keypoint*v*expected*predicted*conf*distance px*OKS term*", "*tip*2 visible*"])
    record = json.loads((pytester.path / "run.json").read_text())
    jsonschema.validate(record, json.loads(SCHEMA.read_text()), cls=jsonschema.Draft202012Validator)
    verdicts = [case["verdict"] for case in record["cases"] if case["verdict"]]
    objects = [obj for verdict in verdicts for obj in verdict["objects"]]
    assert objects and all(len(obj["keypoints"]) == 4 and obj["min_oks"] == 0.5 for obj in objects)
    assert any("OKS low" in obj["problems"] for obj in objects)
    assert [k["name"] for k in objects[0]["keypoints"]] == ["tip", "left_barb", "right_barb", "notch"]
    predictions = [p for verdict in verdicts for p in verdict["predictions"]]
    assert predictions and all(len(p["keypoints"]) == 4 for p in predictions)
    table = [line for line in step_summary(record).splitlines() if line.startswith("| ")]
    assert "| pose map50_95 | pose map50 |" in table[0]  # the CI summary's pose columns
    assert table[1].count("|") == 17 and table[1].split("|")[12].strip() == "0.000"  # the weak model's pose mAP


def test_harness_update_rewrites_the_keypoints_from_the_models_predictions(pytester):
    suite = shipped_suite("shapes-pose.yaml")
    path = pytester.makefile(".yaml", shapes_pose=suite)
    weak = str(MODELS / "shapes-pose-weak.pt")
    result = pytester.runpytest("--harness-update", "-k", "arrows-001", "--harness-model=" + weak)
    result.stdout.fnmatch_lines(["*1 case rewritten (arrows-001)*"])
    updated = load_case_file(path)
    case = next(c for c in updated.cases if c.name == "arrows-001")
    assert case.recorded is not None and not case.recorded.reviewed
    judge = Judge("cpu")
    found = judge.model(weak).predict(case.image, case.predict)
    for obj, judged in zip(case.objects, judge.verdict(case, weak).objects, strict=True):
        labelled = [k for k in obj.keypoints if k[2] > 0]
        assert labelled, "a recorded object keeps the keypoints the model is sure of"
        predicted = found.keypoints[judged.prediction]
        assert all(any(abs(x - px) < 0.01 and abs(y - py) < 0.01 for px, py, _ in predicted) for x, y, _ in labelled)


def test_two_workers_judge_the_pose_suite_as_one_process_does(pytester):
    require_module("xdist", "running with -n 2")
    pytester.makefile(".yaml", shapes_pose=shipped_suite("shapes-pose.yaml", gates=True, transforms=True))
    records = {}
    for name, extra in (("serial", ()), ("workers", ("-n", "2"))):
        result = pytester.runpytest("--harness-no-cache", f"--harness-json={name}.json", *extra)
        result.assert_outcomes(passed=147, xfailed=1)  # 24 cases, 119 variants, 4 gates; one known failure
        records[name] = json.loads((pytester.path / f"{name}.json").read_text())
    for serial, workers in zip(
        *(sorted(r["cases"], key=lambda c: c["node_id"]) for r in records.values()), strict=True
    ):
        assert serial["node_id"] == workers["node_id"] and serial["verdict"] == workers["verdict"]


def test_importing_pose_annotations_writes_the_keypoints_block_and_the_cases_pass(pytester, capsys):
    import sys

    from harness.cli import main as cli

    sys.path.insert(0, str(MODELS.parent))
    from pose_shapes import write_pose_dataset

    data = write_pose_dataset(pytester.path / "arrows", 0, 8)
    model = ["--model", str(MODELS / "shapes-pose.pt"), "--predict", "imgsz=256"]
    assert cli(["import", "yolo", str(data), "--split", "val", "--out", "yolo.yaml", *model]) == 0
    assert cli(["export", "coco", "yolo.yaml", "--out", "arrows.json"]) == 0
    images = str(pytester.path / "arrows" / "images" / "val")
    assert cli(["import", "coco", "arrows.json", "--images", images, "--out", "coco.yaml", *model]) == 0
    yolo, coco = (load_case_file(pytester.path / name) for name in ("yolo.yaml", "coco.yaml"))
    assert yolo.keypoints.names == coco.keypoints.names == ("tip", "left_barb", "right_barb", "notch")
    assert yolo.keypoints.flip_idx == (0, 2, 1, 3) and coco.keypoints.flip_idx is None  # COCO has no flip_idx
    keypoints = [[[obj.keypoints for obj in case.objects] for case in f.cases] for f in (yolo, coco)]
    assert keypoints[0] == keypoints[1] and any(keypoints[0])
    result = pytester.runpytest("yolo.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)  # the generator's ground truth, on the shipped model (default sigmas)


def test_a_baseline_records_keypoint_metrics_and_flags_their_drop(pytester):
    pytester.makefile(".yaml", shapes_pose=shipped_suite("shapes-pose.yaml"))
    pytester.runpytest("--harness-save-baseline=baseline.json").assert_outcomes(passed=24)
    saved = json.loads((pytester.path / "baseline.json").read_text())
    (suite,) = saved["suites"].values()
    assert suite["metrics"]["pose.map50"] == 1.0 and suite["metrics"]["per_tag.small.pose.recall"] == 1.0
    weak = "--harness-model=" + str(MODELS / "shapes-pose-weak.pt")
    result = pytester.runpytest("--harness-baseline=baseline.json", weak)
    result.stdout.fnmatch_lines(["*suite metrics dropped more than 0.01*", "*per_class.arrow.pose.map50 *DROP > 0.01"])


def test_new_writes_the_pose_model_s_keypoints_block_and_the_recorded_file_runs(pytester):
    from harness.cli import main as cli
    from harness.golden.review import mark_reviewed

    images = ["pose-golden-001.png", "pose-golden-002.png"]
    for image in images:
        shutil.copy(FIXTURES / "images" / image, pytester.path / image)
    model = ["--model", str(MODELS / "shapes-pose.pt"), "--predict", "imgsz=256"]
    assert cli(["new", *images, *model, "--out", "recorded.yaml"]) == 0
    path = pytester.path / "recorded.yaml"
    case_file = load_case_file(path)
    keypoints = case_file.keypoints
    # The shipped model keeps its data's kpt_names, not its flip_idx or sigmas (it was trained without any).
    assert keypoints.count == 4 and keypoints.names == ("tip", "left_barb", "right_barb", "notch")
    assert keypoints.flip_idx is None and keypoints.sigmas == pytest.approx((0.25,) * 4)
    assert all(len(obj.keypoints) == 4 for case in case_file.cases for obj in case.objects)
    text = path.read_text()
    assert "\n  # flip_idx: not in shapes-pose.pt; add it (Ultralytics' flip_idx, in " in text
    assert "\n  # sigmas: left out, so OKS uses the defaults (1/4 each, " in text

    collected = pytester.runpytest("recorded.yaml", "--collect-only", "-q", "-p", "no:cacheprovider")
    collected.stdout.fnmatch_lines(["recorded.yaml::pose-golden-001", "recorded.yaml::pose-golden-002"])
    assert mark_reviewed(path) == ["pose-golden-001", "pose-golden-002"]
    pytester.runpytest("recorded.yaml", "-p", "no:cacheprovider").assert_outcomes(passed=2)
