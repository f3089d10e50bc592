"""Export parity for obb and classify models (harness/robustness/task_parity.py) on synthetic predictions;
no model runs. The shipped models against their ONNX exports are tests/acceptance/test_task_parity_onnx.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.affinity
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.casefile.schema import Case
from harness.core.config import PARITY_CONF, PARITY_IOU, CompareTo
from harness.core.oriented import xywhr_to_corners
from harness.evaluation.predictions import Predictions
from harness.robustness.parity import (
    ParityResult,
    compare_predictions,
    format_parity,
    parity_summary,
    summarize_parity,
)
from harness.robustness.task_parity import compare_oriented, compare_ranked

WIDTH, HEIGHT = 320, 240
IOU, CONF, THRESHOLD = PARITY_IOU, PARITY_CONF, 0.25


def oriented(*items) -> Predictions:
    """obb predictions from ``(class_name, (cx, cy, w, h, degrees), score)`` tuples."""
    xywhr = np.array([[*item[1][:4], math.radians(item[1][4])] for item in items], dtype=np.float64).reshape(-1, 5)
    corners = xywhr_to_corners(xywhr)
    bounds = np.stack(
        [corners[:, 0::2].min(1), corners[:, 1::2].min(1), corners[:, 0::2].max(1), corners[:, 1::2].max(1)], 1
    )
    return Predictions(
        boxes=bounds.reshape(-1, 4),
        class_names=tuple(item[0] for item in items),
        scores=np.array([item[2] for item in items], dtype=np.float64),
        masks=None,
        image_size=(WIDTH, HEIGHT),
        obb=xywhr,
    )


def ranked(*pairs: tuple[str, float]) -> Predictions:
    return Predictions(np.zeros((0, 4)), (), np.zeros(0), None, (96, 96), ranked=tuple(pairs))


def result_of(a: Predictions, b: Predictions) -> ParityResult:
    case = Case("scene", Path("cases/x.yaml"), Path("cases/x.png"), a.image_size, (), (), 0, None, None, {})
    rows = compare_predictions(a, b, iou=IOU, conf=CONF, conf_threshold=THRESHOLD, use_masks=False)
    return ParityResult(case, "m.pt", "m.onnx", CompareTo("m.onnx"), THRESHOLD, a, b, rows)


def polygon(cx, cy, w, h, degrees) -> shapely.Polygon:
    """The same oriented box built another way (shapely's own rotation), for an independent IoU."""
    box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return shapely.affinity.rotate(box, degrees, origin=(cx, cy))


SCENE = (
    ("rectangle", (150, 60, 86, 32, 104), 0.97),
    ("triangle", (232, 110, 66, 28, 30), 0.89),
    ("triangle", (80, 180, 60, 24, 113), 0.80),
)


# --- obb -----------------------------------------------------------------------------------------


def test_identical_oriented_boxes_are_at_parity():
    result = result_of(oriented(*SCENE), oriented(*SCENE))
    assert result.passed and result.pairs == 3 and result.unmatched == 0
    assert [row.obb_iou for row in result.rows] == [1.0, 1.0, 1.0]
    assert all(row.a == row.b and row.box_iou is None for row in result.rows)
    assert result.worst_iou == 1.0
    assert summarize_parity(result) == "parity: 3 pairs match (worst IoU 1.0000, largest conf difference 0.0000)"


def test_a_box_turned_three_degrees_fails_on_its_oriented_iou_which_shapely_confirms():
    turned = list(SCENE)
    turned[1] = ("triangle", (232, 110, 66, 28, 33), 0.89)
    result = result_of(oriented(*SCENE), oriented(*turned))
    [row] = [row for row in result.rows if row.problems]
    assert row.problems == ("obb IoU low",) and (row.a, row.b) == (1, 1)
    first, second = polygon(*SCENE[1][1]), polygon(*turned[1][1])
    expected = first.intersection(second).area / first.union(second).area
    assert row.obb_iou == pytest.approx(expected, abs=1e-9)
    assert 0.9 < row.obb_iou < IOU  # turned 3 degrees, a 66x28 box keeps an IoU of 0.932 with itself
    report = format_parity(result)
    assert "  A  B  class      obb                   obb IoU  conf A  conf B  verdict" in report
    assert f"  1  1  triangle   (232, 110) 66x28 30°  {row.obb_iou:.4f}   0.8900  0.8900  FAIL: obb IoU low" in report


def test_a_confidence_moved_past_the_tolerance_fails_and_one_within_it_passes():
    moved = [(name, box, score - 0.019) for name, box, score in SCENE]
    assert result_of(oriented(*SCENE), oriented(*moved)).passed
    moved[0] = ("rectangle", SCENE[0][1], 0.97 - 0.021)
    result = result_of(oriented(*SCENE), oriented(*moved))
    assert [row.problems for row in result.rows if row.problems] == [("conf differs",)]
    assert result.max_conf_difference == pytest.approx(0.021)


def test_an_oriented_box_of_one_model_only_fails_unless_it_is_borderline():
    result = result_of(oriented(*SCENE), oriented(*SCENE[:2]))
    [alone] = [row for row in result.rows if row.b is None]
    assert alone.problems == ("only in A",) and alone.a == 2 and alone.obb_iou is None
    assert summarize_parity(result) == "parity: 1 only in A (worst IoU 1.0000, largest conf difference 0.0000)"
    faint = ("triangle", (80, 180, 60, 24, 113), THRESHOLD + 0.01)
    result = result_of(oriented(*SCENE[:2]), oriented(*SCENE[:2], faint))
    [alone] = [row for row in result.rows if row.a is None]
    assert alone.problems == () and alone.borderline and result.passed


def test_oriented_boxes_pair_only_within_their_class():
    other_class = [("rectangle" if name == "triangle" else name, box, score) for name, box, score in SCENE]
    result = result_of(oriented(*SCENE), oriented(*other_class))
    assert result.pairs == 1  # the rectangle; both triangles are rectangles in B: two only in A, two only in B
    assert sorted(row.problems for row in result.rows if row.problems) == [("only in A",)] * 2 + [("only in B",)] * 2


def test_the_same_box_written_from_another_corner_is_the_same_box():
    # A 90-degree turn with width and height swapped is the same rectangle: Ultralytics may give either.
    a = oriented(("rectangle", (150, 60, 86, 32, 10), 0.9))
    b = oriented(("rectangle", (150, 60, 32, 86, 100), 0.9))
    [row] = compare_oriented(a, b, iou=IOU, conf=CONF, conf_threshold=THRESHOLD)
    assert row.problems == () and row.obb_iou == pytest.approx(1.0, abs=1e-9)


oriented_items = st.lists(
    st.tuples(
        st.sampled_from(["rectangle", "triangle"]),
        st.tuples(st.floats(0, WIDTH), st.floats(0, HEIGHT), st.floats(2, 120), st.floats(2, 120), st.floats(0, 180)),
        st.floats(0.25, 1.0),
    ),
    max_size=8,
).flatmap(lambda items: st.tuples(st.just(items), st.permutations(range(len(items)))))


@settings(max_examples=100, deadline=None)
@given(oriented_items)
def test_any_set_of_oriented_boxes_is_at_parity_with_itself_shuffled(drawn):
    items, order = drawn
    a, b = oriented(*items), oriented(*[items[i] for i in order])
    rows = compare_oriented(a, b, iou=IOU, conf=CONF, conf_threshold=THRESHOLD)
    assert not [row for row in rows if row.problems], rows
    assert len(rows) == len(items)
    for row in rows:  # each box paired with its copy, or a twin: the same corners and score
        assert row.obb_iou == 1.0 and row.conf_a == row.conf_b
        assert corner_set(a.obb[row.a]) == corner_set(b.obb[row.b])


def corner_set(xywhr: np.ndarray) -> set[tuple[float, float]]:
    """A box's four corners, in any order, to a millionth of a pixel: its twins are the same box, such
    as one turned 90 degrees with its sides swapped, or one turned by 4e-161 degrees (hypothesis drew
    that: its parameters differ, its corners do not)."""
    corners = xywhr_to_corners(xywhr.reshape(1, 5))[0].reshape(4, 2)
    return {(round(float(x), 6) + 0.0, round(float(y), 6) + 0.0) for x, y in corners}  # + 0.0: -0.0 is 0.0


# --- classify ------------------------------------------------------------------------------------

RANKED = (("circle", 0.62), ("square", 0.21), ("star", 0.09), ("cross", 0.05), ("triangle", 0.03))


def test_identical_ranked_classes_are_at_parity():
    result = result_of(ranked(*RANKED), ranked(*RANKED))
    assert result.passed and result.pairs == 5 and result.worst_iou is None
    assert [(row.class_name, row.a, row.b) for row in result.rows] == [(n, k, k) for k, (n, _) in enumerate(RANKED)]
    assert summarize_parity(result) == "parity: 5 classes match (largest conf difference 0.0000)"


def test_a_score_moved_past_the_tolerance_fails_on_that_class_only():
    moved = list(RANKED)
    moved[2] = ("star", 0.09 + 0.021)
    result = result_of(ranked(*RANKED), ranked(*moved))
    assert [(row.class_name, row.problems) for row in result.rows if row.problems] == [("star", ("conf differs",))]
    moved[2] = ("star", 0.09 + 0.019)
    assert result_of(ranked(*RANKED), ranked(*moved)).passed


def test_another_top_class_fails_even_when_the_scores_are_within_the_tolerance():
    a = ranked(("circle", 0.50), ("square", 0.49), *RANKED[2:])
    b = ranked(("square", 0.50), ("circle", 0.49), *RANKED[2:])
    result = result_of(a, b)
    failing = [(row.class_name, row.a, row.b, row.problems) for row in result.rows if row.problems]
    assert failing == [("circle", 0, 1, ("top class differs",)), ("square", 1, 0, ("top class differs",))]
    assert summarize_parity(result).startswith(
        "parity: top class circle (0.50) in A, square (0.50) in B, 2 of 5 classes"
    )
    report = format_parity(result)
    assert "the top class must be the same and each class both models rank needs |score A - score B| <= 0.02" in report
    assert "  rank A  rank B  class     score A  score B  verdict" in report
    assert "  1       2       circle    0.5000   0.4900   FAIL: top class differs" in report
    # Every class both rank is listed, in A's order, the passing ones too.
    assert report.splitlines()[-3:] == [
        "  3       3       star      0.0900   0.0900   ok",
        "  4       4       cross     0.0500   0.0500   ok",
        "  5       5       triangle  0.0300   0.0300   ok",
    ]


def test_a_class_ranked_by_one_model_only_is_borderline_near_the_other_s_last_place_and_fails_above_it():
    # Seven classes, five ranked: B ranks octagon where A ranks triangle, both just above the other's fifth.
    b = ranked(*RANKED[:4], ("octagon", 0.04))
    rows = compare_ranked(ranked(*RANKED), b, conf=CONF)
    leftovers = [(row.class_name, row.a, row.b, row.borderline, row.problems) for row in rows if None in (row.a, row.b)]
    assert leftovers == [("triangle", 4, None, True, ()), ("octagon", None, 4, True, ())]
    result = result_of(ranked(*RANKED), b)
    lines = parity_summary({"x.yaml::scene[parity]": result})
    assert lines[1] == (
        "  borderline: x.yaml::scene[parity]: triangle conf 0.030 only in A (m.onnx's lowest ranked score 0.040, "
        "tolerance 0.02; m.onnx does not rank it)"
    )
    far = ranked(("circle", 0.62), ("square", 0.21), ("star", 0.09), ("cross", 0.05), ("octagon", 0.001))
    rows = compare_ranked(far, ranked(*RANKED), conf=CONF)
    assert [(row.class_name, row.problems) for row in rows if row.problems] == [("triangle", ("only in B",))]


def test_a_top_class_the_other_model_does_not_rank_fails_even_as_a_borderline_leftover():
    # Flat scores over many classes: every leftover is within the tolerance, but the answers differ.
    a = ranked(("circle", 0.012), ("square", 0.011))
    b = ranked(("star", 0.012), ("cross", 0.011))
    result = result_of(a, b)
    assert not result.passed
    tops = [row for row in result.rows if 0 in (row.a, row.b)]
    assert [(row.class_name, row.problems, row.borderline) for row in tops] == [
        ("circle", ("top class differs",), False),
        ("star", ("top class differs",), False),
    ]


scores = st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5, unique=True)


@settings(max_examples=100, deadline=None)
@given(scores, st.integers(0, 4), st.floats(-1.0, 1.0))
def test_ranked_classes_pass_with_themselves_and_a_moved_score_fails_exactly_past_the_tolerance(values, index, step):
    names = ("circle", "square", "star", "cross", "triangle")
    order = sorted(range(5), key=lambda k: -values[k])
    a = ranked(*[(names[k], values[k]) for k in order])
    assert all(row.problems == () for row in compare_ranked(a, a, conf=CONF))
    moved = list(values)
    moved[index] = min(max(values[index] + step, 0.0), 1.0)
    b = ranked(*sorted(((names[k], moved[k]) for k in range(5)), key=lambda pair: -pair[1]))
    rows = {row.class_name: row for row in compare_ranked(a, b, conf=CONF)}
    assert ("conf differs" in rows[names[index]].problems) == (abs(moved[index] - values[index]) > CONF)
    assert all("conf differs" not in row.problems for name, row in rows.items() if name != names[index])
    assert any("top class differs" in row.problems for row in rows.values()) == (a.ranked[0][0] != b.ranked[0][0])
