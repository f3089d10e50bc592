"""The shipped models against their dynamic ONNX exports under the significance rule: not flagged.
An acceptance test: exporting takes several seconds a model (tests/plugin/test_gates_confidence.py
has the rest of the gates' tests). Then `vision-harness compare --records` on the two runs: no case
flips its verdict, and every IoU margin moves by less than 0.01."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from harness.cli import main as cli_main

from conftest import MODELS, shipped_suite

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("gates-onnx")
    out = {}
    for task in ("detect", "seg"):
        weights = folder / f"shapes-{task}.pt"
        shutil.copy(MODELS / weights.name, weights)  # Ultralytics writes the export beside the weights
        with warnings.catch_warnings():  # torch's tracer warns about Ultralytics' shape checks
            warnings.simplefilter("ignore")
            out[task] = Path(YOLO(str(weights)).export(format="onnx", imgsz=256, dynamic=True, verbose=False))
    # onnxruntime must be imported here, not first inside a pytester run, which would forget it.
    YOLO(str(out["detect"])).predict(str(MODELS.parent / "images" / "golden-001.png"), verbose=False)
    return out


@pytest.mark.parametrize("task", ["detect", "seg"])
def test_the_dynamic_onnx_export_is_not_flagged_and_no_verdict_flips(pytester, exports, task, capsys):
    pytester.makefile(".yaml", shapes=shipped_suite(f"shapes-{task}.yaml"))
    pytester.runpytest("--harness-save-baseline", "baseline.json", "--harness-json", "pt.json")
    onnx = pytester.runpytest(
        "--harness-baseline",
        "baseline.json",
        "--harness-confidence",
        "0.95",
        f"--harness-model={exports[task]}",
        "--harness-json",
        "onnx.json",
    )
    onnx.assert_outcomes(passed=24 + 1)

    status = cli_main(["compare", "--records", str(pytester.path / "pt.json"), str(pytester.path / "onnx.json")])
    out = capsys.readouterr().out
    assert status == 0
    assert "cases whose verdict flips: 0 of 24" in out
    moved = float(out.split("largest margin change among the other cases: ")[1].split()[0])
    assert moved < 0.01
    assert json.loads((pytester.path / "onnx.json").read_text())["suites"][0]["intervals"]
