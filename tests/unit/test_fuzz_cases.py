"""Fuzzed case files: every one loads correctly or ends in one clear error line; none crashes or hangs.

A bounded run here; bench/fuzz_cases.py runs the same strategies for 10,000+ examples.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from case_strategies import check, mutated_documents, prepare, raw_documents

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def case_path(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("fuzz"))


@SETTINGS
@given(mutated_documents())
def test_mutated_case_files(case_path, text):
    check(case_path, text)


@SETTINGS
@given(raw_documents())
def test_raw_and_hostile_yaml(case_path, text):
    check(case_path, text)


def test_python_tags_are_refused_and_run_nothing(case_path, tmp_path):
    marker = tmp_path / "ran"
    text = f"cases: !!python/object/apply:os.system ['touch {marker}']\n"
    assert check(case_path, text) == "file error"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("cases: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("? 'bad\n\n  key'\n: 1\ncases: []\n", "unknown key"),
    ],
    ids=["nesting-5000-deep", "key-with-line-breaks"],
)
def test_found_by_fuzzing_and_probing(case_path, text, phrase):
    assert check(case_path, text) == "file error"
    from harness.casefile.load import load_case_file
    from harness.core.errors import CaseFileError

    with pytest.raises(CaseFileError, match=phrase) as info:
        load_case_file(case_path)
    assert "\n" not in str(info.value)


def test_an_alias_bomb_is_refused_without_expanding_it(case_path):
    # Each anchor repeats the previous one 9 times: the last case stands for 9**7 strings.
    lines = ["cases:", "  - &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"  - &{name} [{', '.join(['*' + previous] * 9)}]")
    assert check(case_path, "\n".join(lines) + "\n") == "file error"
    from harness.casefile.load import load_case_file
    from harness.core.errors import CaseFileError

    with pytest.raises(CaseFileError, match=r"refused: aliases expand the document to 54,481,007 values from 20"):
        load_case_file(case_path)
