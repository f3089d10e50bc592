"""Importing golden cases from COCO JSON and YOLO datasets, and exporting them back to COCO.

The dataset is the project's own generator's (fixtures/shapes.py), written in YOLO form by the
generator and in COCO form from its exact ground truth here; the imported cases run on the shipped
models through pytester, the way a user runs them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys

import numpy as np
import pytest
import yaml
from pycocotools import mask as mask_utils

from harness.cli import main as cli
from harness.core.errors import DatasetError
from harness.golden.coco import read_coco
from harness.golden.record import ModelInfo
from harness.golden.yolo import read_yolo

from conftest import FIXTURES, MODELS

sys.path.insert(0, str(FIXTURES))
from shapes import CLASS_NAMES, make_scene, pixel_box, write_dataset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SCENES = 4
PREDICT = ["--predict", "imgsz=256", "--predict", "conf=0.25", "--predict", "agnostic_nms=true"]
SEG = ModelInfo(str(MODELS / "shapes-seg.pt"), "segment", CLASS_NAMES)
DETECT = ModelInfo(str(MODELS / "shapes-detect.pt"), "detect", CLASS_NAMES)


def coco_from_ground_truth(count: int) -> dict:
    """The generator's val scenes as COCO: tight pixel boxes, polygons; every third shape as RLE instead."""
    coco = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(CLASS_NAMES)],
    }
    for index in range(count):
        scene = make_scene("val", index)
        coco["images"].append(
            {"id": index, "file_name": f"{index:05d}.png", "width": scene.width, "height": scene.height}
        )
        for shape in scene.shapes:
            mask = shape.mask(scene.height, scene.width)
            x1, y1, x2, y2 = pixel_box(mask)
            if len(coco["annotations"]) % 3 == 2:
                rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
                segmentation = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            else:
                segmentation = [[v for point in shape.polygon for v in point]]
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": index,
                    "category_id": CLASS_NAMES.index(shape.class_name) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": int(mask.sum()),
                    "iscrowd": 0,
                    "segmentation": segmentation,
                }
            )
    return coco


@pytest.fixture
def dataset(pytester):
    """The generated dataset in both forms, inside the pytester project: data/data.yaml and data/coco.json."""
    write_dataset(pytester.path / "data", 0, SCENES)
    (pytester.path / "data" / "coco.json").write_text(json.dumps(coco_from_ground_truth(SCENES)))
    (pytester.path / "cases").mkdir()
    return pytester


def test_shipped_models_have_the_generators_class_names():
    assert ModelInfo.load(SEG.spec) == SEG
    assert ModelInfo.load(DETECT.spec) == DETECT


