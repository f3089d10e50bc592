"""Detect, segment, pose and obb case files exported to an Ultralytics dataset (harness/golden/yolo_export.py)
and imported back with ``import yolo`` (harness/golden/yolo.py): the same cases come back; Ultralytics'
own label check reads every file; and each refusal is one line naming the case."""

from __future__ import annotations

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

from harness.casefile.load import load_case_file
from harness.cli.app import main as cli_main
from harness.core.errors import HarnessError
from harness.golden.keypoint_blocks import keypoint_block
from harness.golden.record import ModelInfo, add_cases
from harness.golden.yolo import read_yolo
from harness.golden.yolo_export import write_yolo

from conftest import CASES, FIXTURES

sys.path.insert(0, str(FIXTURES))
from oriented_shapes import OBB_CLASS_NAMES
from pose_shapes import POSE_CLASS_NAMES

from shapes import CLASS_NAMES

SUITES = {
    "shapes-detect.yaml": ("detect", CLASS_NAMES),
    "shapes-seg.yaml": ("segment", CLASS_NAMES),
    "shapes-pose.yaml": ("pose", POSE_CLASS_NAMES),
    "shapes-obb.yaml": ("obb", OBB_CLASS_NAMES),
}


def yolo_round_trip(case_file: Path, folder: Path, task: str, names: tuple[str, ...], split: str = "val") -> dict:
    """Export ``case_file`` to a YOLO dataset under ``folder``, import it back as the CLI does, and load it."""
    write_yolo(case_file, folder / "yolo", split=split, class_names=names)
    model = stand_in(folder, task, names)
    data = folder / "yolo" / "data.yaml"
    keypoints = keypoint_block(data, "yolo") if task == "pose" else None
    cases = read_yolo(data, split, model)
    add_cases(folder / "back.yaml", cases, model=model, predict={}, header="back", keypoints=keypoints)
    return by_name(folder / "back.yaml")


def extremes(polygon: tuple[float, ...]) -> tuple[float, ...]:
    return min(polygon[0::2]), min(polygon[1::2]), max(polygon[0::2]), max(polygon[1::2])


@pytest.mark.parametrize("suite", SUITES)
def test_the_shipped_suite_comes_back_from_yolo_labels(tmp_path, suite):
    task, names = SUITES[suite]
    original = by_name(CASES / suite)
    back = yolo_round_trip(CASES / suite, tmp_path, task, names)
    assert sorted(back) == sorted(original)  # case names are the files' names, so they come back
    for name, case in original.items():
        returned = back[name]
        assert returned.image.read_bytes() == case.image.read_bytes()  # the picture, copied
        assert [o.class_name for o in returned.objects] == [o.class_name for o in case.objects]
        for got, wanted in zip(returned.objects, case.objects, strict=True):
            # The suites' numbers are hundredths and whole pixels: they come back equal, not close.
            if task == "obb":
                assert got.obb == wanted.obb
            elif task == "segment":
                assert got.mask.polygons == wanted.mask.polygons
                assert got.box == extremes(wanted.mask.polygons[0])  # Ultralytics' box of a polygon line
            else:
                assert got.box == wanted.box
            if task == "pose":
                assert got.keypoints == wanted.keypoints  # x, y and v
    if task == "pose":
        spec = load_case_file(tmp_path / "back.yaml", check_model=False).keypoints
        assert (spec.names, spec.flip_idx) == (("tip", "left_barb", "right_barb", "notch"), (0, 2, 1, 3))


def test_ultralytics_reads_every_exported_label_file_as_the_cases_say(tmp_path):
    """Ultralytics' own label check (the one its dataloader runs) finds nothing corrupt, and its boxes
    are the cases' boxes: an independent reader of the same files."""
    from ultralytics.data.utils import verify_image_label

    for suite, (task, names) in SUITES.items():
        out = tmp_path / task
        write_yolo(CASES / suite, out, class_names=names)
        cases = by_name(CASES / suite)
        for name, case in cases.items():
            image = out / "images" / "val" / f"{name}.png"
            label = out / "labels" / "val" / f"{name}.txt"
            pose = task == "pose"
            result = verify_image_label((str(image), str(label), "", pose, len(names), 4 if pose else 0, 3, False))
            lb, (height, width), nc, message = result[1], result[2], result[8], result[9]
            assert (nc, message) == (0, ""), f"{suite} {name}: {message}"
            assert len(lb) == len(case.objects)
            if task in ("detect", "pose"):
                cx, cy, w, h = (lb[:, 1:5] * [width, height, width, height]).T
                boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
                wanted = np.reshape([o.box for o in case.objects], (-1, 4))
                assert np.abs(boxes - wanted).max(initial=0) < 1e-3  # float32 at 400 px


WIDTH, HEIGHT = 96, 64


