"""The bootstrap of suite metrics: COCO's accumulate on weighted images is exact, resampling is seeded
and deterministic, and 95% intervals cover the population value 93-97% of the time.

Every mAP reference here is pycocotools' COCOeval run on COCO dicts the test builds itself.
"""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from harness.evaluation.bootstrap import (
    Difference,
    bootstrap,
    cases_to_halve,
    detectable_drop,
    draw,
    interval,
    paired_differences,
    resampled_values,
    sample_problem,
)
from harness.evaluation.resampled_map import RECALL_THRESHOLDS, ResampledMap, _points_reached, images_from_evaluation

STATS = ("map50_95", "map50", "map75", "map_small", "map_medium", "map_large")
CATEGORIES = (1, 2, 5)
DUMMY = {"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 1.0, 1.0], "score": 0.05}  # a false positive


@st.composite
def scenarios(draw_, tied_scores: bool = True) -> tuple[dict, list[dict]]:
    """A COCO ground truth and detections: jittered copies of objects (some relabelled, some
    missed), false positives, a few crowd regions, all three area ranges."""
    images, annotations, detections = [], [], []
    scores = st.sampled_from((0.3, 0.5, 0.9)) if tied_scores else st.floats(0.01, 0.99)
    for image_id in range(1, draw_(st.integers(1, 12)) + 1):
        images.append({"id": image_id, "width": 400, "height": 400})
        for _ in range(draw_(st.integers(0, 4))):
            x, y = draw_(st.floats(0, 200)), draw_(st.floats(0, 200))
            w, h = draw_(st.sampled_from((10.0, 30.0, 50.0, 120.0))), draw_(st.floats(8, 150))
            category = draw_(st.sampled_from(CATEGORIES))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": int(draw_(st.integers(0, 19)) == 0),
                }
            )
            if draw_(st.booleans()) or draw_(st.booleans()):
                dx, dy = draw_(st.floats(-8, 8)), draw_(st.floats(-8, 8))
                label = category if draw_(st.integers(0, 9)) else draw_(st.sampled_from(CATEGORIES))
                box = [x + dx, y + dy, w, h]
                detections.append({"image_id": image_id, "category_id": label, "bbox": box, "score": draw_(scores)})
        for _ in range(draw_(st.integers(0, 2))):
            box = [draw_(st.floats(0, 300)), draw_(st.floats(0, 300)), 25.0, 25.0]
            category = draw_(st.sampled_from(CATEGORIES))
            detections.append({"image_id": image_id, "category_id": category, "bbox": box, "score": draw_(scores)})
    categories = [{"id": c, "name": f"class{c}"} for c in CATEGORIES]
    return {"images": images, "annotations": annotations, "categories": categories}, detections


