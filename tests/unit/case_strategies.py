"""Hypothesis strategies for hostile case files, shared by tests/unit/test_fuzz_cases.py and bench/fuzz_cases.py.

Two kinds of input: mutations of a valid case file (a value replaced by anything, a key dropped
or added, a case duplicated), dumped as YAML; and raw text, including YAML features a safe loader
must refuse (Python tags) or survive (aliases, merges, deep nesting).
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import strategies as st
from PIL import Image

from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case
from harness.core.errors import CaseFileError

WIDTH, HEIGHT = 64, 48
VALID = {
    "version": 1,
    "model": "model.pt",
    "task": "segment",
    "predict": {"imgsz": 64, "conf": 0.25},
    "thresholds": {"box_iou": 0.6, "mask_iou": 0.5, "max_extra": 1},
    "metrics": {"box.map50": 0.5, "per_tag": {"t": {"mask.recall": 0.5}}},
    "cases": [
        {
            "name": "a",
            "image": "img.png",
            "tags": ["t"],
            "thresholds": {"box_iou": 0.7},
            "objects": [
                {"class": "c", "box": [1, 2, 30, 40], "mask": [[1, 2], [30, 2], [15, 40]], "box_iou": 0.8},
                {"class": "d", "box": [40, 5, 60, 20], "crowd": True},
            ],
        },
        {"name": "b", "image": "img.png", "objects": []},
    ],
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.integers(10**300, 10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "model.pt", "img.png", "../../etc/passwd", "c", "segment", "\u00e9\u2603\U0001f600", "a::b"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(node, prefix=()):
    """Every (container, key) position in a nested document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


PATHS = list(_paths(VALID))


@st.composite
def mutated_documents(draw) -> str:
    """YAML text of the valid document after one to four random mutations."""
    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = document
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(values)
            elif action == "duplicate" and isinstance(parent, list):
                parent.append(copy.deepcopy(parent[path[-1]]))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this position
    return yaml.safe_dump(document, allow_unicode=True)


RAW_SNIPPETS = [
    "!!python/object/apply:os.system ['echo unsafe']",
    "!!python/name:os.system",
    "&a [*a]",
    "{<<: {a: 1}, b: 2}",
    "!!binary aGVsbG8=",
    "[" * 200 + "]" * 200,
    "{x: " * 300 + "1" + "}" * 300,
    "\t- a",
    "\ufeffcases: []",
    "'unterminated",
    "- {name: a, name: b}",
    ".nan",
    "-.inf",
    "1e400",
]


@st.composite
def raw_documents(draw) -> str:
    """Arbitrary text, or a valid document with a hostile YAML snippet spliced in."""
    if draw(st.booleans()):
        return draw(st.text(max_size=200))
    lines = yaml.safe_dump(VALID).splitlines()
    index = draw(st.integers(0, len(lines)))
    snippet = draw(st.sampled_from(RAW_SNIPPETS))
    prefix = draw(st.sampled_from(["", "cases: ", "model: ", "  - ", "    objects: "]))
    return "\n".join([*lines[:index], prefix + snippet, *lines[index:]]) + "\n"


def prepare(folder: Path) -> Path:
    """A folder with the image and model file the valid document names; returns the case file path."""
    Image.new("RGB", (WIDTH, HEIGHT)).save(folder / "img.png")
    (folder / "model.pt").write_bytes(b"")
    return folder / "cases.yaml"


def check(path: Path, text: str) -> str:
    """Load ``text`` as a case file and return the outcome; raise AssertionError on anything wrong.

    Acceptable: a loaded file (each case well-typed, or broken with a one-line error naming file,
    case and field), or a one-line CaseFileError naming the file. Anything else escapes.
    """
    path.write_text(text, encoding="utf-8")
    try:
        loaded = load_case_file(path)
    except CaseFileError as exc:
        message = str(exc)
        assert "\n" not in message and message.split(": ")[0].endswith("cases.yaml"), message
        return "file error"
    for case in loaded.cases:
        if isinstance(case, BrokenCase):
            message = str(case.error)
            assert "\n" not in message and message.split(": ")[0].endswith("cases.yaml"), message
            assert message.split(": ")[1].startswith("case "), message
            continue
        assert isinstance(case, Case)
        for obj in case.objects:
            x1, y1, x2, y2 = obj.box
            assert 0 <= x1 < x2 <= WIDTH and 0 <= y1 < y2 <= HEIGHT
            assert 0 <= obj.box_iou <= 1 and 0 <= obj.mask_iou <= 1
        assert isinstance(case.max_extra, int) and case.max_extra >= 0
    return "loaded" if all(isinstance(c, Case) for c in loaded.cases) else "case errors"
