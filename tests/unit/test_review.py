"""vision-harness review: pictures of the cases waiting for review, and --mark-reviewed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from harness.cli import main as cli
from harness.core.errors import CaseFileError
from harness.golden.review import mark_reviewed, write_overlays

from conftest import FIXTURES

BOX = "[172, 88, 238, 154]"


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """A case file with a recorded case waiting for review, a reviewed one and a person's case."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "images" / "golden-001.png", tmp_path / "scene.png")
    (tmp_path / "model.pt").write_bytes(b"")
    path = tmp_path / "cases.yaml"
    path.write_text(
        "# recorded yesterday\n"
        "model: model.pt\n"
        "cases:\n"
        f"  - name: waiting   # the new one\n    image: scene.png\n    recorded: {{model: m.pt, reviewed: false}}\n"
        f"    objects:\n      - {{class: circle, box: {BOX}}}\n"
        f"  - name: checked\n    image: scene.png\n    recorded: {{model: m.pt, reviewed: true}}\n    objects: []\n"
        f"  - name: mine\n    image: scene.png\n    objects: []\n"
    )
    return path


def test_pictures_are_drawn_for_the_cases_waiting_for_review(recorded, tmp_path):
    written = write_overlays(recorded, tmp_path / "review")
    assert [(name, path.relative_to(tmp_path).as_posix()) for name, path in written] == [
        ("waiting", "review/cases/waiting.png")
    ]
    with Image.open(written[0][1]) as picture, Image.open(tmp_path / "scene.png") as scene:
        drawn = np.asarray(picture.convert("RGB"))
        assert drawn.shape[0] >= scene.height and drawn.shape[1] >= scene.width
        green = (drawn[..., 1] > 200) & (drawn[..., 0] < 80) & (drawn[..., 2] < 100)
        assert green.sum() > 100  # the expected box is drawn in the overlay's green
    everything = write_overlays(recorded, tmp_path / "all", everything=True)
    assert [name for name, _ in everything] == ["waiting", "checked", "mine"]


def test_mark_reviewed_changes_the_flag_and_nothing_else(recorded):
    before = recorded.read_text()
    assert mark_reviewed(recorded) == ["waiting"]
    after = recorded.read_text()
    assert after == before.replace("{model: m.pt, reviewed: false}", "{model: m.pt, reviewed: true}")
    assert mark_reviewed(recorded) == []  # nothing waits any more; the file is not touched
    assert recorded.read_text() == after


def test_mark_reviewed_names_what_it_cannot_mark(recorded):
    with pytest.raises(CaseFileError, match=r"cases.yaml: case 'nope': name: no such case; the file has waiting, "):
        mark_reviewed(recorded, ["nope"])
    with pytest.raises(CaseFileError, match=r"case 'mine': recorded: not a recorded case: there is nothing to review"):
        mark_reviewed(recorded, ["mine"])


def test_review_command_prints_the_pictures_and_the_next_step(recorded, capsys):
    assert cli(["review", "cases.yaml", "--out", "pictures"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "waiting: pictures/cases/waiting.png",
        "check each picture, then: vision-harness review cases.yaml --mark-reviewed",
    ]
    assert cli(["review", "cases.yaml", "--mark-reviewed", "--case", "waiting"]) == 0
    assert capsys.readouterr().out == "cases.yaml: marked reviewed: waiting\n"
    assert cli(["review", "cases.yaml"]) == 0
    assert "no case waits for review (--all draws every case)" in capsys.readouterr().out


def test_a_broken_case_is_an_error_not_a_review(recorded, capsys):
    recorded.write_text(recorded.read_text().replace("box: " + BOX, "box: [1, 2]"))
    assert cli(["review", "cases.yaml", "--mark-reviewed"]) == 2
    assert capsys.readouterr().err.startswith("vision-harness: cases.yaml: case 'waiting': objects[0].box: expected")
