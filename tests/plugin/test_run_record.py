"""--harness-json: a real run's record against its JSON Schema, its numbers against the run, and the
schema against its documentation (docs/json-report.md)."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import numpy as np
import pytest

from harness.core.geometry import box_iou
from harness.reports.run_record import SCHEMA_VERSION, load_schema

from conftest import MODELS, ROOT, shipped_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WEAK_SEG = "--harness-model=" + str(MODELS / "shapes-seg-weak.pt")
DOCS = ROOT / "docs" / "json-report.md"


@pytest.fixture(scope="module")
def schema() -> dict:
    document = load_schema()
    jsonschema.Draft202012Validator.check_schema(document)
    return document


@pytest.fixture
def weak_run(pytester) -> tuple[dict, pytest.RunResult]:
    """The shipped seg suite with its gates, run with the weak model, plus one case whose image is gone."""
    suite = shipped_suite("shapes-seg.yaml", gates=True)
    pytester.makefile(".yaml", shapes=suite.replace("golden-005.png", "gone.png"))
    result = pytester.runpytest(WEAK_SEG, "--harness-json", "out/run.json")
    return json.loads((pytester.path / "out" / "run.json").read_text()), result


def test_a_real_run_matches_the_schema(weak_run, schema):
    record, _ = weak_run
    jsonschema.validate(record, schema, cls=jsonschema.Draft202012Validator)
    assert record["schema"] == "vision-harness/run-record"
    assert record["schema_version"] == SCHEMA_VERSION


def test_the_schema_refuses_what_it_does_not_describe(weak_run, schema):
    record, _ = weak_run
    for change in (
        lambda r: r["cases"][0].pop("verdict"),
        lambda r: r["cases"][0].update(colour="red"),
        lambda r: r["suites"][0]["metrics"].update({"box.map50": 1.5}),
        lambda r: r.update(schema_version=2),
    ):
        broken = copy.deepcopy(record)
        change(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_totals_and_outcomes_are_pytest_s(weak_run):
    record, result = weak_run
    outcomes = result.parseoutcomes()
    items = record["totals"]["items"]
    assert items["failed"] == outcomes["failed"]
    assert items["error"] == outcomes.get("errors", outcomes.get("error", 0))
    assert items["passed"] == outcomes.get("passed", 0)
    assert record["exit_status"] == int(result.ret) == 1
    assert len(record["cases"]) == 24
    gone = next(case for case in record["cases"] if case["name"] == "scene-005")
    assert gone["outcome"] == "error" and gone["verdict"] is None
    assert "image not found" in gone["message"]


def test_objects_carry_the_numbers_the_failure_table_shows(weak_run):
    record, _ = weak_run
    judged = [case for case in record["cases"] if case["verdict"]]
    checked = 0
    for case in judged:
        verdict = case["verdict"]
        assert verdict["passed"] == (case["outcome"] == "passed")
        predictions = verdict["predictions"]
        for obj in verdict["objects"]:
            if obj["prediction"] is None:
                assert obj["problems"] == ["missed"] and obj["box_iou"] is None
                continue
            matched = predictions[obj["prediction"]]
            assert matched["status"] == "matched" and matched["object"] == obj["index"]
            # The box IoU recomputed from the boxes in the record (rounded to 0.001 px) is the recorded one.
            recomputed = box_iou(np.array([obj["box"]]), np.array([matched["box"]]))[0, 0]
            assert recomputed == pytest.approx(obj["box_iou"], abs=1e-3)
            assert ("box IoU low" in obj["problems"]) == (obj["box_iou"] < obj["min_box_iou"])
            checked += 1
        assert verdict["extras"] == sum(p["status"] == "extra" for p in predictions)
    assert checked > 10
    failing = [case for case in judged if case["outcome"] == "failed"]
    assert failing and all(case["overlay"].endswith(f"/{case['name']}.png") for case in failing)


def test_suite_metrics_and_gates_are_the_run_s(weak_run):
    record, _ = weak_run
    (suite,) = record["suites"]
    # One case errored, so the suite is incomplete: no metrics, no gates passed on a partial suite.
    assert suite["complete"] is False and suite["metrics"] == {} and suite["gates"] == []
    assert record["totals"]["items"]["error"] == 1 + 3  # the case, and the three gates that need it


def test_complete_suite_metrics_equal_the_summary_line(pytester):
    pytester.makefile(".yaml", shapes=shipped_suite("shapes-seg.yaml", gates=True))
    result = pytester.runpytest(WEAK_SEG, "--harness-json=run.json")
    record = json.loads((pytester.path / "run.json").read_text())
    (suite,) = record["suites"]
    assert suite["complete"] is True
    line = next(line for line in result.outlines if line.startswith("shapes.yaml: box mAP50-95"))
    shown = [float(v) for v in re.findall(r"mAP50-95 (\d\.\d{3})", line)]
    assert shown == [pytest.approx(suite["metrics"][f"{kind}.map50_95"], abs=5e-4) for kind in ("box", "mask")]
    gates = {gate["metric"]: gate for gate in suite["gates"]}
    assert set(gates) == {"box.map50_95", "mask.map50_95", "per_tag.small.mask.recall"}
    for gate in gates.values():
        assert gate["passed"] is False and gate["value"] < gate["minimum"]
        result.stdout.fnmatch_lines([f"FAILED shapes.yaml::suite::{gate['metric']} - *"])
    assert record["models"][0]["name"] == "shapes-seg-weak.pt"
    assert re.fullmatch(r"[0-9a-f]{64}", record["models"][0]["sha256"])


def _documented_fields() -> dict[str, set[str]]:
    """Field names of each section's table in docs/json-report.md."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in DOCS.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif current and (match := re.match(r"\| `([a-z0-9_]+)` \|", line)):
            sections.setdefault(current, set()).add(match.group(1))
    return sections


def _schema_node(schema: dict, path: str) -> dict:
    """The schema of the objects a documented section describes, e.g. ``cases[].verdict.objects[]``."""
    node = schema
    for part in [p for p in re.split(r"\.|(?=\[\])", path) if p]:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        node = node["items"] if part == "[]" else node["properties"][part]
        if "oneOf" in node:  # "null or object": the object
            node = next(branch for branch in node["oneOf"] if branch.get("type") != "null")
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_every_schema_field_is_documented_and_nothing_else(schema):
    documented = _documented_fields()
    paths = {"Top level": "", "totals": "totals.items"}
    assert len(documented) == 14
    for section, fields in documented.items():
        node = _schema_node(schema, paths.get(section, section))
        assert fields == set(node["properties"]), section
    assert set(_schema_node(schema, "totals")["properties"]) == {"items", "cases"}