def test_generated_dataset_from_yolo_and_coco_passes_on_the_shipped_models(dataset, capsys):
    for model, suffix in ((SEG, "seg"), (DETECT, "detect")):
        target = ["--model", model.spec, *PREDICT]
        assert (
            cli(["import", "yolo", "data/data.yaml", "--split", "val", "--out", f"cases/yolo-{suffix}.yaml", *target])
            == 0
        )
        coco = ["import", "coco", "data/coco.json", "--images", "data/images/val", "--out", f"cases/coco-{suffix}.yaml"]
        assert cli([*coco, *target]) == 0
    out = capsys.readouterr().out
    shapes = sum(len(make_scene("val", i).shapes) for i in range(SCENES))
    assert f"cases/yolo-seg.yaml: {SCENES} cases, {shapes} objects imported from data/data.yaml" in out

    seg = yaml.safe_load((dataset.path / "cases" / "coco-seg.yaml").read_text())
    assert any("rle" in obj.get("mask", {}) for case in seg["cases"] for obj in case["objects"])
    assert all(
        "mask" not in obj
        for case in yaml.safe_load((dataset.path / "cases" / "yolo-detect.yaml").read_text())["cases"]
        for obj in case["objects"]
    )
    for path in (dataset.path / "cases").glob("*.yaml"):  # the shipped suites' thresholds, not the lenient defaults
        text = path.read_text()
        assert text.count("\ncases:\n") == 1
        path.write_text(text.replace("\ncases:\n", "\nthresholds: {box_iou: 0.75, mask_iou: 0.70}\ncases:\n"))
    result = dataset.runpytest("cases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4 * SCENES)


def test_export_to_coco_and_import_again_gives_identical_cases(dataset, capsys):
    for model, name in ((SEG, "seg"), (DETECT, "detect")):
        cli(["import", "yolo", "data/data.yaml", "--out", f"cases/{name}.yaml", "--model", model.spec, *PREDICT])
        assert cli(["export", "coco", f"cases/{name}.yaml", "--out", f"{name}.json"]) == 0
        back = ["import", "coco", f"{name}.json", "--images", "data/images/val", "--out", f"cases/{name}-back.yaml"]
        assert cli([*back, "--model", model.spec, *PREDICT]) == 0
        first, second = ((dataset.path / "cases" / f"{n}.yaml").read_text() for n in (name, f"{name}-back"))
        # Everything but the comment that says where the cases came from.
        assert first.split("\n", 1)[1] == second.split("\n", 1)[1]
        assert yaml.safe_load(first)["cases"]
    exported = json.loads((dataset.path / "seg.json").read_text())
    assert [c["name"] for c in exported["categories"]] == list(CLASS_NAMES)
    assert exported["images"][0]["vision_harness"] == {"case": "00000"}


def test_class_names_that_the_model_lacks_are_an_error_listing_both_sides(dataset, capsys):
    data = dataset.path / "data" / "data.yaml"
    data.write_text(data.read_text().replace("0: circle", "0: ring"))
    assert cli(["import", "yolo", str(data), "--out", "cases/x.yaml", "--model", SEG.spec]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        "vision-harness: data/data.yaml: classes: 'ring' not classes of shapes-seg.pt; dataset classes: ring, square, "
        "triangle; model classes: circle, square, triangle (class names must match the model's exactly: rename them "
        "in the annotations, or use another model)"
    )
    assert not (dataset.path / "cases" / "x.yaml").exists()


def test_crowd_regions_and_run_length_lists_come_in_and_go_out_unchanged(dataset, capsys):
    coco = coco_from_ground_truth(1)
    width, height = coco["images"][0]["width"], coco["images"][0]["height"]
    counts = [width * 5, 40, width * height - width * 5 - 40]
    coco["annotations"].append(
        {
            "id": 99,
            "image_id": 0,
            "category_id": 1,
            "bbox": [0, 5, 1, 40],
            "iscrowd": 1,
            "segmentation": {"size": [height, width], "counts": counts},
        }
    )
    (dataset.path / "crowd.json").write_text(json.dumps(coco))
    cases = read_coco(dataset.path / "crowd.json", dataset.path / "data" / "images" / "val", SEG)
    crowd = cases[0].objects[-1]
    assert crowd == {
        "class": "circle",
        "box": [0, 5, 1, 45],
        "mask": {"rle": {"size": [height, width], "counts": counts}},
        "crowd": True,
    }
    cli(
        [
            "import",
            "coco",
            "crowd.json",
            "--images",
            "data/images/val",
            "--out",
            "cases/crowd.yaml",
            "--model",
            SEG.spec,
        ]
    )
    cli(["export", "coco", "cases/crowd.yaml", "--out", "again.json"])
    again = json.loads((dataset.path / "again.json").read_text())["annotations"][-1]
    assert (again["iscrowd"], again["segmentation"]["counts"], again["bbox"]) == (1, counts, [0, 5, 1, 40])


def _coco_with(dataset, change) -> DatasetError:
    coco = coco_from_ground_truth(2)
    change(coco)
    (dataset.path / "bad.json").write_text(json.dumps(coco))
    with pytest.raises(DatasetError) as info:
        read_coco(dataset.path / "bad.json", dataset.path / "data" / "images" / "val", SEG)
    return str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["images"][1].update(file_name="gone.png"),
            "bad.json: images[[]1[]]: image not found: *gone.png (file names are relative to --images)",
        ),
        (
            lambda c: c["images"][0].update(width=999),
            "bad.json: images[[]0[]]: the file says 999x* but 00000.png is *x* as displayed*",
        ),
        (
            lambda c: c["annotations"][0].update(segmentation=[[1, 2, 3, 4]]),
            "bad.json: annotations[[]0[]] (id 1, image '00000.png').segmentation[[]0[]]: a polygon needs at least 3 "
            "points, got 2",
        ),
        (
            lambda c: c["annotations"][0].update(category_id=42),
            "bad.json: annotations[[]0[]] (id 1, image '00000.png').category_id: 42 is not the id of any category",
        ),
        (
            lambda c: c["annotations"][0].update(bbox=[1, 2, 0, 5]),
            "bad.json: annotations[[]0[]] *.bbox: the box has no area (0 x 5): fix or delete the annotation",
        ),
        (
            lambda c: c["annotations"][0].update(image_id=7),
            "bad.json: annotations[[]0[]].image_id: 7 is not the id of any image",
        ),
        (lambda c: c.pop("categories"), "bad.json: categories: missing: *"),
        (lambda c: c["images"][1].update(id=0), "bad.json: images[[]1[]].id: 0 is the id of an earlier image too"),
    ],
)
def test_a_broken_coco_file_is_one_line_naming_file_record_and_field(dataset, change, message):
    import fnmatch

    text = _coco_with(dataset, change)
    assert "\n" not in text
    assert fnmatch.fnmatchcase(text, message), text


