"""Matching synthetic predictions to expected objects, and the case verdict; no model involved."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.casefile.schema import Case, ExpectedObject, MaskSpec
from harness.core.geometry import box_iou, mask_iou, mask_to_rle
from harness.evaluation.matching import match_objects, overlapping_pairs
from harness.evaluation.predictions import Predictions

WIDTH, HEIGHT = 320, 240


def expected(box, class_name="cat", *, box_iou=0.5, mask_iou=0.5, mask=None):
    return ExpectedObject(class_name, tuple(float(v) for v in box), box_iou, mask_iou, mask)


def make_case(*objects, max_extra=0):
    return Case(
        name="synthetic",
        file=Path("cases/x.yaml"),
        image=Path("cases/x.png"),
        image_size=(WIDTH, HEIGHT),
        tags=(),
        objects=tuple(objects),
        max_extra=max_extra,
        model=None,
        task=None,
        predict={},
    )


def predictions(*items, masks=None):
    """Predictions from ``(class_name, box)`` or ``(class_name, box, score)`` tuples."""
    boxes = np.array([item[1] for item in items], dtype=np.float64).reshape(-1, 4)
    scores = np.array([item[2] if len(item) > 2 else 0.9 for item in items], dtype=np.float64)
    return Predictions(
        boxes=boxes,
        class_names=tuple(item[0] for item in items),
        scores=scores,
        masks=masks,
        image_size=(WIDTH, HEIGHT),
    )


def rectangle_mask(box):
    """RLE of the pixels of an integer box on the case's image."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = True
    return mask_to_rle(mask)


def rectangle_polygon(box):
    x1, y1, x2, y2 = box
    return MaskSpec(polygons=((x1, y1, x2, y1, x2, y2, x1, y2),))


def pair_iou(a, b):
    return float(box_iou(np.array([a], dtype=float), np.array([b], dtype=float))[0, 0])


BOX = (40, 40, 120, 120)


# --- boxes ---------------------------------------------------------------------------------------


def test_perfect_predictions_pass():
    case = make_case(expected(BOX), expected((200, 100, 300, 200), "dog"))
    preds = predictions(("dog", (200, 100, 300, 200), 0.7), ("cat", BOX, 0.8))
    verdict = match_objects(case, preds, use_masks=False)
    assert verdict.passed
    assert [r.prediction for r in verdict.objects] == [1, 0]
    assert [r.box_iou for r in verdict.objects] == pytest.approx([1.0, 1.0])
    assert [r.confidence for r in verdict.objects] == pytest.approx([0.8, 0.7])
    assert all(r.problems == [] and r.passed for r in verdict.objects)
    assert verdict.extras == ()
    assert verdict.worst_iou == pytest.approx(1.0)


def test_missed_object_fails():
    verdict = match_objects(
        make_case(expected(BOX)), Predictions.empty((WIDTH, HEIGHT), with_masks=False), use_masks=False
    )
    [result] = verdict.objects
    assert not verdict.passed
    assert result.problems == ["missed"]
    assert result.prediction is None
    assert result.box_iou is None
    assert result.confidence is None
    assert verdict.worst_iou == pytest.approx(0.0)


def test_shifted_prediction_fails_with_low_box_iou():
    shifted = (80, 40, 160, 120)
    verdict = match_objects(make_case(expected(BOX)), predictions(("cat", shifted)), use_masks=False)
    [result] = verdict.objects
    assert not verdict.passed
    assert result.prediction == 0
    assert result.problems == ["box IoU low"]
    assert result.box_iou == pytest.approx(pair_iou(BOX, shifted))
    assert result.box_iou == pytest.approx(1 / 3)
    assert verdict.extras == ()  # a poor match is still a match, not an extra


def test_prediction_just_above_threshold_passes():
    shifted = (50, 40, 130, 120)  # IoU 70 / 90
    verdict = match_objects(make_case(expected(BOX)), predictions(("cat", shifted)), use_masks=False)
    assert verdict.passed
    assert verdict.objects[0].box_iou == pytest.approx(70 / 90)


