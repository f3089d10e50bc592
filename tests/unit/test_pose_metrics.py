"""Keypoint mAP equals pycocotools' COCOeval(iouType="keypoints") to 1e-6 on hypothesis-made suites:
tied scores, unlabelled and occluded keypoints, crowd regions, several objects and classes, tags.

The reference is built here from the scenario (COCO dicts), never from the harness' own COCO inputs.
"""

import contextlib
import copy
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from harness.casefile.schema import Case, ExpectedObject
from harness.core.keypoints import KeypointSpec, default_sigmas
from harness.evaluation.bootstrap import resampled_values
from harness.evaluation.matching import match_objects
from harness.evaluation.metrics import suite_metrics
from harness.evaluation.predictions import Predictions

TOLERANCE = 1e-6
SIZE = (200, 160)
CLASSES = ("arrow", "hand")
TAGS = ("night", "far")
SCORES = (0.3, 0.5, 0.9)  # a tiny set, so that scores tie within and across images
COUNT = 4
# summarize()'s keypoint stats 0-4, and where each lives in precision[T, R, K, A, M].
STATS = (("map50_95", None, 0), ("map50", 0.5, 0), ("map75", 0.75, 0), ("map_medium", None, 1), ("map_large", None, 2))


@dataclasses.dataclass
class Scenario:
    # Per case: expected (class, box, keypoints or None for a crowd region, area or None), predicted
    # (class, keypoints K x 3, score) and tags.
    expected: list[list[tuple]] = dataclasses.field(default_factory=list)
    predicted: list[list[tuple]] = dataclasses.field(default_factory=list)
    tags: list[tuple[str, ...]] = dataclasses.field(default_factory=list)
    sigmas: tuple[float, ...] | None = None  # None: the defaults (1/K each)


@st.composite
def pose_scenarios(draw) -> Scenario:
    width, height = SIZE
    scenario = Scenario()
    if draw(st.booleans()):
        scenario.sigmas = tuple(draw(st.lists(st.sampled_from([0.03, 0.05, 0.08]), min_size=COUNT, max_size=COUNT)))
    for _ in range(draw(st.integers(1, 4))):
        expected = []
        for _ in range(draw(st.integers(0, 3))):
            x1, y1 = draw(st.integers(0, width - 60)), draw(st.integers(0, height - 60))
            # Sizes that span COCO's small, medium and large ranges (32^2 and 96^2 square pixels).
            w, h = draw(st.integers(10, 60)), draw(st.integers(10, 60))
            crowd = draw(st.integers(0, 6)) == 0
            keypoints = None
            if not crowd:
                keypoints = []
                for _ in range(COUNT):
                    v = draw(st.sampled_from([0, 1, 2, 2]))
                    x, y = float(draw(st.integers(x1, x1 + w))), float(draw(st.integers(y1, y1 + h)))
                    keypoints.append((x, y, v) if v else (0.0, 0.0, 0))
            area = float(draw(st.integers(50, 12000))) if draw(st.booleans()) else None
            expected.append((draw(st.sampled_from(CLASSES)), (x1, y1, x1 + w, y1 + h), keypoints, area))
        predicted = []
        for _ in range(draw(st.integers(0, 4))):
            source = draw(st.sampled_from(expected)) if expected and draw(st.integers(0, 3)) else None
            if source is not None and source[2] is not None:
                noise = draw(st.sampled_from([0.0, 1.0, 4.0, 12.0]))
                base = [(x if v else source[1][0] + 5, y if v else source[1][1] + 5) for x, y, v in source[2]]
                points = [(x + noise * ((k % 3) - 1), y + noise * ((k % 2) * 2 - 1)) for k, (x, y) in enumerate(base)]
                name = source[0] if draw(st.integers(0, 4)) else draw(st.sampled_from(CLASSES))
            elif source is not None:  # inside a crowd region: COCO lets any number of detections land there
                (x1, y1, _, _), step = source[1], draw(st.integers(1, 3))
                points = [(float(x1 + step * k), float(y1 + step * k)) for k in range(COUNT)]
                name = source[0]
            else:
                x0, y0 = draw(st.integers(0, width - 40)), draw(st.integers(0, height - 40))
                points = [(float(x0 + 9 * k), float(y0 + 7 * k)) for k in range(COUNT)]
                name = draw(st.sampled_from(CLASSES))
            keypoints = [(float(x), float(y), draw(st.sampled_from([0.2, 0.9]))) for x, y in points]
            predicted.append((name, keypoints, draw(st.sampled_from(SCORES))))
        scenario.expected.append(expected)
        scenario.predicted.append(predicted)
        scenario.tags.append(tuple(t for t in TAGS if draw(st.booleans())))
    return scenario


