"""obb and classify cases without a model: loading, errors, verdicts, failure tables, and the rot90
variant of an obb case checked against the generator's own picture."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image

from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case, LabelSpec, VariantSpec
from harness.core.errors import DatasetError
from harness.core.oriented import xywhr_to_corners
from harness.core.transforms import Step, Transform
from harness.evaluation.baseline import case_deltas, case_record
from harness.evaluation.label_metrics import confusion, label_suite_metrics
from harness.evaluation.prediction_cache import predictions_from_json, predictions_to_json
from harness.evaluation.predictions import Predictions
from harness.evaluation.task_verdicts import judge_predictions
from harness.evaluation.verdict_text import format_verdict, summarize_verdict
from harness.golden.dota import read_dota
from harness.golden.image_folder import read_image_folder
from harness.golden.record import ModelInfo, NewCase, add_cases
from harness.golden.yolo import read_yolo
from harness.robustness.variants import make_variant

from conftest import FIXTURES

sys.path.insert(0, str(FIXTURES))
from oriented_shapes import (
    CLASSIFY_CLASS_NAMES,
    OBB_CLASS_NAMES,
    make_oriented_scene,
    render_oriented,
    write_classify_dataset,
    write_obb_dataset,
)

WIDTH, HEIGHT = 320, 240


def write_suite(folder: Path, body: str, task: str) -> Path:
    Image.new("RGB", (WIDTH, HEIGHT)).save(folder / "image.png")
    path = folder / "cases.yaml"
    path.write_text(f"model: model.pt\ntask: {task}\ncases:\n{body}")
    return path


def load(folder: Path, body: str, task: str) -> list:
    return list(load_case_file(write_suite(folder, body, task), check_model=False).cases)


def test_obb_as_corners_or_xywhr_and_thresholds(tmp_path):
    body = """\
  - name: turned
    image: image.png
    thresholds: {obb_iou: 0.8}
    objects:
      - class: bar
        obb: [[100, 50], [160, 80], [150, 100], [90, 70]]
      - class: bar
        obb: {xywhr: [200, 120, 60, 20, 0.5]}
        obb_iou: 0.6
"""
    (case,) = load(tmp_path, body, "obb")
    first, second = case.objects
    assert first.obb == (100.0, 50.0, 160.0, 80.0, 150.0, 100.0, 90.0, 70.0)
    assert first.box == (90.0, 50.0, 160.0, 100.0)  # the corners' bounds
    assert first.obb_iou == 0.8
    assert second.obb == pytest.approx(tuple(xywhr_to_corners(np.array([[200, 120, 60, 20, 0.5]]))[0]))
    assert second.obb_iou == 0.6


@pytest.mark.parametrize(
    ("obj", "field", "phrase"),
    [
        ("obb: [[0, 0], [10, 0], [10, 10]]", "objects[0].obb", "four corners"),
        ("obb: [[0, 0], [10, 10], [10, 0], [0, 10]]", "objects[0].obb", "edges cross"),
        (
            "obb: [[330, 0], [340, 0], [340, 10], [330, 10]]",
            "objects[0].obb",
            "centre (335, 5) lies outside the 320x240",
        ),
        ("obb: {xywhr: [50, 50, 0, 10, 0]}", "objects[0].obb.xywhr", "must be > 0"),
        ("box: [0, 0, 10, 10]", "objects[0].box", "carries `obb:`"),
    ],
)
def test_a_bad_oriented_box_names_its_field(tmp_path, obj, field, phrase):
    body = f"  - name: bad\n    image: image.png\n    objects:\n      - class: bar\n        {obj}\n"
    (broken,) = load(tmp_path, body, "obb")
    assert isinstance(broken, BrokenCase)
    assert broken.error.field == field
    assert phrase in str(broken.error)


def test_labels_and_their_defaults(tmp_path):
    body = """\
  - name: one
    image: image.png
    label: cat
  - name: either
    image: image.png
    labels: [cat, lynx]
    min_confidence: 0.6
    top_k: 3