def test_matching_is_class_aware():
    verdict = match_objects(make_case(expected(BOX, "cat")), predictions(("dog", BOX)), use_masks=False)
    [result] = verdict.objects
    assert result.problems == ["missed"]
    assert verdict.extras == (0,)
    assert not verdict.passed


def test_class_aware_picks_the_right_class_among_overlaps():
    case = make_case(expected(BOX, "cat"))
    preds = predictions(("dog", BOX, 0.99), ("cat", (42, 42, 122, 122), 0.5))
    verdict = match_objects(case, preds, use_masks=False)
    assert verdict.objects[0].prediction == 1
    assert verdict.extras == (0,)


def test_assignment_is_optimal_not_greedy():
    """Greedy would take the best single pair (a, p) and leave b with q (IoU 0.18): one fails.

    The optimal assignment a-q, b-p has a larger total IoU and both objects pass.
    """
    a, b = (100, 50, 200, 150), (140, 50, 240, 150)
    p, q = (110, 50, 210, 150), (70, 50, 170, 150)
    greedy_total = pair_iou(a, p) + pair_iou(b, q)
    optimal_total = pair_iou(a, q) + pair_iou(b, p)
    assert pair_iou(a, p) > max(pair_iou(a, q), pair_iou(b, p), pair_iou(b, q))  # greedy's first pick
    assert optimal_total > greedy_total
    assert pair_iou(b, q) < 0.5 < min(pair_iou(a, q), pair_iou(b, p))

    verdict = match_objects(make_case(expected(a), expected(b)), predictions(("cat", p), ("cat", q)), use_masks=False)
    assert [r.prediction for r in verdict.objects] == [1, 0]
    assert sum(r.box_iou for r in verdict.objects) == pytest.approx(optimal_total)
    assert verdict.passed


def test_zero_overlap_is_a_miss_and_an_extra():
    far = (200, 150, 260, 210)
    assert pair_iou(BOX, far) == 0
    verdict = match_objects(make_case(expected(BOX)), predictions(("cat", far)), use_masks=False)
    [result] = verdict.objects
    assert result.problems == ["missed"]
    assert result.prediction is None
    assert verdict.extras == (0,)


def test_more_predictions_than_objects_match_the_best():
    preds = predictions(("cat", (60, 40, 140, 120)), ("cat", BOX), ("cat", (40, 60, 120, 140)))
    verdict = match_objects(make_case(expected(BOX), max_extra=2), preds, use_masks=False)
    assert verdict.objects[0].prediction == 1
    assert verdict.extras == (0, 2)
    assert verdict.passed


@pytest.mark.parametrize(("max_extra", "passes"), [(0, False), (1, True)])
def test_extras_against_max_extra(max_extra, passes):
    case = make_case(expected(BOX), max_extra=max_extra)
    verdict = match_objects(case, predictions(("cat", BOX), ("dog", (200, 100, 300, 200))), use_masks=False)
    assert verdict.objects[0].passed
    assert verdict.extras == (1,)
    assert verdict.too_many_extras is not passes
    assert verdict.passed is passes


def test_two_extras_exceed_max_extra_one():
    case = make_case(expected(BOX), max_extra=1)
    preds = predictions(("cat", BOX), ("dog", (200, 100, 300, 200)), ("cat", (250, 10, 300, 60)))
    verdict = match_objects(case, preds, use_masks=False)
    assert verdict.extras == (1, 2)
    assert not verdict.passed


def test_empty_case_without_predictions_passes():
    verdict = match_objects(make_case(), Predictions.empty((WIDTH, HEIGHT), with_masks=True), use_masks=True)
    assert verdict.passed
    assert verdict.objects == ()
    assert verdict.extras == ()
    assert verdict.worst_iou is None


def test_empty_case_with_a_prediction_fails():
    verdict = match_objects(make_case(), predictions(("cat", BOX)), use_masks=False)
    assert not verdict.passed
    assert verdict.too_many_extras
    assert verdict.extras == (0,)
    assert verdict.worst_iou is None


