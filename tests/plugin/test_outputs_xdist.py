"""Reports under pytest-xdist: `-n 2` writes the serial run's JSON record, pictures and report."""

from __future__ import annotations

import json
import re

import pytest

from conftest import MODELS, require_module, shipped_suite

require_module("xdist", "running with -n 2")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_two_workers_write_the_serial_run_s_record_and_pictures(pytester):
    weak = f"model: {MODELS / 'shapes-seg-weak.pt'}"
    pytester.makefile(".yaml", seg=re.sub(r"model: \{.*\}", weak, shipped_suite("shapes-seg.yaml", gates=True)))
    records, pictures = [], []
    for name, extra in (("serial", []), ("parallel", ["-n", "2"])):
        pytester.runpytest("--harness-no-cache", f"--harness-json={name}.json", f"--harness-report={name}.html", *extra)
        record = json.loads((pytester.path / f"{name}.json").read_text())
        for volatile in ("created", "invocation", "models"):  # the time, the command line, the timings
            del record[volatile]
        records.append(record)
        page = (pytester.path / f"{name}.html").read_text()
        pictures.append(json.loads(re.search(r'id="run-pictures">(.*?)</script>', page, re.S).group(1)))
    assert len(records[0]["cases"]) == 24 and records[0]["totals"]["cases"]["failed"] > 15
    assert all(case["verdict"] for case in records[0]["cases"])
    assert records[1] == records[0]  # every case, verdict, overlay path, suite metric and gate
    assert set(pictures[1]) == set(pictures[0]) and len(pictures[0]) == 24
    assert sum("overlay" in entry for entry in pictures[1].values()) == records[0]["totals"]["cases"]["failed"]