"""
    one, either = load(tmp_path, body, "classify")
    assert one.label == LabelSpec(("cat",), 0.0, 1) and one.objects == ()
    assert either.label == LabelSpec(("cat", "lynx"), 0.6, 3)


@pytest.mark.parametrize(
    ("lines", "task", "field", "phrase"),
    [
        ("    label: cat\n    objects: []\n", "classify", "objects", "not objects"),
        ("    top_k: 2\n", "classify", "label", "one of them"),
        ("    label: cat\n    top_k: 6\n", "classify", "top_k", "from 1 to 5"),
        ("    label: cat\n    min_confidence: 1.5\n", "classify", "min_confidence", "outside"),
        ("    label: cat\n    objects: []\n", "detect", "label", "only a classify case"),
    ],
)
def test_a_bad_label_names_its_field(tmp_path, lines, task, field, phrase):
    (broken,) = load(tmp_path, f"  - name: bad\n    image: image.png\n{lines}", task)
    assert isinstance(broken, BrokenCase)
    assert broken.error.field == field
    assert phrase in str(broken.error)


def ranked(*pairs) -> Predictions:
    return Predictions(np.zeros((0, 4)), (), np.zeros(0), None, (WIDTH, HEIGHT), ranked=tuple(pairs))


def classify_case(name: str, labels: tuple[str, ...], min_confidence=0.0, top_k=1, tags=()) -> Case:
    return Case(
        name=name,
        file=Path("cases/classify.yaml"),
        image=Path("image.png"),
        image_size=(WIDTH, HEIGHT),
        tags=tags,
        objects=(),
        max_extra=0,
        model=None,
        task="classify",
        label=LabelSpec(labels, min_confidence, top_k),
    )


def test_label_verdicts_and_the_top_five_in_the_report():
    scores = (("dog", 0.5), ("cat", 0.3), ("fox", 0.1), ("owl", 0.05), ("bat", 0.03))
    wrong = judge_predictions(classify_case("c1", ("cat",)), ranked(*scores), use_masks=False)
    assert not wrong.passed
    assert summarize_verdict(wrong) == "wrong label: top class dog (0.50), expected cat"
    report = format_verdict(wrong, model_name="m.pt")
    for name, score in scores:
        assert name in report and f"{score:.3f}" in report
    cat_row = next(line for line in report.splitlines() if line.split()[:2] == ["2", "cat"])
    assert cat_row.split() == ["2", "cat", "0.300", "<-", "expected"]
    within = judge_predictions(classify_case("c2", ("cat",), top_k=2), ranked(*scores), use_masks=False)
    assert within.passed
    unsure = judge_predictions(
        classify_case("c3", ("cat",), min_confidence=0.4, top_k=2), ranked(*scores), use_masks=False
    )
    assert summarize_verdict(unsure) == "confidence low: cat scored 0.30 < 0.40"
    either = judge_predictions(classify_case("c4", ("cat", "dog")), ranked(*scores), use_masks=False)
    assert either.passed


def test_label_metrics_top1_top5_and_per_class():
    cases = [
        (("cat",), (("cat", 0.9), ("dog", 0.1))),
        (("cat",), (("dog", 0.6), ("cat", 0.4))),
        (("dog",), (("dog", 0.7), ("cat", 0.3))),
        (("owl",), (("dog", 0.5), ("cat", 0.3))),  # owl is not among the top 5 at all
    ]
    verdicts = [
        judge_predictions(
            classify_case(f"c{i}", labels, tags=("night",) if i < 2 else ()), ranked(*pairs), use_masks=False
        )
        for i, (labels, pairs) in enumerate(cases)
    ]
    metrics = label_suite_metrics(verdicts)
    assert metrics.values["label.top1"] == 0.5
    assert metrics.values["label.top5"] == 0.75
    assert metrics.per_class["cat"] == {"label.precision": 1.0, "label.recall": 0.5, "label.f1": pytest.approx(2 / 3)}
    assert metrics.per_class["dog"]["label.precision"] == pytest.approx(1 / 3)
    assert metrics.per_class["owl"]["label.recall"] == 0.0
    assert metrics.lookup("per_tag.night.label.top1") == 0.5
    classes, matrix = confusion(verdicts)
    assert classes == ["cat", "dog", "owl"]
    assert matrix == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_obb_and_ranked_predictions_survive_the_cache():
    obb = Predictions(
        np.zeros((1, 4)), ("bar",), np.array([0.7]), None, (WIDTH, HEIGHT), obb=np.array([[1.5, 2, 3, 4, 0.1]])
    )
    again = predictions_from_json(predictions_to_json(obb))
    assert again.obb.tolist() == [[1.5, 2.0, 3.0, 4.0, 0.1]] and again.ranked is None
    labels = ranked(("cat", 0.75), ("dog", 0.25))
    assert predictions_from_json(predictions_to_json(labels)).ranked == (("cat", 0.75), ("dog", 0.25))
    broken = predictions_to_json(labels) | {"ranked": [["cat", 1.5]]}
    with pytest.raises(ValueError):
        predictions_from_json(broken)


def pixels_inside(corners, width: int, height: int) -> np.ndarray:
    """The pixels whose centres lie inside the polygon: a turn of the picture maps centres to centres."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    return shapely.contains_xy(shapely.Polygon(np.reshape(corners, (-1, 2))), xs, ys)