def test_per_object_box_thresholds():
    shifted = (48, 40, 128, 120)  # IoU 72 / 88 ~ 0.818 with BOX
    strict = expected(BOX, "cat", box_iou=0.9)
    lenient = expected(BOX, "dog", box_iou=0.8)
    verdict = match_objects(
        make_case(strict, lenient), predictions(("cat", shifted), ("dog", shifted)), use_masks=False
    )
    assert [r.box_iou for r in verdict.objects] == pytest.approx([72 / 88, 72 / 88])
    assert verdict.objects[0].problems == ["box IoU low"]
    assert verdict.objects[1].problems == []
    assert not verdict.passed


@st.composite
def same_class_scenes(draw):
    def box():  # crowded, so that many boxes overlap and the assignment matters
        x1, y1 = draw(st.integers(0, 60)), draw(st.integers(0, 60))
        return (x1, y1, x1 + draw(st.integers(20, 80)), y1 + draw(st.integers(20, 80)))

    objects = [box() for _ in range(draw(st.integers(1, 4)))]
    preds = [box() for _ in range(draw(st.integers(0, 4)))]
    return objects, preds


@settings(max_examples=100, deadline=None)
@given(same_class_scenes())
def test_assignment_maximises_total_iou(scene):
    """Against brute force over every one-to-one assignment, on random boxes of one class."""
    objects, boxes = scene
    verdict = match_objects(
        make_case(*(expected(b) for b in objects)), predictions(*(("cat", b) for b in boxes)), use_masks=False
    )
    ious = box_iou(np.array(objects, dtype=float), np.array(boxes, dtype=float).reshape(-1, 4))
    size = max(len(objects), len(boxes))
    padded = np.zeros((size, size))
    padded[: len(objects), : len(boxes)] = ious
    best = max(sum(padded[i, j] for i, j in enumerate(perm)) for perm in itertools.permutations(range(size)))

    matched = [r.prediction for r in verdict.objects if r.prediction is not None]
    assert len(matched) == len(set(matched))  # one-to-one
    assert sorted(matched + list(verdict.extras)) == list(range(len(boxes)))
    for i, result in enumerate(verdict.objects):
        if result.prediction is not None:
            assert result.box_iou == pytest.approx(ious[i, result.prediction])
            assert result.box_iou > 0
    assert sum(r.box_iou or 0.0 for r in verdict.objects) == pytest.approx(best)


# --- masks ---------------------------------------------------------------------------------------


def test_rectangle_polygon_matches_rectangle_mask():
    """The helper polygon covers exactly the box's pixels, so mask IoUs below are exact fractions."""
    rle = rectangle_polygon(BOX).to_rle(HEIGHT, WIDTH)
    assert mask_iou([rle], [rectangle_mask(BOX)]) == pytest.approx(np.array([[1.0]]))


def test_perfect_mask_passes():
    case = make_case(expected(BOX, mask=rectangle_polygon(BOX)))
    verdict = match_objects(case, predictions(("cat", BOX), masks=[rectangle_mask(BOX)]), use_masks=True)
    [result] = verdict.objects
    assert result.check_mask
    assert result.mask_iou == pytest.approx(1.0)
    assert verdict.passed


def test_low_mask_iou_fails_while_box_passes():
    spec = rectangle_polygon(BOX)
    sliver = rectangle_mask((40, 40, 60, 120))  # a quarter of the expected mask
    case = make_case(expected(BOX, mask=spec))
    verdict = match_objects(case, predictions(("cat", BOX), masks=[sliver]), use_masks=True)
    [result] = verdict.objects
    assert result.check_mask
    assert result.prediction == 0
    assert result.box_iou == pytest.approx(1.0)
    assert result.mask_iou == pytest.approx(float(mask_iou([spec.to_rle(HEIGHT, WIDTH)], [sliver])[0, 0]))
    assert result.mask_iou == pytest.approx(0.25)
    assert result.problems == ["mask IoU low"]
    assert not verdict.passed
    assert verdict.worst_iou == pytest.approx(0.25)


