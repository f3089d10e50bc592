"""Export parity on real obb and classify models: the shipped models exported to ONNX once for this
module, then a few cases of the shipped suites run through the plugin with ``compare_to:``; and the
weak models, which are no export of the shipped ones, named by ``--harness-compare-to``, must fail."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from conftest import FIXTURES, MODELS, require_module, with_compare_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# The shipped model, its suite's predict imgsz, and the few cases each run selects (-k).
EXPORTS = {"obb": ("shapes-obb.pt", 256), "classify": ("shapes-classify.pt", 64)}
SELECTED = "obb-000 or obb-001 or obb-002 or classify-000 or classify-001 or classify-002"


@pytest.fixture(scope="module")
def task_exports(tmp_path_factory) -> dict[str, Path]:
    """The shipped obb and classify models exported to ONNX (``dynamic=True``, as docs/robustness.md
    tells), once for this module: about 8 s on two CPU cores."""
    for name in ("onnx", "onnxruntime", "onnxslim"):
        require_module(name, "export parity on real models")
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("task-exports")
    exports = {}
    for task, (weights, imgsz) in EXPORTS.items():
        shutil.copy(MODELS / weights, folder / weights)  # Ultralytics writes the export beside the weights
        with warnings.catch_warnings():  # torch's tracer warns about Ultralytics' shape checks
            warnings.simplefilter("ignore")
            model = YOLO(str(folder / weights))
            exports[task] = Path(model.export(format="onnx", imgsz=imgsz, dynamic=True, verbose=False))
    # onnxruntime and shapely must be imported here, not first inside a pytester run, which would forget them.
    YOLO(str(exports["obb"]), task="obb").predict(str(FIXTURES / "images" / "obb-golden-001.png"), verbose=False)
    import shapely  # noqa: F401

    return exports


def test_the_obb_and_classify_exports_are_at_parity_on_the_shipped_suites(pytester, task_exports):
    pytester.makefile(".yaml", obb=with_compare_to("shapes-obb.yaml", task_exports["obb"]))
    pytester.makefile(".yaml", classify=with_compare_to("shapes-classify.yaml", task_exports["classify"]))
    result = pytester.runpytest("-k", SELECTED, "--harness-json=run.json")
    result.assert_outcomes(passed=12)  # 6 cases and their 6 parity items
    summary = sorted(line for line in result.outlines if line.startswith("parity "))
    assert len(summary) == 2
    assert summary[0].startswith("parity shapes-classify.pt against shapes-classify.onnx: 3 cases, passed 3, failed 0;")
    assert summary[1].startswith("parity shapes-obb.pt against shapes-obb.onnx: 3 cases, passed 3, failed 0;")
    assert all(line.endswith("; 0 borderline") for line in summary)
    record = json.loads((pytester.path / "run.json").read_text())
    results = {item["node_id"]: item["result"] for item in record["parity"]}
    assert len(results) == 6 and all(r["passed"] and r["unmatched"] == 0 for r in results.values())
    obb = [r for nodeid, r in results.items() if nodeid.startswith("obb.yaml")]
    classify = [r for nodeid, r in results.items() if nodeid.startswith("classify.yaml")]
    # obb-000 is an empty scene; the other two hold 3 and 2 boxes; a classify model ranks all 5 classes.
    assert [r["pairs"] for r in obb] == [0, 3, 2] and [r["pairs"] for r in classify] == [5, 5, 5]
    # A dynamic export predicts what the .pt model predicts, to float rounding (docs/robustness.md's figures).
    assert min(r["worst_iou"] for r in obb if r["worst_iou"] is not None) > 0.9999
    assert all(r["worst_iou"] is None for r in classify)  # labels have no IoU
    assert max(r["max_conf_difference"] for r in obb + classify if r["max_conf_difference"] is not None) < 1e-4
    import jsonschema

    from harness.reports.run_record import load_schema

    jsonschema.validate(record, load_schema(), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("task", ["obb", "classify"])
def test_the_weak_model_named_by_the_option_fails_parity_with_the_report(pytester, task_exports, task):
    # The file names the good export; --harness-compare-to replaces it with the weak model (no export of it).
    pytester.makefile(".yaml", **{task: with_compare_to(f"shapes-{task}.yaml", task_exports[task])})
    weak = MODELS / f"shapes-{task}-weak.pt"
    result = pytester.runpytest("-k", SELECTED, f"--harness-compare-to={weak}", "-rf")
    if task == "obb":
        # The cases pass (the model is unchanged); obb-000 is empty for both models, so its parity passes.
        result.assert_outcomes(passed=3 + 1, failed=2)
        result.stdout.fnmatch_lines(
            [
                "*_ obb-001[[]parity[]] _*",
                "parity: 2 of 2 pairs differ, 1 only in A, 1 only in B (worst IoU *, largest conf difference *)",
                "case 'obb-001' in obb.yaml: A shapes-obb.pt against B shapes-obb-weak.pt, image *",
                "each pair needs IoU >= 0.98 and |conf A - conf B| <= 0.02; *",
                "  A  B  class      obb * obb IoU  conf A  conf B  verdict",
                "  0  1  rectangle  (*, *) *x* *°  0.* FAIL: obb IoU low, conf differs",
                "  -  2  rectangle  * FAIL: only in B",
            ]
        )
    else:
        result.assert_outcomes(passed=3, failed=3)
        result.stdout.fnmatch_lines(
            [
                "*_ classify-002[[]parity[]] _*",
                "parity: top class square (1.00) in A, cross (0.*) in B, 5 of 5 classes differ (largest conf *)",
                "case 'classify-002' in classify.yaml: A shapes-classify.pt against B shapes-classify-weak.pt, image *",
                "the top class must be the same and each class both models rank needs |score A - score B| <= 0.02; *",
                "  rank A  rank B  class * score A  score B  verdict",
                "  1       * square * FAIL: top class differs, conf differs",
            ]
        )
    result.stdout.fnmatch_lines([f"parity shapes-{task}.pt against shapes-{task}-weak.pt: 3 cases, *"])
    assert "Traceback" not in result.stdout.str()
