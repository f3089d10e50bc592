"""pytest-xdist: `-n 2` gives the serial run's outcomes, failure reports, summary and baseline."""

from __future__ import annotations

import json
import re

import pytest

from conftest import MODELS, require_module, shipped_suite

require_module("xdist", "running with -n 2")
SEG = shipped_suite("shapes-seg.yaml", gates=True)


def outcomes_and_reports(result) -> tuple[dict[str, str], list[str]]:
    """Each item's outcome by node id, and the harness summary below the results."""
    outcome = {}
    for line in result.outlines:
        serial = re.match(r"(\S+::\S+) (PASSED|FAILED|ERROR)", line)  # -v: node id, then outcome
        worker = re.match(r"\[gw\d+\] \[ *\d+%\] (PASSED|FAILED|ERROR) (\S+::\S+)", line)  # -v under xdist
        if serial:
            outcome[serial.group(1)] = serial.group(2)
        elif worker:
            outcome[worker.group(2)] = worker.group(1)
    # The harness' own section only: pytest may print its FAILURES section before or after it.
    start = next(i for i, line in enumerate(result.outlines) if "= vision-harness =" in line) + 1
    end = next((i for i in range(start, len(result.outlines)) if result.outlines[i].startswith("=")), None)
    summary = [line for line in result.outlines[start:end] if not line.startswith("model ") and line]
    return outcome, summary


def failure_reports(result) -> list[str]:
    """The FAILURES section's lines (tables with every IoU), sorted: workers finish in any order."""
    start = next(i for i, line in enumerate(result.outlines) if "= FAILURES =" in line) + 1
    end = next(i for i in range(start, len(result.outlines)) if result.outlines[i].startswith("="))
    return sorted(line for line in result.outlines[start:end] if not line.startswith("[gw"))


@pytest.mark.parametrize("dist", ["loadfile", "load"])
def test_two_workers_equal_the_serial_run(pytester, dist):
    # The weak model fails some cases and gates, so failures, metrics and the baseline all get compared.
    weak_seg = re.sub(r"model: \{path: \S+, sha256: \w+\}", f"model: {MODELS / 'shapes-seg-weak.pt'}", SEG)
    pytester.makefile(".yaml", seg=weak_seg, detect=shipped_suite("shapes-detect.yaml", gates=True))
    common = ["-v", "--harness-no-cache", "-rfE"]
    serial = pytester.runpytest(*common, "--harness-save-baseline=serial.json")
    parallel = pytester.runpytest(*common, "-n", "2", f"--dist={dist}", "--harness-save-baseline=parallel.json")
    serial_outcomes, serial_summary = outcomes_and_reports(serial)
    parallel_outcomes, parallel_summary = outcomes_and_reports(parallel)
    assert len(serial_outcomes) == 54 and "FAILED" in serial_outcomes.values()
    assert "cases judged: 48, passed 27, failed 21" in serial_summary
    assert parallel_outcomes == serial_outcomes
    assert [
        x.replace("parallel.json", "serial.json") for x in parallel_summary
    ] == serial_summary  # metrics, worst cases
    assert failure_reports(parallel) == failure_reports(serial)
    failures = sorted(line for line in serial.outlines if line.startswith("FAILED "))
    assert sorted(line for line in parallel.outlines if line.startswith("FAILED ")) == failures  # IoUs shown
    written = [json.loads((pytester.path / name).read_text()) for name in ("serial.json", "parallel.json")]
    for baseline in written:
        del baseline["created"]  # the time of writing
    assert written[0] == written[1]
