"""The fast path for plain case files against PyYAML's safe loader, the reference: wherever the
fast path answers, its document is PyYAML's, value for value and type for type; on text PyYAML
refuses it never answers. Documents come from a grammar of case-file-like YAML written in random
styles with tricky scalars, from the case-file fuzzing strategies, and from character-level edits of
the shipped suites."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.casefile.plain_yaml import NotPlain, load_plain
from harness.casefile.yaml_parse import DUPLICATE_KEYS, DUPLICATES_INSIDE, _StrictSafeLoader, load_bounded

from case_strategies import mutated_documents, raw_documents

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Scalars on which YAML 1.1, PyYAML and a hand-written reader are easy to get wrong.
TRICKY_SCALARS = [
    "a",
    "circle",
    "traffic light",
    "a  b",
    "é",
    "a\u00a0b",
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "False",
    "null",
    "~",
    "0",
    "-0",
    "007",
    "0x1f",
    "0o17",
    "1_000",
    "1:20",
    "1e5",
    "1.5e5",
    "1.0e+5",
    ".5",
    "-.5",
    "5.",
    ".inf",
    "-.Inf",
    ".NaN",
    "+1",
    "-1",
    "3.14",
    "-0.0",
    "2026-11-30",
    "2026-11-30 10:00:00",
    "a#b",
    "a #b",
    "a:b",
    "a: b",
    "a:",
    "s3://x/y",
    "-x",
    "- x",
    "-",
    "--",
    "---",
    "...",
    "?x",
    "? x",
    ":x",
    "[x",
    "x]",
    "{x",
    "x}",
    "&a",
    "*a",
    "!x",
    "!!str x",
    "|",
    ">",
    "%x",
    "@x",
    "`x",
    "'q'",
    '"q"',
    "'a''b'",
    '"a\\nb"',
    '"a #b"',
    "'a: b'",
    "x,y",
    "x, y",
    "=",
    "<<",
    "'",
    '"',
    "#",
    " x",
    "x ",
    "[]",
    "{}",
    "[1, 2]",
    "[[1.5, 2], [3, -4.25]]",
    "[ 1 ,2 ]",
    "[1, a]",
    "[1,]",
    "[a, [b, c]]",
    "{a: 1, b: [1, 2]}",
    "{a: 1, a: 2}",
    "{a:1}",
    "{a: }",
    "[a, b] # c",
    "x # c",
    "x #c",
    "x#c",
    "'x' # c",
    "'x'x",
]
KEYS = ["name", "image", "objects", "class", "box", "mask", "tags", "a.b", "a-b", "_x", "traffic light",
        "yes", "1", "null", "'q'", '"q"', "a b ", "a:b", "<<", "? x", "-x", "name"]  # fmt: skip


def typed(value):
    """``value`` with every scalar's type spelled out: 1, 1.0 and True compare unequal, and -0.0 and
    nan compare as what they are."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, repr(value))


def pyyaml(text: str):
    """PyYAML's answer (the reference), or the string "error"."""
    try:
        return load_bounded(text, _StrictSafeLoader)
    except (yaml.YAMLError, RecursionError):
        return "error"


def fast(text: str):
    """The fast path's document, marked as ``load_bounded`` marks it, or NotPlain."""
    try:
        document, found_duplicates = load_plain(text, DUPLICATE_KEYS)
    except NotPlain:
        return NotPlain
    if found_duplicates:
        document[DUPLICATES_INSIDE] = True
    return document


def check_agrees(text: str) -> bool:
    """The fast path agrees with PyYAML or leaves the text to it; True when it answered."""
    answer = fast(text)
    if answer is NotPlain:
        return False
    reference = pyyaml(text)
    assert reference != "error", f"the fast path read text PyYAML refuses:\n{text}"
    assert typed(answer) == typed(reference), f"\n{text}"
    return True


@st.composite
def trees(draw, depth: int = 0):
    """A nested document: mappings of keys to values, lists, and raw scalar text."""
    kind = draw(st.sampled_from(["scalar", "scalar", "numbers", "mapping", "list"] if depth < 4 else ["scalar"]))
    if kind == "scalar":
        return ("scalar", draw(st.sampled_from(TRICKY_SCALARS)))
    if kind == "numbers":
        number = st.one_of(st.integers(-1000, 1000).map(str), st.floats(-1e4, 1e4).map(lambda x: str(round(x, 2))))
        points = st.lists(st.lists(number, min_size=2, max_size=2), max_size=5)
        sep = draw(st.sampled_from([", ", ",", " , "]))
        return ("scalar", "[" + sep.join("[" + sep.join(p) + "]" for p in draw(points)) + "]")
    if kind == "mapping":
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4))
        return ("mapping", [(key, draw(trees(depth + 1))) for key in keys])
    return ("list", draw(st.lists(trees(depth + 1), min_size=1, max_size=3)))