def _case(scenario: Scenario, index: int) -> Case:
    spec = None
    if scenario.sigmas is not None:
        spec = KeypointSpec(COUNT, tuple(f"k{i}" for i in range(COUNT)), scenario.sigmas)
    objects = tuple(
        ExpectedObject(
            name,
            tuple(float(v) for v in box),
            0.5,
            0.5,
            crowd=keypoints is None,
            keypoints=None if keypoints is None else tuple(keypoints),
            area=area,
        )
        for name, box, keypoints, area in scenario.expected[index]
    )
    return Case(
        name=f"case{index}",
        file=Path("cases/pose.yaml"),
        image=Path(f"images/{index}.png"),
        image_size=SIZE,
        tags=scenario.tags[index],
        objects=objects,
        max_extra=0,
        model=None,
        task="pose",
        predict={},
        keypoints=spec,
    )


def _predictions(predicted: list[tuple]) -> Predictions:
    boxes = []
    for _, keypoints, _ in predicted:  # a box around the keypoints, as a pose model's would be
        xs, ys = [p[0] for p in keypoints], [p[1] for p in keypoints]
        boxes.append((min(xs) - 2, min(ys) - 2, max(xs) + 2, max(ys) + 2))
    return Predictions(
        boxes=np.array(boxes, dtype=np.float64).reshape(-1, 4),
        class_names=tuple(name for name, _, _ in predicted),
        scores=np.array([score for _, _, score in predicted], dtype=np.float64),
        masks=None,
        image_size=SIZE,
        keypoints=np.array([k for _, k, _ in predicted], dtype=np.float64).reshape(-1, COUNT, 3),
    )


def reference_eval(scenario: Scenario, img_ids: list[int] | None = None) -> COCOeval:
    """pycocotools' keypoint COCOeval of the scenario, built from its own COCO dicts."""
    category = {name: 3 * (i + 1) for i, name in enumerate(CLASSES)}
    images, annotations, detections = [], [], []
    for image_id, (expected, predicted) in enumerate(zip(scenario.expected, scenario.predicted, strict=True), start=1):
        images.append({"id": image_id, "width": SIZE[0], "height": SIZE[1]})
        for name, (x1, y1, x2, y2), keypoints, area in expected:
            flat = [float(v) for point in (keypoints or [(0.0, 0.0, 0)] * COUNT) for v in point]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category[name],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": area if area is not None else float((x2 - x1) * (y2 - y1)),  # docs/pose.md: else box
                    "iscrowd": int(keypoints is None),
                    "keypoints": flat,
                    "num_keypoints": sum(1 for v in flat[2::3] if v > 0),
                }
            )
        for name, keypoints, score in predicted:
            flat = [float(v) for point in keypoints for v in point]
            detections.append({"image_id": image_id, "category_id": category[name], "score": score, "keypoints": flat})
    gt = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for n, i in category.items()],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(copy.deepcopy(detections)), "keypoints")
        evaluation.params.kpt_oks_sigmas = np.array(scenario.sigmas or default_sigmas(COUNT)[0])
        if img_ids is not None:
            evaluation.params.imgIds = img_ids
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def reference_stats(evaluation: COCOeval, category: int | None = None) -> dict[str, float]:
    """summarize()'s keypoint stats 0-4 (restricted to one category index when given); -1 left out."""
    precision = evaluation.eval["precision"]
    if category is not None:
        precision = precision[:, :, category : category + 1]
    out = {}
    for name, oks, area in STATS:
        selected = precision[..., area, -1]
        if oks is not None:
            selected = selected[np.where(oks == evaluation.params.iouThrs)[0]]
        valid = selected[selected > -1]
        if valid.size:
            out[f"pose.{name}"] = float(np.mean(valid))
    return out