def test_masks_are_ignored_without_use_masks():
    sliver = rectangle_mask((40, 40, 60, 120))
    case = make_case(expected(BOX, mask=rectangle_polygon(BOX)))
    verdict = match_objects(case, predictions(("cat", BOX), masks=[sliver]), use_masks=False)
    [result] = verdict.objects
    assert not result.check_mask
    assert result.mask_iou is None
    assert verdict.passed
    assert verdict.worst_iou == pytest.approx(1.0)


def test_object_without_expected_mask_is_judged_by_box():
    case = make_case(expected(BOX))
    sliver = rectangle_mask((40, 40, 60, 120))
    verdict = match_objects(case, predictions(("cat", BOX), masks=[sliver]), use_masks=True)
    [result] = verdict.objects
    assert not result.check_mask
    assert result.mask_iou is None
    assert verdict.passed


def test_mask_iou_decides_the_match_when_boxes_tie():
    """Two objects with the same box but different halves as masks: the masks pick the pairs."""
    left, right = (40, 40, 80, 120), (80, 40, 120, 120)
    case = make_case(expected(BOX, mask=rectangle_polygon(left)), expected(BOX, mask=rectangle_polygon(right)))
    preds = predictions(("cat", BOX), ("cat", BOX), masks=[rectangle_mask(right), rectangle_mask(left)])
    verdict = match_objects(case, preds, use_masks=True)
    assert [r.prediction for r in verdict.objects] == [1, 0]
    assert [r.mask_iou for r in verdict.objects] == pytest.approx([1.0, 1.0])
    assert verdict.passed


def test_per_object_mask_thresholds():
    sliver = (40, 40, 60, 120)  # mask IoU 0.25 with BOX, box IoU 1
    other = (200, 100, 280, 180)
    other_sliver = (200, 100, 220, 180)
    lenient = expected(BOX, "cat", mask_iou=0.2, mask=rectangle_polygon(BOX))
    strict = expected(other, "dog", mask_iou=0.3, mask=rectangle_polygon(other))
    preds = predictions(("cat", BOX), ("dog", other), masks=[rectangle_mask(sliver), rectangle_mask(other_sliver)])
    verdict = match_objects(make_case(lenient, strict), preds, use_masks=True)
    assert [r.mask_iou for r in verdict.objects] == pytest.approx([0.25, 0.25])
    assert verdict.objects[0].problems == []
    assert verdict.objects[1].problems == ["mask IoU low"]
    assert not verdict.passed


def test_low_box_and_low_mask_are_both_reported():
    shifted = (80, 40, 160, 120)
    case = make_case(expected(BOX, mask=rectangle_polygon(BOX)))
    verdict = match_objects(case, predictions(("cat", shifted), masks=[rectangle_mask(shifted)]), use_masks=True)
    [result] = verdict.objects
    assert result.problems == ["box IoU low", "mask IoU low"]
    assert result.box_iou == pytest.approx(1 / 3)
    assert result.mask_iou == pytest.approx(1 / 3)


# --- worst_iou -----------------------------------------------------------------------------------


def test_worst_iou_is_min_over_box_and_mask():
    shifted = (48, 40, 128, 120)  # box IoU 72 / 88
    sliver = rectangle_mask((40, 40, 100, 120))  # mask IoU 0.75
    case = make_case(expected(BOX, mask=rectangle_polygon(BOX)), expected((200, 100, 300, 200), "dog"))
    preds = predictions(("cat", shifted), ("dog", (200, 100, 300, 200)), masks=[sliver, rectangle_mask(BOX)])
    verdict = match_objects(case, preds, use_masks=True)
    assert [r.box_iou for r in verdict.objects] == pytest.approx([72 / 88, 1.0])
    assert verdict.objects[0].mask_iou == pytest.approx(0.75)
    assert verdict.worst_iou == pytest.approx(0.75)


def test_worst_iou_of_box_only_objects():
    case = make_case(expected(BOX), expected((200, 100, 300, 200), "dog"))
    preds = predictions(("cat", (48, 40, 128, 120)), ("dog", (200, 100, 300, 200)))
    assert match_objects(case, preds, use_masks=False).worst_iou == pytest.approx(72 / 88)


