"""Shared paths and helpers for the project's tests."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
import ultralytics  # noqa: F401

import harness.cli

# pytester's in-process runs drop the modules first imported inside them, and numpy and torch
# cannot be imported twice in one process: import everything the plugin uses here, once.
import harness.evaluation.baseline
import harness.pytest_plugin.collect
import harness.pytest_plugin.items  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MODELS = FIXTURES / "models"
CASES = ROOT / "cases"
# CI (CI=true: .ci/run exports it, as GitHub Actions does) installs everything the tests need, so
# there a test that cannot run fails instead of skipping: nothing may pass in CI without having run.
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Stop a test that cannot run here: skip with ``reason`` locally, fail in CI. Never return early."""
    if IN_CI:
        pytest.fail(f"this test must run in CI (CI={os.environ['CI']}): {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str, purpose: str) -> ModuleType:
    """``name`` imported, or the test stopped by :func:`unavailable` (skipped locally, failed in CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"{name} is not importable ({exc}); {purpose} needs it: pip install -e '.[test]'")


def shipped_suite(name: str, *, gates: bool = False, transforms: bool = False) -> str:
    """A shipped case file's text with its fixture paths made absolute, to run elsewhere.

    Without ``gates`` its ``metrics:`` line is dropped, and without ``transforms`` its ``transforms:``
    lines (file and cases), so that every item is a plain case.
    """
    text = (CASES / name).read_text().replace("../fixtures/", f"{FIXTURES}/")
    dropped = () if gates else ("metrics:",)
    dropped += () if transforms else ("transforms:",)
    if dropped:
        text = "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith(dropped))
    return text


def with_case_line(suite: str, case: str, line: str) -> str:
    """A case file's text with ``line`` (e.g. ``transforms: [hflip]``) added to one case's fields."""
    marker = f"  - name: {case}\n"
    assert marker in suite, f"no case {case!r} in the suite"
    return suite.replace(marker, f"{marker}    {line}\n")


@pytest.fixture
def seg_suite() -> str:
    return shipped_suite("shapes-seg.yaml")


@pytest.fixture
def detect_suite() -> str:
    return shipped_suite("shapes-detect.yaml")


@pytest.fixture(scope="session", autouse=True)
def _warm_up_lazy_imports():
    """Run one prediction and one suite evaluation in this process before any pytester run.

    torch and Ultralytics import modules lazily on first use, and some of them (torch's operator
    registrations) break when pytester's in-process runs forget and re-import them.
    """
    from harness.casefile.load import load_case_file
    from harness.casefile.schema import Case
    from harness.evaluation.suites import Judge

    case_file = load_case_file(CASES / "shapes-seg.yaml")
    cases = [case for case in case_file.cases if isinstance(case, Case)][:2]
    judge = Judge("cpu")
    for case in cases:
        judge.verdict(case, str(MODELS / "shapes-seg.pt"))
    from harness.evaluation.metrics import suite_metrics

    suite_metrics([judge.verdict(case, str(MODELS / "shapes-seg.pt")) for case in cases], with_masks=True)


ALLOW_OUTSIDE_ROOT = "[pytest]\nharness_allow_outside_root = true\n"


@pytest.fixture(autouse=True)
def _let_pytester_projects_use_the_shipped_fixtures(request):
    """pytester projects live in temporary folders, and the models and images they use in this repo."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester").makeini(ALLOW_OUTSIDE_ROOT)


# --- ONNX exports of the shipped models, for export parity (tests/acceptance, tests/browser) ---------

# File name: (shipped weights, Ultralytics export arguments besides format and imgsz). The two that
# must fail skip onnxslim's graph simplification (Ultralytics' default), which adds a second each.
ONNX_EXPORTS = {
    "shapes-seg.onnx": ("shapes-seg.pt", {"dynamic": True}),
    "shapes-detect.onnx": ("shapes-detect.pt", {"dynamic": True}),
    "shapes-seg-weak.onnx": ("shapes-seg-weak.pt", {"dynamic": True, "simplify": False}),
    "shapes-seg-static.onnx": ("shapes-seg.pt", {"simplify": False}),  # a fixed 256x256 input, as README warns
}


def _export_onnx(folder: Path) -> None:
    from ultralytics import YOLO

    for name, (weights, arguments) in ONNX_EXPORTS.items():
        if (folder / name).is_file():
            continue
        work = folder / "work" / Path(name).stem
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(MODELS / weights, work / weights)  # Ultralytics writes the export beside the weights
        with warnings.catch_warnings():  # torch's tracer warns about Ultralytics' shape checks
            warnings.simplefilter("ignore")
            exported = YOLO(str(work / weights)).export(format="onnx", imgsz=256, verbose=False, **arguments)
        Path(exported).replace(folder / name)


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory) -> dict[str, Path]:
    """The exports, made once per test run (pytest-xdist workers share one folder, under a lock)."""
    for name in ("onnx", "onnxruntime", "onnxslim"):
        require_module(name, "export parity on real models")
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's folder, shared by its workers (each has a folder inside it)
    folder = root / "onnx-exports"
    folder.mkdir(exist_ok=True)
    with FileLock(str(root / "onnx-exports.lock")):
        _export_onnx(folder)
    # onnxruntime must be imported here, not first inside a pytester run, which would forget it.
    from ultralytics import YOLO

    YOLO(str(folder / "shapes-detect.onnx")).predict(str(FIXTURES / "images" / "golden-001.png"), verbose=False)
    return {name: folder / name for name in ONNX_EXPORTS}


def with_compare_to(name: str, compare_to: str | Path) -> str:
    """A shipped suite (gates dropped) whose file names ``compare_to`` (after its ``task:`` line)."""
    text = shipped_suite(name)
    task = next(line for line in text.splitlines(keepends=True) if line.startswith("task: "))
    return text.replace(task, f"{task}compare_to: {compare_to}\n", 1)


@contextlib.contextmanager
def review_app(case_file: Path, *args: str) -> Iterator[tuple[str, int, str]]:
    """`vision-harness review CASE_FILE --serve --no-browser ARGS` in a child process, run from the
    case file's folder: its address, port and token (read from the line it prints), stopped on exit."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLO_OFFLINE": "1"}
    command = [sys.executable, "-m", "harness.cli", "review", str(case_file), "--serve", "--no-browser", *args]
    process = subprocess.Popen(command, cwd=case_file.parent, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("vision-harness review: http://127.0.0.1:"), line
        url = line.split()[2]
        yield url, int(url.split(":")[2].split("/")[0]), url.rstrip("/").rsplit("/", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=30)
