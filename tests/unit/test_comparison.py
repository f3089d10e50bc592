"""`vision-harness compare --records`: metric changes with each run's intervals, and the cases whose
verdict flips between two runs with their IoU margins (run records built here, no model)."""

from __future__ import annotations

import json

import pytest

from harness.cli import main as cli_main
from harness.reports.comparison import margin, printable, record_comparison


def obj(box_iou, min_box=0.75, mask_iou=None, min_mask=None, crowd=False) -> dict:
    return {"box_iou": box_iou, "min_box_iou": min_box, "mask_iou": mask_iou, "min_mask_iou": min_mask, "crowd": crowd}


def case(name: str, passed: bool, *objects: dict) -> dict:
    return {"suite": "cases/a.yaml", "name": name, "verdict": {"passed": passed, "objects": list(objects)}}


def record(cases: list[dict], map50_95: float, interval: list[float] | None) -> dict:
    suite = {"key": "cases/a.yaml", "cases": len(cases), "complete": True, "metrics": {"box.map50_95": map50_95}}
    if interval is not None:
        suite["intervals"] = {"box.map50_95": interval}
    return {"schema": "vision-harness/run-record", "suites": [suite], "cases": cases}


def test_margin_is_the_least_iou_above_its_threshold():
    assert margin({"objects": [obj(0.80), obj(0.9, mask_iou=0.72, min_mask=0.7)]}) == pytest.approx(0.02)
    assert margin({"objects": [obj(None)]}) == pytest.approx(-0.75)  # missed: its threshold below zero
    assert margin({"objects": [obj(0.1, crowd=True)]}) is None  # crowd regions are neither found nor missed
    assert margin(None) is None


def test_flips_are_listed_with_both_margins():
    cpu = [case("s1", True, obj(0.753)), case("s2", True, obj(0.9)), case("s3", False, obj(0.5))]
    gpu = [case("s1", False, obj(0.748)), case("s2", True, obj(0.88)), case("s3", False, obj(0.5))]
    lines = record_comparison(record(cpu, 0.9, [0.85, 0.95]), record(gpu, 0.89, None), ["cpu.json", "gpu.json"])
    text = "\n".join(lines)
    assert "cases whose verdict flips: 1 of 3" in text
    (row,) = [line for line in lines if "s1" in line]
    assert row.split() == ["cases/a.yaml::s1", "pass", "->", "FAIL", "+0.0030", "-0.0020"]
    assert "largest margin change among the other cases: 0.0200" in text
    (metric,) = [line for line in lines if line.strip().startswith("box.map50_95")]
    assert metric.split() == ["box.map50_95", "0.9000", "0.8900", "-0.0100", "[0.8500,", "0.9500]", "-"]


def test_names_from_a_record_are_printed_escaped():
    assert printable("scene\x1b[2J-1\n") == "scene\\x1b[2J-1\\n"
    forged = [case("a\x1b[31mred", True, obj(0.8))]
    lines = record_comparison(
        record(forged, 0.9, None), record([case("a\x1b[31mred", False, obj(0.7))], 0.9, None), "ab"
    )
    assert not any("\x1b" in line for line in lines)


def test_compare_records_from_the_command_line(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(record([case("s1", True, obj(0.8))], 0.9, None)))
    b.write_text(json.dumps(record([case("s1", False, obj(0.7))], 0.8, None)))
    assert cli_main(["compare", "--records", str(a), str(b)]) == 0
    assert "cases whose verdict flips: 1 of 1" in capsys.readouterr().out
    b.write_text(json.dumps({"schema": "vision-harness/run-record", "suites": []}))
    assert cli_main(["compare", "--records", str(a), str(b)]) == 2
    assert "not a complete run record" in capsys.readouterr().err
    b.write_text("[1, 2]")
    assert cli_main(["compare", "--records", str(a), str(b)]) == 2


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--records", "a.json", "b.json", "cases/"],
            "either --records A.json B.json, or case files and --model twice",
        ),
        (["cases/", "--model", "a.pt"], "needs case files and --model exactly twice, got 1 --model"),
        (
            ["cases/", "--model", "a.pt", "--model", "b.pt", "--confidence", "1.2"],
            "--confidence: expected a confidence",
        ),
        (["cases/", "--model", "a.pt", "--model", "b.pt", "--bootstrap", "7"], "--bootstrap 7: use 0 (no intervals)"),
    ],
)
def test_compare_usage_errors(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["compare", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