def test_worst_iou_is_zero_with_a_miss():
    case = make_case(expected(BOX), expected((200, 100, 300, 200), "dog"))
    verdict = match_objects(case, predictions(("cat", BOX)), use_masks=False)
    assert verdict.objects[1].problems == ["missed"]
    assert verdict.worst_iou == pytest.approx(0.0)


def test_boxes_overlapping_with_disjoint_masks_are_a_match_with_low_mask_iou():
    box = (40, 40, 120, 120)
    left_half = np.zeros((HEIGHT, WIDTH), bool)
    left_half[40:120, 40:80] = True
    right_half = np.zeros((HEIGHT, WIDTH), bool)
    right_half[40:120, 80:120] = True
    case = make_case(expected(box, mask=MaskSpec(rle=mask_to_rle(left_half))))
    verdict = match_objects(case, predictions(("cat", box), masks=[mask_to_rle(right_half)]), use_masks=True)
    (result,) = verdict.objects
    assert result.prediction == 0
    assert result.mask_iou == 0.0
    assert result.problems == ["mask IoU low"]
    assert verdict.extras == ()


def crowd(box, class_name="cat"):
    return ExpectedObject(class_name, tuple(float(v) for v in box), 0.5, 0.5, None, crowd=True)


def test_a_crowd_region_need_not_be_found_and_absorbs_predictions_inside_it():
    case = make_case(expected((0, 0, 20, 20)), crowd((100, 100, 200, 200)))
    preds = predictions(
        ("cat", (0, 0, 20, 20)),
        ("cat", (110, 110, 150, 150)),  # inside the crowd: ignored
        ("dog", (120, 120, 140, 140)),  # another class inside it: an extra
        ("cat", (180, 180, 260, 260)),  # mostly outside it (IoA 0.0625): an extra
    )
    verdict = match_objects(case, preds, use_masks=False)
    assert [r.problems for r in verdict.objects] == [[], []]
    assert verdict.ignored == (1,)
    assert verdict.extras == (2, 3)
    assert verdict.worst_iou == pytest.approx(1.0)  # the crowd region is no object to score


def test_a_crowd_region_alone_passes_with_nothing_found():
    verdict = match_objects(make_case(crowd((100, 100, 200, 200))), predictions(), use_masks=False)
    assert verdict.passed
    assert verdict.worst_iou is None


@st.composite
def overlap_matrices(draw):
    """Overlap matrices, mostly sparse (each object overlapping one prediction, the shortcut's case),
    with ties, exact zeros and rows or columns overlapping several."""
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    values = st.one_of(st.just(0.0), st.just(0.5), st.floats(0.0, 1.0, allow_nan=False))
    sparse = draw(st.booleans())
    matrix = np.array([[draw(values) for _ in range(cols)] for _ in range(rows)])
    if sparse:  # keep one overlap at most per row and column
        keep = draw(st.permutations(range(max(rows, cols))))
        matrix = np.where(np.array([[keep[r] == c for c in range(cols)] for r in range(rows)]), matrix, 0.0)
    return matrix


@settings(max_examples=300, deadline=None)
@given(overlap_matrices())
def test_overlapping_pairs_equal_scipys_assignment(matrix):
    """Whether the shortcut answers (no object overlapping two predictions, nor a prediction two objects)
    or scipy does, the pairs are scipy's optimal assignment less its zero-overlap pairs, in row order."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(matrix, maximize=True)
    reference = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if matrix[r, c] > 0]
    found = overlapping_pairs(matrix)
    assert found == reference
    assert len({r for r, _ in found}) == len(found) == len({c for _, c in found})


def test_overlapping_pairs_leave_scipy_unimported_when_no_object_overlaps_two(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # importing it now raises ImportError
    assert overlapping_pairs(np.array([[0.0, 0.9, 0.0], [0.7, 0.0, 0.0]])) == [(0, 1), (1, 0)]
    with pytest.raises(ImportError):
        overlapping_pairs(np.array([[0.6, 0.9], [0.7, 0.0]]))  # row 0 overlaps two: scipy decides