@pytest.mark.parametrize("index", [1, 4, 7])
def test_a_rot90_variant_moves_the_generators_corners_exactly(tmp_path, index):
    scene = make_oriented_scene("golden", index)
    assert scene.shapes, "the chosen golden scenes hold shapes"
    picture = render_oriented(scene)
    Image.fromarray(picture).save(tmp_path / "scene.png")
    objects = "".join(
        f"      - class: {item.class_name}\n        obb: {[list(p) for p in item.corners]}\n" for item in scene.shapes
    )
    path = tmp_path / "cases.yaml"
    path.write_text(f"model: model.pt\ntask: obb\ncases:\n  - name: s\n    image: scene.png\n    objects:\n{objects}")
    (case,) = load_case_file(path, check_model=False).cases
    variant = make_variant(case, VariantSpec(Transform((Step("rot90"),)), "transforms[0]"))
    assert variant.image_size == (scene.height, scene.width)
    for item, moved in zip(scene.shapes, variant.objects, strict=True):
        # A counter-clockwise quarter turn takes (x, y) to (y, width - x): exactly, corner by corner.
        assert moved.obb == tuple(v for x, y in item.corners for v in (y, scene.width - x))
        # The generator's own box, turned with the picture, covers the same pixels as the moved corners.
        turned = np.rot90(pixels_inside(item.corners, scene.width, scene.height))
        assert turned.any() and np.array_equal(turned, pixels_inside(moved.obb, scene.height, scene.width))
        # ... and the shape itself, turned with the picture, lies inside the moved box, touching it.
        outline = variant.transform.map_polygon([v for p in item.shape.polygon for v in p], (scene.width, scene.height))
        box = shapely.Polygon(np.reshape(moved.obb, (4, 2)))
        assert box.buffer(0.02).covers(shapely.Polygon(np.reshape(outline, (-1, 2))))
        assert shapely.Polygon(np.reshape(outline, (-1, 2))).area / box.area > 0.45  # it fills the box
    # The variant's picture is the generator's picture turned.
    assert np.array_equal(variant.transform.apply_image(picture), np.rot90(picture))


