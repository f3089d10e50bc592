"""The prediction cache in pytest runs: a warm rerun predicts nothing and never imports torch, every
input and option that should predict again does, and a cache folder that cannot be used is a warning.
Round trips and keys without a run are tests/unit/test_prediction_cache.py."""

from __future__ import annotations

import re

import pytest

from conftest import FIXTURES, MODELS

IMAGE = FIXTURES / "images" / "golden-001.png"
ARGUMENTS = {"imgsz": 256, "conf": 0.25}


def model_lines(result) -> list[str]:
    return [line for line in result.outlines if line.startswith("model ")]


TORCH_PROBE = """
import sys

def pytest_unconfigure(config):  # the very end: after the summary too
    print("torch imported:", "torch" in sys.modules)
"""


def test_a_rerun_with_nothing_changed_predicts_nothing_and_never_imports_torch(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    pytester.makeconftest(TORCH_PROBE)
    count = detect_suite.count("- name:")
    cold = pytester.runpytest_subprocess()
    cold.assert_outcomes(passed=count)
    assert f"{count} images predicted" in model_lines(cold)[0]
    warm = pytester.runpytest_subprocess()
    warm.assert_outcomes(passed=count)
    assert f"0 images predicted in 0.0 s, {count} from the cache" in model_lines(warm)[0]
    warm.stdout.fnmatch_lines(["*torch imported: False"])
    assert _summary(warm) == _summary(cold)  # the same verdicts and metrics, to the last digit


def _summary(result) -> list[str]:
    lines = result.outlines[result.outlines.index(next(x for x in result.outlines if "= vision-harness =" in x)) :]
    return [line for line in lines if not line.startswith(("model ", "torch imported")) and " passed in " not in line]


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ("conf: 0.25", "conf: 0.3"),  # a predict argument
        (None, "--harness-no-cache"),
        (None, "--cache-clear"),
        (None, "--harness-model=MODEL"),  # another model file
    ],
    ids=["predict-arguments", "no-cache", "cache-clear", "other-model"],
)
def test_changing_an_input_or_asking_predicts_again(pytester, detect_suite, change, option):
    count = detect_suite.count("- name:")
    pytester.makefile(".yaml", shapes=detect_suite)
    pytester.runpytest().assert_outcomes(passed=count)
    args = []
    if change:
        pytester.makefile(".yaml", shapes=detect_suite.replace(change, option))
    else:
        args = [option.replace("MODEL", str(MODELS / "shapes-detect-weak.pt"))]
    again = pytester.runpytest(*args)
    assert re.search(rf"\b{count} images predicted", model_lines(again)[0]), model_lines(again)


def test_no_cache_neither_reads_nor_writes(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    pytester.runpytest("--harness-no-cache").assert_outcomes(passed=detect_suite.count("- name:"))
    assert not (pytester.path / ".pytest_cache" / "d" / "vision-harness").exists()


def test_entries_are_small(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    pytester.runpytest().assert_outcomes(passed=seg_suite.count("- name:"))
    entries = list((pytester.path / ".pytest_cache" / "d" / "vision-harness" / "predictions").rglob("*.json"))
    assert len(entries) == seg_suite.count("- name:")
    sizes = [entry.stat().st_size for entry in entries]
    # Masks as RLE strings: a few hundred bytes an image here, where dense masks would be ~50 KB.
    assert max(sizes) < 4096, sizes


def test_an_unusable_cache_folder_is_a_warning_not_an_error(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    (pytester.path / "not-a-folder").write_text("")  # pytest's cache_dir pointing at a file: nothing can go there
    result = pytester.runpytest("-o", "cache_dir=not-a-folder", "-W", "default")
    result.assert_outcomes(passed=detect_suite.count("- name:"))
    result.stdout.fnmatch_lines(["*PytestCacheWarning: vision-harness runs without its cache: *Not a directory*"])