def pycocotools_eval(gt: dict, dt: list[dict]) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = copy.deepcopy(gt)
        ground_truth.createIndex()
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(copy.deepcopy(dt)), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def ours(evaluation: COCOeval, gt: dict, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    names = {c["id"]: c["name"] for c in gt["categories"]}
    params = evaluation.params
    images = images_from_evaluation(evaluation.evalImgs, params.imgIds, names)
    return ResampledMap(images).values(np.ones((1, len(images))) if weights is None else weights)


def as_coco(value: float) -> float:
    return -1.0 if np.isnan(value) else float(value)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_identity_resample_equals_pycocotools(scenario):
    """All weights 1: COCOeval.summarize's stats 0-5 within 1e-12, and each class's AP."""
    gt, dt = scenario
    dt = dt or [DUMMY]  # pycocotools refuses an empty detection list
    evaluation = pycocotools_eval(gt, dt)
    values = ours(evaluation, gt)
    for index, name in enumerate(STATS):
        assert as_coco(values[name][0]) == pytest.approx(evaluation.stats[index], abs=1e-12), name
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    for k, category in enumerate(evaluation.params.catIds):
        selected = precision[:, :, k]
        expected = float(np.mean(selected)) if (selected > -1).all() else -1.0
        ap = values.get(f"class{category}/map50_95", [np.nan])[0]  # a class in no evaluated image: absent
        assert as_coco(ap) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(scenarios(tied_scores=False), st.data())
def test_weights_equal_duplicated_images(scenario, data):
    """An image drawn w times is that image w times over: pycocotools on a dataset with the drawn
    copies gives the same stats (scores without ties, whose order COCO leaves to position)."""
    gt, dt = scenario
    assume(len({d["score"] for d in dt}) == len(dt))  # equal scores within an image: COCO interleaves copies
    count = len(gt["images"])
    weights = np.array([data.draw(st.integers(0, 3)) for _ in range(count)])
    weights[0] = max(weights[0], 1)  # image 1 is drawn and has a detection: pycocotools needs one
    dt = [*dt, DUMMY]
    copies = {"images": [], "annotations": [], "categories": gt["categories"]}
    copied_dt = []
    for image in gt["images"]:
        for _ in range(weights[image["id"] - 1]):
            new_id = len(copies["images"]) + 1
            copies["images"].append(image | {"id": new_id})
            for a in gt["annotations"]:
                if a["image_id"] == image["id"]:
                    copies["annotations"].append(a | {"id": len(copies["annotations"]) + 1, "image_id": new_id})
            copied_dt += [d | {"image_id": new_id} for d in dt if d["image_id"] == image["id"]]
    reference = pycocotools_eval(copies, copied_dt)
    values = ours(pycocotools_eval(gt, dt), gt, weights[None, :].astype(float))
    for index, name in enumerate(STATS):
        assert as_coco(values[name][0]) == pytest.approx(reference.stats[index], abs=1e-12), name


@settings(max_examples=20, deadline=None)
@given(scenarios())
def test_float32_resamples_agree_with_float64(scenario):
    gt, dt = scenario
    evaluation = pycocotools_eval(gt, [*dt, DUMMY])
    weights = draw(len(gt["images"]), 200, seed=3).astype(float)
    exact = ours(evaluation, gt, weights)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    images = images_from_evaluation(evaluation.evalImgs, evaluation.params.imgIds, names)
    fast = ResampledMap(images).values(weights, np.float32)
    for name in exact:
        np.testing.assert_allclose(fast[name], exact[name], atol=1e-6, equal_nan=True)


def test_points_reached_is_searchsorted():
    rng = np.random.default_rng(0)
    npig = rng.integers(1, 400, 5000)
    recall = np.concatenate([rng.integers(0, npig + 1) / npig, RECALL_THRESHOLDS, [0.0, 1.0]])
    expected = np.searchsorted(RECALL_THRESHOLDS, recall, side="right")
    np.testing.assert_array_equal(_points_reached(recall), expected)


def count_samples(found: np.ndarray, expected: np.ndarray) -> list[dict]:
    """Cases with only counts (no mAP): found / expected objects, every prediction a true one."""
    return [{"counts": {"box": {"": [int(f), int(e), int(f)]}}} for f, e in zip(found, expected, strict=True)]


def test_draw_is_seeded_and_counts_every_case():
    first, second = draw(30, 500), draw(30, 500)
    np.testing.assert_array_equal(first, second)
    assert (first.sum(axis=1) == 30).all()
    assert not np.array_equal(draw(30, 500, seed=1), first)
    # Each case is drawn once per resample on average.
    assert first.mean() == pytest.approx(1.0)


def test_two_bootstraps_give_identical_intervals():
    rng = np.random.default_rng(5)
    expected = rng.integers(1, 5, 40)
    samples = count_samples(rng.binomial(expected, 0.8), expected)
    one = bootstrap(samples, 1000).intervals(0.95)
    two = bootstrap(samples, 1000).intervals(0.95)
    assert one == two
    assert one["box.recall"][0] < one["box.recall"][1]


def test_coverage_of_95_percent_intervals():
    """400 suites of 80 cases drawn from a population whose recall is known exactly; the 95%
    percentile interval of recall must contain it in 93-97% of them.

    The population: a case has 1-4 objects (uniform), and finds each with probability 0.9, 0.75 or
    0.4 (cases of three difficulties, uniform). Recall is found / expected over the population:
    E[found] / E[objects] = mean of the three probabilities, since difficulty and count are independent."""
    rng = np.random.default_rng(2026)
    population_recall = np.mean([0.9, 0.75, 0.4])
    trials, covered = 400, 0
    for _ in range(trials):
        expected = rng.integers(1, 5, 80)
        found = rng.binomial(expected, rng.choice([0.9, 0.75, 0.4], 80))
        low, high = interval(resampled_values(count_samples(found, expected), draw(80, 1000))["box.recall"], 0.95)
        covered += low <= population_recall <= high
    assert 0.93 <= covered / trials <= 0.97


def test_paired_differences_of_a_run_with_itself_are_zero():
    rng = np.random.default_rng(1)
    expected = rng.integers(1, 5, 30)
    samples = count_samples(rng.binomial(expected, 0.7), expected)
    metrics = {"box.recall": 0.7, "box.precision": 1.0}
    for difference in paired_differences(samples, samples, metrics, metrics, 500):
        assert (difference.changes == 0).all()
        assert not difference.significant(0.0, 0.95)


def test_significance_rule_uses_the_one_sided_lower_bound_of_the_drop():
    # Resampled changes -0.05 ... -0.01 evenly: the drop's 5% quantile is 0.012.
    changes = -np.linspace(0.01, 0.05, 1001)
    difference = Difference("box.map50", then=0.9, now=0.87, changes=changes)
    assert difference.drop_lower_bound(0.95) == pytest.approx(0.012)
    assert difference.significant(0.01, 0.95)
    assert not difference.significant(0.015, 0.95)
    assert difference.spread(0.95) == pytest.approx(0.03 - 0.012)
    assert detectable_drop(difference.spread(0.95), 0.01) == pytest.approx(0.028)
    assert cases_to_halve(24) == 72


def test_paired_bootstrap_flags_a_real_drop_and_not_noise():
    """Paired: the same cases drawn on both sides. A model that misses a further object in 15 of 60
    cases is flagged at 95%; one that misses in 1 case (a drop of about 0.007) is not."""
    rng = np.random.default_rng(7)
    expected = rng.integers(2, 5, 60)
    found = rng.binomial(expected, 0.9)
    worse = found.copy()
    worse[:15] = np.maximum(found[:15] - 1, 0)
    slightly = found.copy()
    slightly[0] = max(found[0] - 1, 0)

    def recall(f):
        return {"box.recall": f.sum() / expected.sum()}

    base = count_samples(found, expected)
    for now, flagged in ((worse, True), (slightly, False)):
        (difference,) = [
            d
            for d in paired_differences(base, count_samples(now, expected), recall(found), recall(now), 1000)
            if d.name == "box.recall"
        ]
        assert difference.significant(0.01, 0.95) is flagged


@pytest.mark.parametrize(
    ("sample", "problem"),
    [
        ({"counts": {"box": {"": [1, 2, 1]}}, "coco": {"box": {"a/all": [1, [0.9], [1023], [0]]}}}, None),
        ([], "expected {counts: ..., coco: ...}"),
        ({"counts": {"box": {"": [1, 2]}}}, "counts.box: expected class -> [found, expected, predicted]"),
        ({"counts": {"box": {"": [1, -2, 1]}}}, "counts.box: expected class -> [found, expected, predicted]"),
        ({"counts": {}, "coco": {"box": {"a/huge": [1, [], [], []]}}}, "coco.box.a/huge: expected [ground truth,"),
        ({"counts": {}, "coco": {"box": {"a/all": [1, [0.9], [1024], [0]]}}}, "coco.box.a/all: expected"),
        ({"counts": {}, "coco": {"box": {"a/all": [1, [0.9, 0.8], [1], [0]]}}}, "coco.box.a/all: expected"),
        ({"counts": {}, "coco": {"box": {"a/all": [True, [], [], []]}}}, "coco.box.a/all: expected"),
    ],
)
def test_bootstrap_data_read_from_a_baseline_is_checked(sample, problem):
    found = sample_problem(sample)
    assert found == problem if problem is None else found.startswith(problem)