def test_an_obb_failure_table_reads_like_a_report(tmp_path):
    body = "  - name: t\n    image: image.png\n    objects:\n"
    body += "      - class: bar\n        obb: {xywhr: [100, 100, 60, 20, 0.5]}\n"
    (case,) = load(tmp_path, body, "obb")
    turned = Predictions(
        np.zeros((2, 4)),
        ("bar", "bar"),
        np.array([0.9, 0.4]),
        None,
        (WIDTH, HEIGHT),
        obb=np.array([[100, 100, 60, 20, 0.5 + math.pi / 2], [250, 50, 20, 20, 0.0]]),
    )
    verdict = judge_predictions(case, turned, use_masks=False)
    assert summarize_verdict(verdict).startswith("1 obb IoU low, 1 extra, max_extra 0")
    report = format_verdict(verdict, model_name="m.pt")
    assert "obb IoU" in report and "FAIL: obb IoU low" in report
    assert "(100, 100) 60x20 29°" in report  # expected: centre, sides, angle in degrees
    assert "unmatched predictions: 1 (max_extra 0: FAIL)" in report


def test_yolo_obb_labels_import_as_oriented_boxes_that_load(tmp_path):
    data = write_obb_dataset(tmp_path / "data", n_train=0, n_val=4)
    model_file = tmp_path / "obb.pt"
    model_file.write_bytes(b"stand-in")  # add_cases names it; nothing loads it
    model = ModelInfo(str(model_file), "obb", OBB_CLASS_NAMES)
    cases = read_yolo(data, "val", model)
    scenes = [make_oriented_scene("val", index) for index in range(4)]
    for case, scene in zip(cases, scenes, strict=True):
        assert [obj["class"] for obj in case.objects] == [item.class_name for item in scene.shapes]
        for obj, item in zip(case.objects, scene.shapes, strict=True):
            assert "box" not in obj and "mask" not in obj
            # Labels keep 6 decimals of the normalised corners: within a thousandth of a pixel here.
            assert np.allclose(obj["obb"], item.corners, atol=2e-3)
    out = tmp_path / "cases" / "imported.yaml"
    add_cases(out, [NewCase(c.image, c.objects) for c in cases], model=model, predict={}, header="imported")
    loaded = load_case_file(out, check_model=False)
    assert loaded.task == "obb"
    assert [len(case.objects) for case in loaded.cases] == [len(scene.shapes) for scene in scenes]
    assert all(obj.obb is not None for case in loaded.cases for obj in case.objects)


def test_an_image_folder_tree_imports_as_classify_cases_that_load(tmp_path):
    root = write_classify_dataset(tmp_path / "tree", n_train=0, n_val=10)
    model_file = tmp_path / "cls.pt"
    model_file.write_bytes(b"stand-in")  # add_cases names it; nothing loads it
    model = ModelInfo(str(model_file), "classify", CLASSIFY_CLASS_NAMES)
    cases = read_image_folder(root, "val", model)
    assert len(cases) == 10
    assert all(case.image.parent.name == case.label and case.objects == () for case in cases)
    out = tmp_path / "cases" / "labels.yaml"
    add_cases(out, cases, model=model, predict={"imgsz": 64}, header="imported")
    loaded = load_case_file(out, check_model=False)
    assert loaded.task == "classify"
    assert [case.label.labels for case in loaded.cases] == [(case.label,) for case in cases]
    with pytest.raises(DatasetError, match="not classes of"):
        read_image_folder(root, "val", ModelInfo(str(model_file), "classify", ("circle",)))
    with pytest.raises(DatasetError, match="an ImageFolder tree holds labels"):
        read_image_folder(root, "val", ModelInfo(str(model_file), "obb", CLASSIFY_CLASS_NAMES))


