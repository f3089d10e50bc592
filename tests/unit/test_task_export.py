"""obb case files exported to DOTA and classify case files to an ImageFolder tree, imported back with
the importers (harness/golden/dota.py, image_folder.py): the same cases come back; and each refusal."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from export_helpers import CASE_NAMES, IMPORT_ROUNDING, by_name, plain_picture, stand_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from harness.cli.app import main as cli_main
from harness.core.errors import HarnessError
from harness.core.oriented import xywhr_to_corners
from harness.golden.dota import read_dota
from harness.golden.dota_export import write_dota
from harness.golden.image_folder import read_image_folder
from harness.golden.image_folder_export import write_image_folder
from harness.golden.record import add_cases

from conftest import CASES, FIXTURES

sys.path.insert(0, str(FIXTURES))
from oriented_shapes import CLASSIFY_CLASS_NAMES, OBB_CLASS_NAMES


def dota_round_trip(case_file: Path, folder: Path) -> dict:
    """Export ``case_file`` to DOTA under ``folder``, import it back into a new case file, and load it."""
    write_dota(case_file, folder / "dota")
    model = stand_in(folder, "obb", OBB_CLASS_NAMES)
    cases = read_dota(folder / "dota" / "labelTxt", folder / "dota" / "images", model)
    add_cases(folder / "back.yaml", cases, model=model, predict={}, header="back")
    return by_name(folder / "back.yaml")


def test_the_shipped_obb_suite_comes_back_from_dota_exactly(tmp_path):
    original = by_name(CASES / "shapes-obb.yaml")
    back = dota_round_trip(CASES / "shapes-obb.yaml", tmp_path)
    assert sorted(back) == sorted(original)  # case names are the files' names, so they come back
    for name, case in original.items():
        returned = back[name]
        assert returned.image.read_bytes() == case.image.read_bytes()  # the picture, copied
        assert [o.class_name for o in returned.objects] == [o.class_name for o in case.objects]
        # The suite's corners are hundredths, written as repr and read back: equal, not close.
        assert [o.obb for o in returned.objects] == [o.obb for o in case.objects]
        assert [o.crowd for o in returned.objects] == [o.crowd for o in case.objects]
    label = (tmp_path / "dota" / "labelTxt" / "obb-001.txt").read_text().splitlines()[0]
    assert label == "176.34 18.03 156.54 100.68 123.29 92.71 143.09 10.07 rectangle 0"  # the suite's first box


def test_the_shipped_classify_suite_comes_back_from_an_image_folder_tree(tmp_path):
    original = by_name(CASES / "shapes-classify.yaml")
    write_image_folder(CASES / "shapes-classify.yaml", tmp_path / "tree", split="val")
    model = stand_in(tmp_path, "classify", CLASSIFY_CLASS_NAMES)
    add_cases(
        tmp_path / "back.yaml",
        read_image_folder(tmp_path / "tree", "val", model),
        model=model,
        predict={},
        header="back",
    )
    back = by_name(tmp_path / "back.yaml")
    assert sorted(back) == sorted(original)
    for name, case in original.items():
        assert back[name].label.labels == case.label.labels
        assert back[name].image.parent.name == case.label.labels[0]  # OUT/val/LABEL/NAME.png
        assert back[name].image.read_bytes() == case.image.read_bytes()
    assert len(list((tmp_path / "tree" / "val").iterdir())) == len({c.label.labels for c in original.values()})


WIDTH, HEIGHT = 96, 64


@st.composite
def oriented_object(draw) -> dict:
    cx, cy = draw(st.floats(1, WIDTH - 1)), draw(st.floats(1, HEIGHT - 1))  # centre inside, after rounding
    w, h = draw(st.floats(2, 40)), draw(st.floats(2, 40))
    angle = draw(st.floats(-math.pi, math.pi))
    obj: dict = {"class": draw(st.sampled_from(OBB_CLASS_NAMES))}
    if draw(st.booleans()):
        obj["obb"] = {"xywhr": [cx, cy, w, h, angle]}  # corners at full float precision
    else:
        corners = np.round(xywhr_to_corners(np.array([[cx, cy, w, h, angle]]))[0], 2).tolist()
        obj["obb"] = [corners[i : i + 2] for i in range(0, 8, 2)]  # hundredths, as case files write them
    if draw(st.booleans()):
        obj["crowd"] = True
    return obj


oriented_cases = st.lists(
    st.tuples(CASE_NAMES, st.lists(oriented_object(), max_size=4)), min_size=1, max_size=3, unique_by=lambda c: c[0]
)


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    return plain_picture(tmp_path_factory.mktemp("pictures"), WIDTH, HEIGHT)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=oriented_cases)
def test_any_oriented_box_comes_back_from_dota_within_the_case_files_hundredth(tmp_path_factory, picture, drawn):
    folder = tmp_path_factory.mktemp("dota")
    entries = [{"name": name, "image": str(picture), "objects": objects} for name, objects in drawn]
    original = folder / "cases.yaml"
    original.write_text(yaml.safe_dump({"version": 1, "model": "m.pt", "task": "obb", "cases": entries}))
    written, back = by_name(original), dota_round_trip(original, folder)
    assert sorted(back) == sorted(written)
    for name, case in written.items():
        returned = back[name].objects
        assert [(o.class_name, o.crowd) for o in returned] == [(o.class_name, o.crowd) for o in case.objects]
        for got, wanted in zip(returned, case.objects, strict=True):
            assert np.max(np.abs(np.subtract(got.obb, wanted.obb)), initial=0) <= IMPORT_ROUNDING
            if all(round(v, 2) == v for v in wanted.obb):
                assert got.obb == wanted.obb  # hundredths are written losslessly: exactly equal


def write_suite(folder: Path, task: str, body: str) -> Path:
    Image.new("RGB", (WIDTH, HEIGHT)).save(folder / "image.png")
    path = folder / f"{task}.yaml"
    path.write_text(f"version: 1\nmodel: m.pt\ntask: {task}\ncases:\n{body}")
    return path


OBB_CASE = "  - {name: a, image: image.png, objects: [{class: box, obb: [[10, 10], [30, 10], [30, 20], [10, 20]]}]}\n"
LABEL_CASE = "  - {name: a, image: image.png, label: star}\n"
DETECT_CASE = "  - {name: a, image: image.png, objects: [{class: box, box: [10, 10, 30, 20]}]}\n"


DOTA_WRITES = "export dota writes oriented boxes"
FOLDER_WRITES = "export folder writes one label an image"
COCO_WRITES = "export coco writes boxes, masks and keypoints"


@pytest.mark.parametrize(
    ("export_format", "task", "body", "wanted"),
    [
        ("dota", "detect", DETECT_CASE, f"{DOTA_WRITES}; this is a detect case file: use `vision-harness export coco`"),
        (
            "dota",
            "classify",
            LABEL_CASE,
            f"{DOTA_WRITES}; this is a classify case file: use `vision-harness export folder`",
        ),
        ("folder", "obb", OBB_CASE, f"{FOLDER_WRITES}; this is an obb case file: use `vision-harness export dota`"),
        ("coco", "obb", OBB_CASE, f"{COCO_WRITES}; this is an obb case file: use `vision-harness export dota`"),
        (
            "coco",
            "classify",
            LABEL_CASE,
            f"{COCO_WRITES}; this is a classify case file: use `vision-harness export folder`",
        ),
    ],
)
def test_a_format_that_does_not_fit_the_task_is_refused_in_one_line(
    tmp_path, capsys, export_format, task, body, wanted
):
    case_file = write_suite(tmp_path, task, body)
    out = tmp_path / "out.json" if export_format == "coco" else tmp_path / "out"
    assert cli_main(["export", export_format, str(case_file), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"vision-harness: {case_file}: {wanted}\n"  # one line, naming the file
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize(
    ("task", "old", "new", "wanted"),
    [
        ("obb", "class: box", "class: small vehicle", "objects[0].class: 'small vehicle': a DOTA category is one word"),
        ("classify", "label: star", "labels: [star, cross]", "labels: accepts any of star, cross; an ImageFolder tree"),
    ],
)
def test_what_the_format_cannot_hold_is_refused_naming_the_case(tmp_path, capsys, task, old, new, wanted):
    case_file = write_suite(tmp_path, task, (OBB_CASE if task == "obb" else LABEL_CASE).replace(old, new))
    export_format = "dota" if task == "obb" else "folder"
    assert cli_main(["export", export_format, str(case_file), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"vision-harness: {case_file}: case 'a': {wanted}") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_folder_with_files_in_it_is_refused(tmp_path):
    case_file = write_suite(tmp_path, "obb", OBB_CASE)
    (tmp_path / "out" / "labelTxt").mkdir(parents=True)
    (tmp_path / "out" / "labelTxt" / "stale.txt").write_text("1 1 2 1 2 2 1 2 box 0\n")
    with pytest.raises(HarnessError, match="exists and is not an empty folder: give a new --out folder"):
        write_dota(case_file, tmp_path / "out")


@pytest.mark.parametrize("split", ["../val", "a/b", ".."])
def test_a_split_is_one_folder_under_out(tmp_path, split):
    case_file = write_suite(tmp_path, "classify", LABEL_CASE)
    with pytest.raises(HarnessError, match="give the name of one folder under --out"):
        write_image_folder(case_file, tmp_path / "tree", split=split)
    assert not (tmp_path / "tree").exists() and not (tmp_path / "val").exists()


def test_cases_awaiting_review_are_left_out_and_named(tmp_path, capsys):
    recorded = "    recorded: {model: m.pt, reviewed: false}\n"
    body = LABEL_CASE + "  - name: b\n    image: image.png\n    label: cross\n" + recorded
    case_file = write_suite(tmp_path, "classify", body)
    assert cli_main(["export", "folder", str(case_file), "--out", str(tmp_path / "tree")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("1 cases exported from " + str(case_file) + ", images copied")
    assert printed[1] == f"left out, awaiting review (`vision-harness review {case_file}`): b"
    assert sorted(p.relative_to(tmp_path / "tree").as_posix() for p in (tmp_path / "tree").rglob("*.png")) == [
        "star/a.png"
    ]


def test_symlink_links_the_pictures_and_copies_are_the_default(tmp_path):
    case_file = write_suite(tmp_path, "obb", OBB_CASE)
    write_dota(case_file, tmp_path / "linked", symlink=True)
    write_dota(case_file, tmp_path / "copied")
    assert (tmp_path / "linked" / "images" / "a.png").readlink() == (tmp_path / "image.png").resolve()
    assert not (tmp_path / "copied" / "images" / "a.png").is_symlink()
    assert (tmp_path / "copied" / "images" / "a.png").read_bytes() == (tmp_path / "image.png").read_bytes()


def test_a_name_ending_in_a_dash_comes_back_without_it(tmp_path):
    """Import makes case names from file names and trims '-', '_' and '.' at their ends (docs/obb.md)."""
    case_file = write_suite(tmp_path, "obb", OBB_CASE.replace("name: a", "name: a-"))
    model = stand_in(tmp_path, "obb", ("box",))
    write_dota(case_file, tmp_path / "dota")
    assert (tmp_path / "dota" / "labelTxt" / "a-.txt").is_file()
    cases = read_dota(tmp_path / "dota" / "labelTxt", tmp_path / "dota" / "images", model)
    assert add_cases(tmp_path / "back.yaml", cases, model=model, predict={}, header="back") == ["a"]


def test_export_help_says_which_format_goes_with_which_task(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["export", "--help"])
    assert exit_.value.code == 0
    lines = " ".join(capsys.readouterr().out.split())  # argparse wraps at the terminal's width
    assert "coco COCO JSON, for detect, segment and pose case files" in lines
    assert "dota DOTA labels and their pictures, for obb case files" in lines
    assert "folder an ImageFolder tree (OUT/LABEL/NAME.png), for classify case files" in lines


@pytest.mark.parametrize(("page", "task"), [("obb.md", "obb"), ("classify.md", "classify")])
def test_the_docs_export_example_runs_and_imports_back(tmp_path, monkeypatch, page, task):
    """The page's `vision-harness export` line, run from the repository root into a temporary folder."""
    text = (CASES.parent / "docs" / page).read_text(encoding="utf-8")
    (line,) = [line for line in text.splitlines() if line.startswith("vision-harness export ")]
    argv = [arg.replace("exported/", f"{tmp_path}/") for arg in shlex.split(line)[1:]]
    monkeypatch.chdir(CASES.parent)  # the example's paths are the repository's
    assert cli_main(argv) == 0
    original = by_name(CASES / f"shapes-{task}.yaml")
    if task == "obb":
        model = stand_in(tmp_path, "obb", OBB_CLASS_NAMES)
        cases = read_dota(tmp_path / "dota" / "labelTxt", tmp_path / "dota" / "images", model)
    else:
        model = stand_in(tmp_path, "classify", CLASSIFY_CLASS_NAMES)
        cases = read_image_folder(tmp_path / "tree", "val", model)
    assert sorted(case.image.stem for case in cases) == sorted(original)
