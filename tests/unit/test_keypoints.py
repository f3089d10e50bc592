"""OKS against pycocotools' computeOks, and keypoints moved by transforms with exact geometry."""

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from harness.core.keypoints import COCO_SIGMAS, compare_keypoints, default_sigmas
from harness.core.transforms import Step, Transform

SIZE = (320, 240)

coordinates = st.floats(0, 240, allow_nan=False, width=32)
keypoint_lists = st.integers(1, 17).flatmap(
    lambda k: st.lists(st.tuples(coordinates, coordinates, st.sampled_from([0, 1, 2])), min_size=k, max_size=k)
)


def reference_oks(expected, predicted, area, sigmas, box) -> float:
    """pycocotools' own computeOks for one ground truth and one detection."""
    x1, y1, x2, y2 = box
    gt = {
        "images": [{"id": 1, "width": 400, "height": 400}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": area,
                "iscrowd": 0,
                "keypoints": [float(v) for point in expected for v in point],
                "num_keypoints": sum(1 for point in expected if point[2] > 0),
            }
        ],
    }
    coco = COCO()
    coco.dataset = copy.deepcopy(gt)
    coco.createIndex()
    detections = coco.loadRes([{"image_id": 1, "category_id": 1, "score": 1.0, "keypoints": list(predicted)}])
    evaluation = COCOeval(coco, detections, "keypoints")
    evaluation.params.kpt_oks_sigmas = np.array(sigmas)
    evaluation.params.imgIds = [1]
    evaluation._prepare()
    return float(evaluation.computeOks(1, 1)[0, 0])


@settings(max_examples=150, deadline=None)
@given(keypoint_lists, st.floats(1.0, 20000.0), st.data())
def test_oks_equals_pycocotools_compute_oks(expected, area, data):
    count = len(expected)
    point = st.tuples(coordinates, coordinates, st.floats(0, 1))
    predicted = data.draw(st.lists(point, min_size=count, max_size=count))
    sigmas = data.draw(st.lists(st.floats(0.01, 0.5), min_size=count, max_size=count))
    box = (20.0, 30.0, 140.0, 170.0)
    flat = [float(v) for point in predicted for v in point]
    ours = compare_keypoints(expected, np.array(predicted), area, sigmas, box).oks
    assert ours == pytest.approx(reference_oks(expected, flat, area, sigmas, box), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(keypoint_lists, st.floats(1.0, 20000.0))
def test_oks_of_a_prediction_against_itself_is_one(expected, area):
    labelled = [point for point in expected if point[2] > 0]
    sigmas = default_sigmas(len(expected))[0]
    found = compare_keypoints(expected, np.array([p[:2] for p in expected]), area, sigmas, (0, 0, 240, 240))
    assert found.oks == 1.0 if labelled else found.oks <= 1.0
    assert np.all(found.distances[found.labelled] == 0)


def test_oks_falls_as_a_keypoint_moves_away_and_only_labelled_keypoints_count():
    expected = [(100.0, 100.0, 2), (150.0, 100.0, 0)]
    sigmas = (0.1, 0.1)
    area = 2500.0
    near = compare_keypoints(expected, np.array([[103.0, 104.0], [0.0, 0.0]]), area, sigmas, (80, 80, 170, 120))
    # e = d^2 / (2 * area * (2 sigma)^2) = 25 / (2 * 2500 * 0.04) = 0.125, and the unlabelled one is not counted.
    assert near.oks == pytest.approx(math.exp(-0.125))
    assert near.distances[0] == pytest.approx(5.0)
    far = compare_keypoints(expected, np.array([[110.0, 100.0], [150.0, 100.0]]), area, sigmas, (80, 80, 170, 120))
    assert far.oks < near.oks


def test_default_sigmas_follow_ultralytics():
    assert default_sigmas(17)[0] == COCO_SIGMAS
    assert default_sigmas(4)[0] == (0.25, 0.25, 0.25, 0.25)


# --- transforms ----------------------------------------------------------------------------------

# An asymmetric arrow pointing up: tip, the barb on its left (the picture's left), its right barb, notch.
ARROW = ((100.0, 40.0, 2), (70.0, 110.0, 2), (130.0, 110.0, 2), (100.0, 85.0, 1))
ARROW_FLIP_IDX = (0, 2, 1, 3)


def test_hflip_swaps_left_and_right_keypoints_through_flip_idx():
    flipped = Transform((Step("hflip"),)).map_keypoints(ARROW, SIZE, ARROW_FLIP_IDX)
    tip, left, right, notch = flipped
    # The mirrored arrow still points up; its left barb (the old right one, mirrored) is on the left.
    assert tip == (220.0, 40.0, 2)
    assert left == (190.0, 110.0, 2)
    assert right == (250.0, 110.0, 2)
    assert left[0] < right[0]
    assert notch == (220.0, 85.0, 1)


def test_hflip_without_flip_idx_keeps_names_so_left_lands_on_the_right():
    # What leaving the swap out does: the keypoint named left ends up on the picture's right.
    _tip, left, right, _ = Transform((Step("hflip"),)).map_keypoints(ARROW, SIZE, None)
    assert left[0] > right[0]


def test_two_mirrors_swap_twice_and_rotations_never_swap():
    both = Transform((Step("hflip"), Step("vflip"))).map_keypoints(ARROW, SIZE, ARROW_FLIP_IDX)
    turned = Transform((Step("rot180"),)).map_keypoints(ARROW, SIZE, ARROW_FLIP_IDX)
    assert both == turned  # a flip both ways is a half turn: the names stay
    assert turned[1] == (250.0, 130.0, 2)  # the left barb, turned with the picture


@pytest.mark.parametrize(
    "steps",
    [("rot90",), ("rot270",), ("rot180",), ("hflip",), ("vflip",), ("rot90", "hflip"), ("crop",), ("pad",)],
)
def test_keypoints_move_exactly_with_the_pixels(steps):
    """A keypoint at a pixel's centre lands at the centre of the pixel that pixel moves to."""
    values = {"crop": (10, 20, 300, 230), "pad": (3, 5, 7, 11)}
    transform = Transform(tuple(Step(kind, values.get(kind)) for kind in steps))
    rng = np.random.default_rng(0)
    for _ in range(20):
        col, row = int(rng.integers(12, 290)), int(rng.integers(22, 220))
        image = np.zeros((SIZE[1], SIZE[0], 3), dtype=np.uint8)
        image[row, col] = 255
        moved = transform.apply_image(image)
        (new_row,), (new_col,) = np.nonzero(moved[..., 0] == 255)
        ((x, y, v),) = transform.map_keypoints(((col + 0.5, row + 0.5, 2),), SIZE, None)
        assert (x, y, v) == (new_col + 0.5, new_row + 0.5, 2)


def test_a_keypoint_cropped_out_becomes_unlabelled():
    crop = Transform((Step("crop", (0, 0, 120, 100)),))
    tip, left, right, notch = crop.map_keypoints(ARROW, SIZE, ARROW_FLIP_IDX)
    assert tip == (100.0, 40.0, 2)
    assert left == right == (0.0, 0.0, 0)  # y 110 is below the crop
    assert notch == (100.0, 85.0, 1)
