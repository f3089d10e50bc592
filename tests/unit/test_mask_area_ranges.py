"""Mask mAP's small / medium / large ranges go by mask area, as COCO's segm evaluation does, never by
box area: checked on shapes whose mask area and box area fall in different COCO ranges.

The reference is pycocotools' COCOeval(iouType="segm") on COCO dicts built here from numpy masks:
ground-truth areas are pixel counts of those masks, and the detections are segm results (a mask and
a score, no box), for which pycocotools' loadRes takes the area from the mask itself.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from harness.casefile.schema import Case, ExpectedObject, MaskSpec
from harness.evaluation.matching import match_objects
from harness.evaluation.metrics import suite_metrics
from harness.evaluation.predictions import Predictions

WIDTH, HEIGHT = 400, 300
SMALL, LARGE = 32**2, 96**2  # COCO's area ranges: small < 32^2 <= medium <= 96^2 < large
RANGES = ("map_small", "map_medium", "map_large")  # COCOeval.summarize's stats 3, 4, 5


def band(x1: int, y1: int, side: int, width: int = 3, anti: bool = False) -> np.ndarray:
    """A thin diagonal band across a side x side square: a small mask in a medium box."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    y, x = np.mgrid[0:side, 0:side]
    mask[y1 : y1 + side, x1 : x1 + side] = np.abs((side - 1 - x if anti else x) - y) < width
    return mask


def frame(x1: int, y1: int, side: int, thickness: int) -> np.ndarray:
    """A square ring: a medium mask in a large box."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y1 : y1 + side, x1 : x1 + side] = True
    mask[y1 + thickness : y1 + side - thickness, x1 + thickness : x1 + side - thickness] = False
    return mask


def square(x1: int, y1: int, side: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y1 : y1 + side, x1 : x1 + side] = True
    return mask


def pixel_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    rows, columns = np.nonzero(mask)
    return float(columns.min()), float(rows.min()), float(columns.max() + 1), float(rows.max() + 1)


def rle(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


# Expected: a band (mask small, box medium), a ring (mask medium, box large), squares small and large.
EXPECTED = [band(10, 10, 60), frame(100, 20, 120, 6), square(20, 150, 24), square(250, 150, 100)]
# Predicted, with scores: the band exactly, the ring one pixel off, and a false band elsewhere (mask
# small, box medium) scored highest, so that where it is counted changes precision. The square is missed.
PREDICTED = [
    (band(10, 10, 60), 0.8),
    (frame(101, 21, 120, 6), 0.7),
    (band(20, 80, 60, anti=True), 0.9),
    (square(254, 153, 100), 0.6),
]


def test_the_shapes_are_in_different_ranges_by_mask_and_by_box():
    def ranges(mask: np.ndarray) -> tuple[str, str]:
        x1, y1, x2, y2 = pixel_box(mask)
        return tuple(
            "small" if area < SMALL else "large" if area > LARGE else "medium"
            for area in (int(mask.sum()), (x2 - x1) * (y2 - y1))
        )

    expected = [("small", "medium"), ("medium", "large"), ("small", "small"), ("large", "large")]
    assert [ranges(mask) for mask in EXPECTED] == expected
    assert ranges(PREDICTED[2][0]) == ("small", "medium")


def harness_values() -> dict[str, float]:
    objects = tuple(ExpectedObject("shape", pixel_box(mask), 0.5, 0.5, MaskSpec(rle=rle(mask))) for mask in EXPECTED)
    case = Case("c", Path("cases/c.yaml"), Path("cases/c.png"), (WIDTH, HEIGHT), (), objects, 0, None, None, {})
    predictions = Predictions(
        np.array([pixel_box(mask) for mask, _ in PREDICTED]),
        ("shape",) * len(PREDICTED),
        np.array([score for _, score in PREDICTED]),
        [rle(mask) for mask, _ in PREDICTED],
        (WIDTH, HEIGHT),
    )
    return suite_metrics([match_objects(case, predictions, use_masks=True)], with_masks=True).values


def reference_stats() -> list[float]:
    """pycocotools' segm stats 0-5 on the same masks, its inputs built here from the numpy masks."""
    gt = {
        "images": [{"id": 1, "width": WIDTH, "height": HEIGHT}],
        "categories": [{"id": 1, "name": "shape"}],
        "annotations": [
            {
                "id": index,
                "image_id": 1,
                "category_id": 1,
                "segmentation": rle(mask),
                "area": float(mask.sum()),  # COCO's area: the object's pixels, not its box
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "iscrowd": 0,
            }
            for index, mask in enumerate(EXPECTED, start=1)
            for x1, y1, x2, y2 in [pixel_box(mask)]
        ],
    }
    dt = [{"image_id": 1, "category_id": 1, "segmentation": rle(mask), "score": score} for mask, score in PREDICTED]
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = gt
        ground_truth.createIndex()
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(dt), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(value) for value in evaluation.stats[:6]]


def test_mask_map_by_area_range_equals_pycocotools_segm():
    reference = dict(zip(("map50_95", "map50", "map75", *RANGES), reference_stats(), strict=True))
    # Every range has ground truth here, so each is defined, and they differ: a wrong range shows.
    assert all(reference[name] > -1 for name in RANGES) and len({reference[name] for name in RANGES}) == 3
    ours = harness_values()
    for name, expected in reference.items():
        assert ours[f"mask.{name}"] == pytest.approx(expected, abs=1e-6), name
