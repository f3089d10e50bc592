"""OBB suite metrics: COCO mAP with polygon IoU, checked against an independent loop written here
(shapely polygons, a plain greedy match and AP loop) and, for boxes that are not turned, against
hotcoco's bbox mAP (COCO's own algorithm on axis-aligned boxes)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.casefile.schema import Case, ExpectedObject
from harness.core.oriented import corners_bounds, xywhr_to_corners
from harness.evaluation.metrics import coco_inputs, coco_map_values
from harness.evaluation.oriented_metrics import oriented_suite_metrics
from harness.evaluation.predictions import Predictions
from harness.evaluation.task_verdicts import judge_predictions

SIZE = (320, 240)
CLASSES = ("a", "b")
THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALLS = np.linspace(0.0, 1.0, 101)


def make_case(index: int, objects: list[tuple[str, tuple, bool]], tags=()) -> Case:
    expected = []
    for class_name, xywhr, crowd in objects:
        corners = tuple(float(v) for v in xywhr_to_corners(np.array([xywhr]))[0])
        expected.append(
            ExpectedObject(class_name, corners_bounds(corners), 0.5, 0.5, crowd=crowd, obb=corners, obb_iou=0.5)
        )
    return Case(
        name=f"image-{index}",
        file=Path("cases/obb.yaml"),
        image=Path(f"image-{index}.png"),
        image_size=SIZE,
        tags=tuple(tags),
        objects=tuple(expected),
        max_extra=0,
        model=None,
        task="obb",
        predict={},
    )


def make_predictions(found: list[tuple[str, tuple, float]]) -> Predictions:
    xywhr = np.array([item[1] for item in found], dtype=np.float64).reshape(-1, 5)
    corners = xywhr_to_corners(xywhr)
    boxes = np.stack(
        [corners[:, 0::2].min(1), corners[:, 1::2].min(1), corners[:, 0::2].max(1), corners[:, 1::2].max(1)], 1
    )
    return Predictions(
        boxes=boxes,
        class_names=tuple(item[0] for item in found),
        scores=np.array([item[2] for item in found], dtype=np.float64),
        masks=None,
        image_size=SIZE,
        obb=xywhr,
    )


@st.composite
def scenes(draw, *, turned: bool = True, crowds: bool = False):
    """Images of ground truth and predictions: most truths found, nudged; some missed; some extras."""
    images = []
    for _ in range(draw(st.integers(1, 5))):
        objects, found = [], []
        for _ in range(draw(st.integers(0, 4))):
            cx, cy = draw(st.floats(40, 280)), draw(st.floats(40, 200))
            w, h = draw(st.floats(8, 80)), draw(st.floats(8, 80))
            r = draw(st.floats(0, math.pi)) if turned else 0.0
            class_name = draw(st.sampled_from(CLASSES))
            objects.append((class_name, (cx, cy, w, h, r), crowds and draw(st.booleans())))
            if draw(st.floats(0, 1)) < 0.8:
                nudged = (
                    cx + draw(st.floats(-6, 6)),
                    cy + draw(st.floats(-6, 6)),
                    w * draw(st.floats(0.8, 1.2)),
                    h * draw(st.floats(0.8, 1.2)),
                    r + (draw(st.floats(-0.3, 0.3)) if turned else 0.0),
                )
                found.append(
                    (
                        draw(st.sampled_from(CLASSES)) if draw(st.booleans()) else class_name,
                        nudged,
                        draw(st.floats(0.01, 1)),
                    )
                )
        for _ in range(draw(st.integers(0, 2))):
            box = (draw(st.floats(20, 300)), draw(st.floats(20, 220)), draw(st.floats(5, 60)), draw(st.floats(5, 60)))
            found.append(
                (
                    draw(st.sampled_from(CLASSES)),
                    (*box, draw(st.floats(0, math.pi)) if turned else 0.0),
                    draw(st.floats(0.01, 1)),
                )
            )
        images.append((objects, found))
    return images


def verdicts_of(images):
    return [
        judge_predictions(make_case(i, objects), make_predictions(found), use_masks=False)
        for i, (objects, found) in enumerate(images)
    ]


def polygon(xywhr) -> shapely.Polygon:
    cx, cy, w, h, r = xywhr
    rectangle = shapely.affinity.rotate(shapely.box(-w / 2, -h / 2, w / 2, h / 2), r, origin=(0, 0), use_radians=True)
    return shapely.affinity.translate(rectangle, cx, cy)


def reference_ap(images, class_name: str, threshold: float) -> float | None:
    """Average precision of one class at one IoU threshold, the plain way: greedy matching per image
    in score order, then precision and recall down the pooled list, 101-point interpolation."""
    pooled = []  # (score, is true positive), in image order, then score order within an image
    truths = 0
    for objects, found in images:
        gts = [polygon(xywhr) for name, xywhr, _ in objects if name == class_name]
        truths += len(gts)
        mine = sorted(
            [(score, polygon(xywhr)) for name, xywhr, score in found if name == class_name], key=lambda d: -d[0]
        )
        taken = [False] * len(gts)
        for score, shape in mine:
            best, best_iou = None, threshold
            for g, truth in enumerate(gts):
                inter = shape.intersection(truth).area
                iou = inter / (shape.area + truth.area - inter)
                if not taken[g] and iou >= best_iou:
                    best, best_iou = g, iou
            if best is not None:
                taken[best] = True
            pooled.append((score, best is not None))
    if truths == 0:
        return None
    pooled.sort(key=lambda d: -d[0])  # stable: ties keep the image order
    tp = fp = 0
    precision, recall = [], []
    for _, hit in pooled:
        tp, fp = tp + hit, fp + (not hit)
        precision.append(tp / (tp + fp))
        recall.append(tp / truths)
    points = [max((p for p, r in zip(precision, recall, strict=True) if r >= level), default=0.0) for level in RECALLS]
    return sum(points) / len(points)


def reference_map(images, thresholds) -> tuple[float | None, dict[str, float]]:
    per_class = {}
    for class_name in CLASSES:
        values = [reference_ap(images, class_name, t) for t in thresholds]
        if values[0] is not None:
            per_class[class_name] = sum(values) / len(values)
    overall = sum(per_class.values()) / len(per_class) if per_class else None
    return overall, per_class


@settings(max_examples=150, deadline=None)
@given(images=scenes())
def test_obb_map_equals_an_independent_reference(images):
    metrics = oriented_suite_metrics(verdicts_of(images))
    for name, thresholds in (
        ("obb.map50_95", THRESHOLDS),
        ("obb.map50", THRESHOLDS[:1]),
        ("obb.map75", THRESHOLDS[5:6]),
    ):
        expected, per_class = reference_map(images, thresholds)
        if expected is None:
            assert name not in metrics.values
            continue
        assert metrics.values[name] == pytest.approx(expected, abs=1e-9)
        for class_name, value in per_class.items():
            assert metrics.per_class[class_name][name] == pytest.approx(value, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(images=scenes(turned=False, crowds=True))
def test_unturned_obb_map_equals_cocos_bbox_map(images):
    """Boxes at angle 0 are axis-aligned boxes: COCO's bbox mAP (hotcoco), crowd regions included."""
    verdicts = verdicts_of(images)
    metrics = oriented_suite_metrics(verdicts)
    gt, dt = coco_inputs(verdicts, sorted(CLASSES), "box")
    coco = coco_map_values(gt, dt, "box")
    for name in ("map50_95", "map50", "map75"):
        if f"box.{name}" in coco:
            assert metrics.values[f"obb.{name}"] == pytest.approx(coco[f"box.{name}"], abs=1e-9)
        else:
            assert f"obb.{name}" not in metrics.values


