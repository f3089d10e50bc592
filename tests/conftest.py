"""Shared paths and helpers for the project's tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
