"""The same inputs give the same verdicts: two separate CPU runs write byte-identical results."""

from __future__ import annotations

import json

from conftest import shipped_suite


def test_two_cpu_runs_give_identical_ious_and_metrics(pytester):
    for name in ("shapes-detect.yaml", "shapes-seg.yaml"):
        pytester.makefile(".yaml", **{name.removesuffix(".yaml"): shipped_suite(name, gates=True)})
    documents = []
    for run in ("first", "second"):
        # Separate processes: nothing cached in memory can make the second run agree with the first.
        result = pytester.runpytest_subprocess("--harness-device=cpu", f"--harness-save-baseline={run}.json")
        assert result.ret == 0
        text = (pytester.path / f"{run}.json").read_text()
        document = json.loads(text)
        document.pop("created")  # the one field allowed to differ
        documents.append(json.dumps(document, sort_keys=True))
    assert documents[0] == documents[1]
    suites = json.loads(documents[0])["suites"]
    assert len(suites) == 2 and all(len(suite["cases"]) == 24 for suite in suites.values())