def test_coco_that_is_not_json_names_line_and_column(tmp_path):
    (tmp_path / "bad.json").write_text('{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(DatasetError, match=r"bad.json: not valid JSON: line 2, column 12: "):
        read_coco(tmp_path / "bad.json", tmp_path, SEG)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("0 0.5 0.5 0.2\n", "line 1: expected 4 numbers (box) or 3+ x y pairs (polygon), got 3"),
        ("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.1 0.1\n", "line 2: class 7 is not an index of data.yaml's names (0-2)"),
        ("1 12 30 40 50\n", "line 1: coordinates must be normalised to [0, 1]; these look like pixels"),
        ("1 a b c d\n", "line 1: expected numbers, got '1 a b c d'"),
        ("2 0.1 0.1 0.2 0.2 0.3 0.3\n", "line 1: the polygon has zero area (its points are collinear)"),
    ],
)
def test_a_broken_yolo_label_names_the_label_file_and_line(dataset, label, message):
    (dataset.path / "data" / "labels" / "val" / "00001.txt").write_text(label)
    with pytest.raises(DatasetError) as info:
        read_yolo(dataset.path / "data" / "data.yaml", "val", SEG)
    assert str(info.value).endswith(f"00001.txt: {message}")


def test_a_yolo_split_that_data_yaml_lacks_names_the_splits_it_has(dataset):
    with pytest.raises(DatasetError, match=r"data.yaml: test: missing: the file names the splits train, val"):
        read_yolo(dataset.path / "data" / "data.yaml", "test", SEG)


def test_import_appends_to_an_existing_file_and_keeps_it(dataset, capsys):
    cli(["import", "yolo", "data/data.yaml", "--out", "cases/s.yaml", "--model", SEG.spec, *PREDICT])
    path = dataset.path / "cases" / "s.yaml"
    path.write_text(path.read_text().replace("cases:\n", "# mine\ncases:\n"))
    assert (
        cli(
            [
                "import",
                "coco",
                "data/coco.json",
                "--images",
                "data/images/val",
                "--out",
                "cases/s.yaml",
                "--tag",
                "coco",
            ]
        )
        == 0
    )
    document = yaml.safe_load(path.read_text())
    names = [case["name"] for case in document["cases"]]
    assert names[:SCENES] == [f"{i:05d}" for i in range(SCENES)]
    assert names[SCENES:] == [f"{i:05d}-2" for i in range(SCENES)]  # unique names, the file's own kept
    assert all(case["tags"] == ["coco"] for case in document["cases"][SCENES:])
    assert "# mine" in path.read_text()
    # Another model for an existing file, or predict arguments, would make its cases disagree.
    other = ["import", "coco", "data/coco.json", "--images", "data/images/val", "--out", "cases/s.yaml"]
    assert cli([*other, "--model", DETECT.spec]) == 2
    assert "the file runs" in capsys.readouterr().err
    assert cli([*other, "--predict", "conf=0.5"]) == 2
    assert "the file sets its own predict arguments: edit them there" in capsys.readouterr().err


def test_import_help_gives_an_example(capsys):
    with pytest.raises(SystemExit):
        cli(["import", "coco", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "vision-harness import coco export.json --images frames/ --out cases/night.yaml" in out
    assert "--tag TAG" in out


def test_cases_are_added_to_a_pinned_file_only_from_the_pinned_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt").write_bytes((MODELS / "shapes-detect.pt").read_bytes())
    (tmp_path / "cases.yaml").write_text("model: {path: model.pt, sha256: " + "a" * 64 + "}\ncases: []\n")
    shutil.copy(FIXTURES / "images" / "golden-001.png", tmp_path / "a.png")
    assert cli(["new", "a.png", "--out", "cases.yaml"]) == 2
    assert capsys.readouterr().err == (
        "vision-harness: cases.yaml: model.sha256: model.pt is not the model the file pins (sha256 " + "a" * 64 + ")\n"
    )
    pinned = hashlib.sha256((tmp_path / "model.pt").read_bytes()).hexdigest()
    (tmp_path / "cases.yaml").write_text("model: {path: model.pt, sha256: " + pinned + "}\ncases: []\n")
    assert cli(["new", "a.png", "--out", "cases.yaml"]) == 0
    assert yaml.safe_load((tmp_path / "cases.yaml").read_text())["cases"][0]["name"] == "a"


def test_new_makes_the_folder_of_a_new_case_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(MODELS / "shapes-detect.pt", tmp_path / "model.pt")
    shutil.copy(FIXTURES / "images" / "golden-001.png", tmp_path / "a.png")
    assert cli(["new", "a.png", "--model", "model.pt", "--out", "suites/street/cases.yaml"]) == 0
    document = yaml.safe_load((tmp_path / "suites" / "street" / "cases.yaml").read_text())
    assert document["model"] == "../../model.pt" and document["cases"][0]["image"] == "../../a.png"