def assert_close(ours: dict[str, float], reference: dict[str, float], where: str) -> None:
    mine = {k: v for k, v in ours.items() if k.startswith("pose.map")}
    assert mine.keys() == reference.keys(), f"{where}: defined metrics differ"
    for key, value in reference.items():
        assert abs(mine[key] - value) <= TOLERANCE, f"{where}{key}: ours {mine[key]} != pycocotools {value}"


@settings(max_examples=120, deadline=None)
@given(pose_scenarios())
def test_keypoint_map_equals_pycocotools(scenario):
    assume(any(scenario.predicted))  # pycocotools' loadRes refuses an empty result list
    assume(any(obj[2] is not None for objects in scenario.expected for obj in objects))
    verdicts = [
        match_objects(_case(scenario, i), _predictions(p), use_masks=False) for i, p in enumerate(scenario.predicted)
    ]
    metrics = suite_metrics(verdicts, with_masks=False)
    reference = reference_eval(scenario)
    # summarize() itself says the same as the reading of its precision array used here.
    assert [reference_stats(reference).get(f"pose.{n}", -1) for n, _, _ in STATS] == list(reference.stats[:5])
    assert_close(metrics.values, reference_stats(reference), "")
    for index, name in enumerate(CLASSES):
        assert_close(metrics.per_class.get(name, {}), reference_stats(reference, index), f"class {name}: ")
    for tag in TAGS:
        ids = [i for i, tags in enumerate(scenario.tags, start=1) if tag in tags]
        if ids:
            assert_close(metrics.per_tag[tag], reference_stats(reference_eval(scenario, ids)), f"tag {tag}: ")


@settings(max_examples=80, deadline=None)
@given(pose_scenarios())
def test_the_bootstrap_without_resampling_equals_pycocotools(scenario):
    """Every image drawn once: the bootstrap's keypoint mAP is COCOeval's (float32 counts, 1e-6)."""
    assume(any(scenario.predicted))
    assume(any(obj[2] is not None for objects in scenario.expected for obj in objects))
    verdicts = [
        match_objects(_case(scenario, i), _predictions(p), use_masks=False) for i, p in enumerate(scenario.predicted)
    ]
    metrics = suite_metrics(verdicts, with_masks=False)
    values = resampled_values(metrics.samples, np.ones((1, len(verdicts)), dtype=np.int64))
    assert not any(path.endswith("pose.map_small") for path in values)  # no small range for keypoints
    reference = reference_eval(scenario)

    def defined(prefix: str) -> dict[str, float]:
        picked = {p[len(prefix) :]: float(v[0]) for p, v in values.items() if p.startswith(prefix + "pose.map")}
        return {k: v for k, v in picked.items() if not np.isnan(v)}

    assert_close(defined(""), reference_stats(reference), "resampled: ")
    for index, name in enumerate(CLASSES):
        assert_close(defined(f"per_class.{name}."), reference_stats(reference, index), f"resampled {name}: ")


def test_perfect_keypoints_score_one_and_a_gate_path_reads_them():
    scenario = Scenario(
        expected=[[("arrow", (10, 10, 60, 70), [(20.0, 20.0, 2), (50.0, 30.0, 2), (0.0, 0.0, 0), (30, 60, 1)], None)]],
        predicted=[[("arrow", [(20.0, 20.0, 0.9), (50.0, 30.0, 0.9), (5.0, 5.0, 0.1), (30.0, 60.0, 0.5)], 0.9)]],
        tags=[("night",)],
    )
    verdict = match_objects(_case(scenario, 0), _predictions(scenario.predicted[0]), use_masks=False)
    assert verdict.passed and verdict.objects[0].oks == 1.0
    metrics = suite_metrics([verdict], with_masks=False)
    assert metrics.lookup("pose.map50_95") == pytest.approx(1.0)  # a mean of ten ones, in floating point
    assert metrics.lookup("per_class.arrow.pose.map50") == pytest.approx(1.0)
    assert metrics.lookup("per_tag.night.pose.recall") == 1.0
    assert metrics.lookup("pose.map_small") is None  # COCO's keypoint evaluation has no small range