def test_counts_tags_and_gate_paths():
    truth = ("a", (100, 100, 60, 20, 0.5), False)
    images = [
        ([truth], [("a", (101, 100, 60, 20, 0.5), 0.9)]),  # found
        ([truth], [("a", (100, 100, 60, 20, 0.5 + math.pi / 2), 0.8)]),  # turned the wrong way: IoU low
        ([], [("b", (50, 50, 10, 10, 0.0), 0.7)]),  # an extra
    ]
    verdicts = [
        judge_predictions(
            make_case(i, objects, tags=("night",) if i == 0 else ()), make_predictions(found), use_masks=False
        )
        for i, (objects, found) in enumerate(images)
    ]
    assert [v.passed for v in verdicts] == [True, False, False]
    assert verdicts[1].objects[0].problems == ["obb IoU low"]
    metrics = oriented_suite_metrics(verdicts)
    assert metrics.values["obb.recall"] == 0.5
    assert metrics.values["obb.precision"] == pytest.approx(1 / 3)
    assert metrics.lookup("per_class.a.obb.recall") == 0.5
    assert metrics.lookup("per_tag.night.obb.recall") == 1.0
    assert metrics.lookup("per_tag.night.obb.map50") == pytest.approx(1.0)
    assert len(metrics.samples) == 3  # the bootstrap's per-case data: one per case
