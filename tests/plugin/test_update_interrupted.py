"""An update killed mid-write (SIGKILL, a real separate pytest process) leaves every case file either
byte-identical to before or fully the new content: never half written."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from harness.casefile.edit import TEMP_PREFIX, WRITE_PAUSE_ENV
from harness.casefile.load import load_case_file
from harness.casefile.schema import Case

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
FILES = ("a", "b", "c")


def broken_suite(detect_suite: str) -> str:
    """The detect suite with scene-002's first box moved off the square, so an update rewrites it."""
    return detect_suite.replace("box: [158, 125, 218, 186]", "box: [138, 125, 198, 186]")


def test_sigkill_during_update_leaves_each_file_old_or_fully_new(pytester, detect_suite, monkeypatch):
    text = broken_suite(detect_suite)
    assert text != detect_suite
    for folder in ("reference", "victim"):
        (pytester.path / folder).mkdir()
        for name in FILES:
            (pytester.path / folder / f"{name}.yaml").write_text(text)
    selection = [f"{folder}/{name}.yaml::scene-002" for name in FILES for folder in ("victim",)]

    # What a complete update writes (in-process, no pause): the "fully new" content of each file.
    reference = pytester.runpytest("--harness-update", *[s.replace("victim", "reference") for s in selection])
    reference.assert_outcomes(failed=3)
    new = {name: (pytester.path / "reference" / f"{name}.yaml").read_text() for name in FILES}
    assert all(content != text for content in new.values())

    # The same update in a separate process, each write pausing half done; killed while b.yaml is written.
    monkeypatch.setenv(WRITE_PAUSE_ENV, "1")
    process = pytester.popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--harness-update", *selection],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    victim = pytester.path / "victim"
    deadline = time.monotonic() + 120
    try:
        while not list(victim.glob(f"{TEMP_PREFIX}b.yaml.*")):
            assert process.poll() is None, "the update finished before it could be interrupted"
            assert time.monotonic() < deadline, "the update never started writing b.yaml"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL

    (partial,) = victim.glob(f"{TEMP_PREFIX}b.yaml.*")
    assert 0 < partial.stat().st_size < len(new["b"].encode())  # the kill landed mid-write
    contents = {name: (victim / f"{name}.yaml").read_text() for name in FILES}
    assert contents == {"a": new["a"], "b": text, "c": text}
    for name in FILES:
        loaded = load_case_file(victim / f"{name}.yaml")
        assert all(isinstance(case, Case) for case in loaded.cases)

    # The leftover temporary file is hidden and no case file: the next run collects only the three files.
    listed = pytester.runpytest("--collect-only", "-q", "victim")
    assert sum(line.startswith("victim/") for line in listed.outlines) == 3 * text.count("- name: ")
