"""`vision-harness predict cases/ --ray local` (Ray Data on a local Ray instance: the real engine, one
node) fills the prediction cache, and the `pytest cases/` after it predicts 0 images and never
imports torch. Ray is the optional extra [ray]; CI installs it with [test]."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from conftest import CASES, FIXTURES, require_module

TORCH_PROBE = """
import sys

def pytest_unconfigure(config):  # the very end: after the summary too
    print("torch imported:", "torch" in sys.modules)
"""


def test_predict_on_local_ray_fills_the_cache_and_pytest_predicts_nothing(tmp_path):
    require_module("ray.data", "vision-harness predict --ray")
    (tmp_path / "cases").mkdir()
    for name in ("shapes-detect.yaml", "shapes-seg.yaml", "shapes-pose.yaml"):  # the models this test counts
        shutil.copy(CASES / name, tmp_path / "cases" / name)
    shutil.copytree(FIXTURES / "models", tmp_path / "fixtures" / "models")
    shutil.copytree(FIXTURES / "images", tmp_path / "fixtures" / "images")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(TORCH_PROBE)
    started = time.perf_counter()
    predict = subprocess.run(
        [sys.executable, "-m", "harness.cli", "predict", "cases/", "--ray", "local"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    assert predict.returncode == 0, predict.stderr[-3000:]
    assert "shapes-detect.pt: 144 images predicted" in predict.stdout, predict.stdout
    assert "shapes-seg.pt: 144 images predicted" in predict.stdout, predict.stdout
    assert "shapes-pose.pt: 144 images predicted" in predict.stdout, predict.stdout
    assert "432 images planned" in predict.stdout
    print(f"vision-harness predict --ray local: {seconds:.1f} s for 432 images")  # Ray's start-up included
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "cases/", "-p", "no:randomly"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    models = [line for line in run.stdout.splitlines() if line.startswith("model ")]
    assert len(models) == 3, run.stdout[-3000:]
    assert all("0 images predicted in 0.0 s, 144 from the cache" in line for line in models), models
    assert "torch imported: False" in run.stdout