@st.composite
def box_object(draw) -> dict:
    # At least 0.02 px a side: a thinner box has no area once import rounds it to hundredths.
    x1, y1 = draw(st.floats(0, WIDTH - 1)), draw(st.floats(0, HEIGHT - 1))
    x2, y2 = min(x1 + draw(st.floats(0.02, WIDTH)), WIDTH), min(y1 + draw(st.floats(0.02, HEIGHT)), HEIGHT)
    if draw(st.booleans()):
        x1, y1, x2, y2 = (round(v, 2) for v in (x1, y1, x2, y2))  # hundredths, as case files write them
    obj: dict = {"class": draw(st.sampled_from(CLASS_NAMES)), "box": [x1, y1, x2, y2]}
    if draw(st.integers(0, 4)) == 0:
        obj["crowd"] = True
    return obj


box_cases = st.lists(
    st.tuples(CASE_NAMES, st.lists(box_object(), max_size=4)), min_size=1, max_size=3, unique_by=lambda c: c[0]
)


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    return plain_picture(tmp_path_factory.mktemp("pictures"), WIDTH, HEIGHT)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=box_cases)
def test_any_box_comes_back_from_yolo_within_the_case_files_hundredth(tmp_path_factory, picture, drawn):
    folder = tmp_path_factory.mktemp("yolo")
    entries = [{"name": name, "image": str(picture), "objects": objects} for name, objects in drawn]
    original = folder / "cases.yaml"
    original.write_text(yaml.safe_dump({"version": 1, "model": "m.pt", "task": "detect", "cases": entries}))
    written, back = by_name(original), yolo_round_trip(original, folder, "detect", CLASS_NAMES)
    assert sorted(back) == sorted(written)
    for name, case in written.items():
        kept = [o for o in case.objects if not o.crowd]  # crowd regions are left out
        assert [o.class_name for o in back[name].objects] == [o.class_name for o in kept]
        for got, wanted in zip(back[name].objects, kept, strict=True):
            assert np.max(np.abs(np.subtract(got.box, wanted.box))) <= IMPORT_ROUNDING
            if all(round(v, 2) == v for v in wanted.box):
                assert got.box == wanted.box  # hundredths come back exactly


def write_suite(folder: Path, task: str, body: str) -> Path:
    Image.new("RGB", (WIDTH, HEIGHT)).save(folder / "image.png")
    path = folder / f"{task}.yaml"
    path.write_text(f"version: 1\nmodel: m.pt\ntask: {task}\ncases:\n{body}")
    return path


def one_object(obj: str) -> str:
    return f"  - {{name: a, image: image.png, objects: [{obj}]}}\n"


SQUARE = "[[10, 10], [30, 10], [30, 20], [10, 20]]"