def test_dota_labels_import_as_oriented_boxes_with_difficult_ones_as_crowd(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "images").mkdir()
    scenes = {index: make_oriented_scene("golden", index) for index in (1, 4)}
    for index, scene in scenes.items():
        Image.fromarray(render_oriented(scene)).save(tmp_path / "images" / f"p{index}.png")
        lines = ["imagesource:generator", "gsd:0.5"]
        for k, item in enumerate(scene.shapes):
            corners = " ".join(f"{x:g} {y:g}" for x, y in item.corners)
            lines.append(f"{corners} {item.class_name} {int(k == 0)}")  # the first object is difficult
        (tmp_path / "labels" / f"p{index}.txt").write_text("\n".join(lines) + "\n")
    model_file = tmp_path / "obb.pt"
    model_file.write_bytes(b"stand-in")  # add_cases names it; nothing loads it
    model = ModelInfo(str(model_file), "obb", OBB_CLASS_NAMES)
    cases = read_dota(tmp_path / "labels", tmp_path / "images", model)
    out = tmp_path / "cases" / "dota.yaml"
    add_cases(out, cases, model=model, predict={}, header="imported")
    loaded = load_case_file(out, check_model=False)
    for case, scene in zip(loaded.cases, scenes.values(), strict=True):
        assert [obj.class_name for obj in case.objects] == [item.class_name for item in scene.shapes]
        for k, (obj, item) in enumerate(zip(case.objects, scene.shapes, strict=True)):
            assert obj.obb == tuple(v for point in item.corners for v in point)  # pixels, exactly
            assert obj.crowd == (k == 0)
    (tmp_path / "labels" / "p1.txt").write_text("1 2 3 4 5 6 7 x ellipse 0\n")
    with pytest.raises(DatasetError, match="line 1: expected 8 numbers before the category"):
        read_dota(tmp_path / "labels", tmp_path / "images", model)


def test_a_baseline_tracks_each_oriented_box_s_polygon_iou(tmp_path):
    body = "  - name: t\n    image: image.png\n    objects:\n"
    body += "      - class: bar\n        obb: {xywhr: [100, 100, 60, 20, 0.5]}\n"
    (case,) = load(tmp_path, body, "obb")

    def turned(angle: float) -> Predictions:
        xywhr = np.array([[100, 100, 60, 20, angle]])
        return Predictions(np.zeros((1, 4)), ("bar",), np.array([0.9]), None, (WIDTH, HEIGHT), obb=xywhr)

    then = judge_predictions(case, turned(0.5), use_masks=False)
    now = judge_predictions(case, turned(0.9), use_masks=False)
    record = case_record(then)
    assert record["objects"][0]["obb_iou"] == pytest.approx(1.0)
    (obb_delta,) = [d for d in case_deltas(record, now) if "obb iou" in d.name]
    assert obb_delta.now == pytest.approx(now.objects[0].obb_iou) and obb_delta.change < -0.3


def test_top1_and_top5_are_resampled_and_equal_the_suite_with_every_case_drawn_once():
    from harness.evaluation.bootstrap import bootstrap, resampled_values

    ranked = [(("cat",), [("cat", 0.9), ("dog", 0.1)]), (("cat",), [("dog", 0.6), ("cat", 0.4)])]
    ranked += [(("dog",), [("owl", 0.7), ("cat", 0.2)]), (("owl",), [("owl", 0.8), ("dog", 0.2)])]
    verdicts = [
        judge_predictions(
            Case(
                name=f"c{i}",
                file=Path("cases/c.yaml"),
                image=Path(f"{i}.png"),
                image_size=(WIDTH, HEIGHT),
                tags=(),
                objects=(),
                max_extra=0,
                model=None,
                task="classify",
                label=LabelSpec(labels, top_k=1),
            ),
            Predictions(np.zeros((0, 4)), (), np.zeros(0), None, (WIDTH, HEIGHT), ranked=tuple(pairs)),
            use_masks=False,
        )
        for i, (labels, pairs) in enumerate(ranked)
    ]
    metrics = label_suite_metrics(verdicts)
    assert (metrics.values["label.top1"], metrics.values["label.top5"]) == (0.5, 0.75)
    once = resampled_values(metrics.samples, np.ones((1, 4), dtype=np.int64))
    assert once["label.top1"][0] == 0.5 and once["label.top5"][0] == 0.75
    # Only case 0 drawn, four times: every resampled share is that case's own.
    only_first = resampled_values(metrics.samples, np.array([[4, 0, 0, 0]]))
    assert only_first["label.top1"][0] == 1.0 and only_first["label.top5"][0] == 1.0
    low, high = bootstrap(metrics.samples, 400).intervals(0.95)["label.top1"]
    assert 0.0 <= low < 0.5 < high <= 1.0