@st.composite
def styled_documents(draw) -> str:
    """A tree written as YAML text in random styles: indentation, compact sequences, comments, blank lines."""
    step = draw(st.integers(1, 4))
    compact = draw(st.booleans())

    def comment() -> str:
        return draw(st.sampled_from(["", "", "", "  # note", " #x", "#x"]))

    def block(node, indent: int) -> list[str]:
        pad = " " * indent
        kind, body = node
        if kind == "mapping":
            lines = []
            for key, value in body:
                if value[0] == "scalar":
                    lines.append(f"{pad}{key}: {value[1]}{comment()}")
                else:
                    lines.append(f"{pad}{key}:{comment()}")
                    lines += block(value, indent if value[0] == "list" and compact else indent + step)
            return lines
        lines = []
        for item in body:
            inner = block(item, indent + 2) if item[0] != "scalar" else [f"{pad}  {item[1]}"]
            if item[0] == "list" and draw(st.booleans()):  # or "- - x", the compact form
                lines += [f"{pad}-", *inner]
            else:
                lines += [f"{pad}- {inner[0].lstrip(' ')}", *inner[1:]]
        return lines

    top = draw(trees())
    if top[0] != "mapping":
        top = ("mapping", [("cases", top)])
    lines = block(top, 0)
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "# comment", "   ", "  # indented"])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@SETTINGS
@given(styled_documents())
def test_styled_documents_agree_with_pyyaml(text):
    check_agrees(text)


@SETTINGS
@given(styled_documents(), st.data())
def test_edited_documents_agree_with_pyyaml(text, data):
    position = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from([*list(" -:#[]{},'\"\n&*!|>\tx1."), "\r\n", "\ufeff", "\x00", "\u2028"]))
    cut = data.draw(st.integers(0, 2))
    check_agrees(text[:position] + edit + text[position + cut :])


@SETTINGS
@given(st.one_of(mutated_documents(), raw_documents()))
def test_fuzzed_case_files_agree_with_pyyaml(text):
    check_agrees(text)


@pytest.mark.parametrize("name", ["shapes-detect.yaml", "shapes-seg.yaml"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_edits_of_the_shipped_suites_agree_with_pyyaml(name, data):
    text = (ROOT / "cases" / name).read_text()
    position = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from([*list(" -:#[]{},'\"\n&*!|>\t"), "  ", "yes", "1e5", "- x\n"]))
    check_agrees(text[:position] + edit + text[position + data.draw(st.integers(0, 3)) :])


def test_the_shipped_suites_and_a_generated_suite_take_the_fast_path(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from generated_suite import write_suite

    suite = write_suite(tmp_path, 30)
    files = [*(ROOT / "cases").glob("*.yaml"), *sorted(suite.rglob("*.yaml"))]
    assert len(files) >= 3
    for path in files:
        assert check_agrees(path.read_text()), f"{path} was left to PyYAML"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: 1\nb: 2\na: 3\n",
            {"a": 3, "b": 2, DUPLICATE_KEYS: "duplicate key 'a' (line 3)", DUPLICATES_INSIDE: True},
        ),
        (
            "x:\n  p: {k: 1, k: 2}\n",
            {"x": {"p": {"k": 2, DUPLICATE_KEYS: "duplicate key 'k' (line 2)"}}, DUPLICATES_INSIDE: True},
        ),
        ("cases:\n- name: a\n  tags: [yes, off]\n", {"cases": [{"name": "a", "tags": [True, False]}]}),
        ("m: [[1, 2.5], [-0, 3]] # box\n", {"m": [[1, 2.5], [0, 3]]}),
        ("a: 007\nb: 1e5\nc: 0x10\n", {"a": 7, "b": "1e5", "c": 16}),
    ],
    ids=["duplicate-block-key", "duplicate-flow-key", "compact-sequence-yaml11-bools", "numbers", "yaml11-ints"],
)
def test_known_answers(text, expected):
    assert typed(fast(text)) == typed(expected) == typed(pyyaml(text))


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  text\n", "a: b\n  c\n", "a:\n\t- 1\n", "- a\n", "a: [1,\n  2]\n"],
    ids=["anchor", "tag", "block-scalar", "multi-line-plain", "tab", "top-level-list", "multi-line-flow"],
)
def test_outside_the_subset_is_left_to_pyyaml(text):
    assert fast(text) is NotPlain