@pytest.mark.parametrize(
    ("task", "body", "wanted"),
    [
        (
            "classify",
            "  - {name: a, image: image.png, label: star}\n",
            "export yolo writes boxes, polygons, keypoints and oriented boxes; this is a classify case file: "
            "use `vision-harness export folder`",
        ),
        (
            "segment",
            one_object("{class: c, box: [0, 0, 9, 9], mask: {rle: {size: [64, 96], counts: [6144]}}}"),
            "case 'a': objects[0].mask: its mask is given as RLE; a label line is a polygon, and one traced from a "
            "mask would move its edge: export it with `vision-harness export coco`",
        ),
        (
            "segment",
            one_object(f"{{class: c, box: [10, 10, 50, 20], mask: [{SQUARE}, [[40, 10], [50, 10], [50, 20]]]}}"),
            "case 'a': objects[0].mask: its mask is 2 polygons; an Ultralytics label line holds one: split the object",
        ),
        (
            "segment",
            "  - {name: a, image: image.png, objects: [{class: c, box: [10, 10, 30, 20], mask: "
            + SQUARE
            + "}, {class: c, box: [40, 10, 50, 20]}]}\n",
            "case 'a': objects[1].mask: has no mask; a segment dataset's lines are polygons (Ultralytics reads a box "
            "line among them as two points)",
        ),
        (
            "obb",
            one_object("{class: c, obb: [[-4, 10], [30, 10], [30, 20], [-4, 20]]}"),
            "case 'a': objects[0]: lies outside the 96x64 picture; Ultralytics' labels are normalised to [0, 1] and "
            "it drops a label file with a coordinate past them: keep the object inside the picture",
        ),
    ],
)
def test_what_yolo_labels_cannot_hold_is_refused_in_one_line(tmp_path, capsys, task, body, wanted):
    case_file = write_suite(tmp_path, task, body)
    assert cli_main(["export", "yolo", str(case_file), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"vision-harness: {case_file}: {wanted}\n"  # one line, naming file and case
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_png_mask_is_refused_naming_the_case(tmp_path):
    Image.new("L", (WIDTH, HEIGHT)).save(tmp_path / "mask.png")
    case_file = write_suite(tmp_path, "segment", one_object("{class: c, box: [0, 0, 9, 9], mask: {png: mask.png}}"))
    with pytest.raises(HarnessError, match=r"case 'a': objects\[0\].mask: its mask is given as a PNG; .* export coco"):
        write_yolo(case_file, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_crowd_regions_are_left_out_and_named(tmp_path, capsys):
    crowd = "{class: d, box: [20, 20, 40, 40], crowd: true}"
    body = f"  - {{name: a, image: image.png, objects: [{{class: c, box: [1, 1, 9, 9]}}, {crowd}]}}\n"
    case_file = write_suite(tmp_path, "detect", body + "  - {name: b, image: image.png, objects: []}\n")
    assert cli_main(["export", "yolo", str(case_file), "--out", str(tmp_path / "out"), "--split", "test"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith(f"2 cases exported from {case_file}, images copied")
    assert printed[1] == "left out, crowd regions (YOLO labels have no crowd flag), of: a"
    label = (tmp_path / "out" / "labels" / "test" / "a.txt").read_text()
    assert label == "0 0.05208333333 0.078125 0.08333333333 0.125\n"  # 10 digits: (1 + 9) / 2 / 96, ...
    assert (tmp_path / "out" / "labels" / "test" / "b.txt").read_text() == ""  # an image with no objects
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    # Ultralytics requires train and val keys; d, a crowd region's class alone, gets no index.
    assert data == {"train": None, "val": None, "test": "images/test", "names": {0: "c"}}


def test_a_split_import_does_not_read_is_refused(tmp_path):
    case_file = write_suite(tmp_path, "detect", one_object("{class: c, box: [1, 1, 9, 9]}"))
    with pytest.raises(HarnessError, match="--split 'dev': give one of train, val, test"):
        write_yolo(case_file, tmp_path / "out", split="dev")
    assert not (tmp_path / "out").exists()


def test_symlink_links_the_pictures_and_the_model_classes_set_the_indices(tmp_path):
    case_file = write_suite(tmp_path, "detect", one_object("{class: square, box: [1, 1, 9, 9]}"))
    write_yolo(case_file, tmp_path / "out", symlink=True, class_names=CLASS_NAMES)
    assert (tmp_path / "out" / "images" / "val" / "a.png").readlink() == (tmp_path / "image.png").resolve()
    assert (tmp_path / "out" / "labels" / "val" / "a.txt").read_text().startswith("1 ")  # square: the model's 1
    assert yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())["names"] == dict(enumerate(CLASS_NAMES))


def test_the_docs_export_example_runs_and_its_label_lines_are_what_it_writes(tmp_path, monkeypatch):
    """docs/adding-cases.md's `vision-harness export yolo` line, run from the repository root into a temporary
    folder, then its `import yolo` as a function; the page's label lines are scene-001's."""
    text = (CASES.parent / "docs" / "adding-cases.md").read_text(encoding="utf-8")
    (line,) = [line for line in text.splitlines() if line.startswith("vision-harness export yolo ")]
    argv = [arg.replace("exported/", f"{tmp_path}/") for arg in shlex.split(line)[1:]]
    monkeypatch.chdir(CASES.parent)  # the example's paths are the repository's
    assert cli_main(argv) == 0
    shown = text.split("```text\n0 ", 1)[1].split("```", 1)[0]
    written = (tmp_path / "yolo" / "labels" / "val" / "scene-001.txt").read_text()
    assert written.startswith("0 " + shown)
    model = ModelInfo("shapes-detect.pt", "detect", CLASS_NAMES)
    cases = read_yolo(tmp_path / "yolo" / "data.yaml", "val", model)
    assert sorted(case.image.stem for case in cases) == sorted(by_name(CASES / "shapes-detect.yaml"))


def test_export_help_lists_yolo(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["export", "--help"])
    assert exit_.value.code == 0
    lines = " ".join(capsys.readouterr().out.split())  # argparse wraps at the terminal's width
    assert "yolo an Ultralytics dataset (data.yaml, images/, labels/), for detect, segment, pose and obb" in lines


def test_a_pose_file_without_a_keypoints_block_comes_back_with_every_visibility(tmp_path):
    """kpt_shape then comes from the objects' keypoints; v 1 (occluded) and an unlabelled 0 0 0 travel too."""
    arrow = "{class: arrow, box: [1, 1, 9, 9], keypoints: [[2, 2, 2], [5.25, 6.5, 1], [0, 0, 0]]}"
    case_file = write_suite(tmp_path, "pose", one_object(arrow))
    back = yolo_round_trip(case_file, tmp_path, "pose", POSE_CLASS_NAMES)
    assert yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())["kpt_shape"] == [3, 3]
    assert back["a"].objects[0].keypoints == ((2, 2, 2), (5.25, 6.5, 1), (0, 0, 0))
    assert back["a"].objects[0].box == (1, 1, 9, 9)


def test_a_crowd_region_given_as_rle_is_left_out_not_refused(tmp_path):
    """COCO's crowd regions are RLE: left out first, they do not stop a segment file's export."""
    crowd = "{class: c, box: [0, 0, 96, 64], crowd: true, mask: {rle: {size: [64, 96], counts: [6144]}}}"
    square = f"{{class: c, box: [10, 10, 30, 20], mask: {SQUARE}}}"
    exported = write_yolo(write_suite(tmp_path, "segment", one_object(f"{square}, {crowd}")), tmp_path / "out")
    assert exported.crowd == ("a",)
    label = (tmp_path / "out" / "labels" / "val" / "a.txt").read_text()
    assert label == "0 0.1041666667 0.15625 0.3125 0.15625 0.3125 0.3125 0.1041666667 0.3125\n"
