"""Our mAP equals pycocotools' COCOeval (bbox and segm) to 1e-6; precision / recall / F1 by hand.

Every reference number here comes from pycocotools run on COCO dicts that the test builds itself
from a random scenario, never from harness code (``coco_inputs`` is only what is under test).
pycocotools' ``loadRes`` refuses an empty detection list; where a scenario has no detections the
reference gets one detection of a category the ground truth does not have, which COCOeval never
reads (it evaluates the ground truth's categories only), so it answers exactly as COCOeval would
with nothing detected.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from harness.casefile.schema import Case, ExpectedObject, MaskSpec
from harness.evaluation.matching import match_objects
from harness.evaluation.metrics import coco_map_values, suite_metrics
from harness.evaluation.predictions import Predictions

TOLERANCE = 1e-6
STATS = ("map50_95", "map50", "map75", "map_small", "map_medium", "map_large")  # summarize() stats 0-5
IOU_TYPE = {"box": "bbox", "mask": "segm"}
SCORES = (0.3, 0.5, 0.9)  # a tiny set, so that scores tie within and across images
CATEGORY_IDS = (1, 2, 5, 9)  # deliberately not contiguous
NO_GT_CATEGORY = 12  # listed, detected, never annotated
PHANTOM_CATEGORY = 999  # not in the ground truth: COCOeval never reads it


# --- the reference: pycocotools ------------------------------------------------------------------


def reference_eval(gt: dict, dt: list[dict], iou_type: str, *, img_ids: list[int] | None = None) -> COCOeval:
    """pycocotools' COCOeval, evaluated, accumulated and summarized, over ``img_ids`` (all when None)."""
    dt = copy.deepcopy(dt)  # loadRes writes ids and areas into its input
    if not dt:
        first = gt["images"][0]["id"]
        dt = [{"image_id": first, "category_id": PHANTOM_CATEGORY, "bbox": [0.0, 0.0, 1.0, 1.0], "score": 0.5}]
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = copy.deepcopy(gt)
        ground_truth.createIndex()
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(dt), iou_type)
        if img_ids is not None:
            evaluation.params.imgIds = list(img_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def stats_of(evaluation: COCOeval, category: int | None = None) -> list[float]:
    """summarize()'s stats 0-5, restricted to one category (an index into params.catIds) when given.

    The same arithmetic as COCOeval.summarize: mean of precision > -1 at maxDets 100, -1 when none.
    """
    params = evaluation.params
    precision = evaluation.eval["precision"]
    if category is not None:
        precision = precision[:, :, category : category + 1]
    areas = {label: index for index, label in enumerate(params.areaRngLbl)}
    max_det = params.maxDets.index(100)
    out = []
    for iou, area in ((None, "all"), (0.5, "all"), (0.75, "all"), (None, "small"), (None, "medium"), (None, "large")):
        selected = precision[..., areas[area], max_det]
        if iou is not None:
            selected = selected[np.where(iou == params.iouThrs)[0]]
        valid = selected[selected > -1]
        out.append(float(np.mean(valid)) if valid.size else -1.0)
    return out


def assert_matches(ours: dict[str, float], reference: list[float], kind: str, where: str = "") -> None:
    for name, expected in zip(STATS, reference, strict=True):
        key = f"{kind}.{name}"
        if expected == -1:
            assert key not in ours, f"{where}{key}: pycocotools says undefined (-1), we say {ours.get(key)}"
        else:
            assert key in ours, f"{where}{key}: pycocotools says {expected}, we have no value"
            assert abs(ours[key] - expected) <= TOLERANCE, f"{where}{key}: ours {ours[key]} != pycocotools {expected}"


def check_against_pycocotools(gt: dict, dt: list[dict], kind: str, subset: list[int]) -> COCOeval:
    """Whole set, each category, and an image subset: ours against pycocotools."""
    reference = reference_eval(gt, dt, IOU_TYPE[kind])
    assert stats_of(reference) == pytest.approx(list(reference.stats[:6]), abs=1e-12)  # stats_of is summarize
    assert_matches(coco_map_values(gt, dt, kind), stats_of(reference), kind)
    for index, category in enumerate(reference.params.catIds):
        ours = coco_map_values(gt, dt, kind, category=index)
        assert_matches(ours, stats_of(reference, index), kind, f"category {category}: ")
    on_subset = reference_eval(gt, dt, IOU_TYPE[kind], img_ids=subset)
    assert_matches(coco_map_values(gt, dt, kind, image_ids=subset), stats_of(on_subset), kind, f"images {subset}: ")
    return reference


# --- random scenarios ----------------------------------------------------------------------------

# Box sides per COCO area range: small < 32^2 <= medium <= 96^2 < large. The bands include 32 and 96,
# so areas of exactly 32^2 and 96^2 (in two ranges at once) can occur.
SIDE_BANDS = ((2, 32), (32, 96), (96, 300))
BOX_IMAGE_SIZES = ((640, 480), (320, 240), (640, 640), (160, 120))


@st.composite
def box_scenarios(draw) -> tuple[dict, list[dict], list[int]]:
    """COCO ground truth and detections (bbox) on a few images, and a subset of image ids."""
    categories = list(CATEGORY_IDS[: draw(st.integers(1, len(CATEGORY_IDS)))])
    images, annotations, detections = [], [], []
    for image_id in range(1, draw(st.integers(1, 5)) + 1):
        width, height = draw(st.sampled_from(BOX_IMAGE_SIZES))
        images.append({"id": image_id, "width": width, "height": height})
        boxes = []
        for _ in range(draw(st.integers(0, 4))):
            w = min(draw(st.integers(*draw(st.sampled_from(SIDE_BANDS)))), width)
            h = min(draw(st.integers(*draw(st.sampled_from(SIDE_BANDS)))), height)
            x, y = draw(st.integers(0, width - w)), draw(st.integers(0, height - h))
            category = draw(st.sampled_from(categories))
            crowd = draw(st.integers(0, 4)) == 0
            boxes.append((category, [x, y, w, h]))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": [float(x), float(y), float(w), float(h)],
                    "area": float(w * h),
                    "iscrowd": int(crowd),
                }
            )
            event(f"box area {'small' if w * h < 32**2 else 'large' if w * h > 96**2 else 'medium'}")
            event("crowd region") if crowd else None
        for _ in range(draw(st.integers(0, 5))):
            if boxes and draw(st.booleans()):  # a jittered copy of a ground-truth box, maybe mislabelled
                category, (x, y, w, h) = draw(st.sampled_from(boxes))
                x += draw(st.integers(-w // 3, w // 3)) + draw(st.sampled_from((0.0, 0.5)))
                y += draw(st.integers(-h // 3, h // 3))
                w += draw(st.integers(-w // 4, w // 4))
                h += draw(st.integers(-h // 4, h // 4))
                if draw(st.integers(0, 4)) == 0:
                    category = draw(st.sampled_from([*categories, NO_GT_CATEGORY]))
            else:  # a false positive anywhere
                w = draw(st.integers(*draw(st.sampled_from(SIDE_BANDS))))
                h = draw(st.integers(*draw(st.sampled_from(SIDE_BANDS))))
                x, y = draw(st.integers(0, width)), draw(st.integers(0, height))
                category = draw(st.sampled_from([*categories, NO_GT_CATEGORY]))
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": [float(x), float(y), float(max(w, 1)), float(max(h, 1))],
                    "score": draw(st.sampled_from(SCORES)),
                }
            )
        _coverage_events(image_id, annotations, detections)
    return _dataset(draw, images, annotations, categories, detections)


def _dataset(draw, images: list[dict], annotations: list[dict], categories, detections: list[dict]):
    """The ground truth dict (plus a category nobody annotated), detections, and a random image subset."""
    gt = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": f"c{c}"} for c in [*categories, NO_GT_CATEGORY]],
    }
    subset = draw(st.lists(st.sampled_from([i["id"] for i in images]), min_size=1, unique=True))
    return gt, detections, sorted(subset)


def _coverage_events(image_id: int, annotations: list[dict], detections: list[dict]) -> None:
    gts = [a for a in annotations if a["image_id"] == image_id]
    dts = [d for d in detections if d["image_id"] == image_id]
    if not gts:
        event("image without ground truth")
    elif not dts:
        event("image with ground truth, no detections")
    if len({d["score"] for d in dts}) < len(dts):
        event("tied scores in an image")
    if any(d["category_id"] == NO_GT_CATEGORY for d in dts):
        event("detection of a category without ground truth")


MASK_IMAGE_SIZES = ((64, 48), (48, 64), (128, 112))  # the last allows masks above 96^2 pixels


def _shape(draw, width: int, height: int) -> np.ndarray:
    """A random rectangle, ellipse, two-rectangle blob or near-full rectangle, as a dense mask."""
    mask = np.zeros((height, width), dtype=bool)
    shape = draw(st.sampled_from(("rectangle", "ellipse", "blob", "most of the image")))
    if shape == "most of the image":  # above 96^2 pixels on the largest image size
        left, top, right, bottom = (draw(st.integers(0, 8)) for _ in range(4))
        mask[top : height - bottom, left : width - right] = True
        return mask
    for _ in range(2 if shape == "blob" else 1):
        x1, x2 = sorted(draw(st.lists(st.integers(0, width), min_size=2, max_size=2, unique=True)))
        y1, y2 = sorted(draw(st.lists(st.integers(0, height), min_size=2, max_size=2, unique=True)))
        if shape == "ellipse":
            ys, xs = np.mgrid[:height, :width]
            cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, max((x2 - x1) / 2, 1), max((y2 - y1) / 2, 1)
            mask |= ((xs + 0.5 - cx) / rx) ** 2 + ((ys + 0.5 - cy) / ry) ** 2 <= 1
        else:
            mask[y1:y2, x1:x2] = True
    return mask


def _encode(mask: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def _moved(mask: np.ndarray, dx: int, dy: int, grow: int) -> np.ndarray:
    """``mask`` shifted by (dx, dy) without wrapping, then grown (grow > 0) or shrunk (< 0) by a pixel."""
    height, width = mask.shape
    out = np.zeros_like(mask)
    out[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = mask[
        max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    if grow:
        padded = np.pad(out, 1)
        neighbours = [padded[1 + a : 1 + a + height, 1 + b : 1 + b + width] for a in (-1, 0, 1) for b in (-1, 0, 1)]
        out = np.logical_or.reduce(neighbours) if grow > 0 else np.logical_and.reduce(neighbours)
    return out


@st.composite
def mask_scenarios(draw) -> tuple[dict, list[dict], list[int]]:
    """COCO ground truth and detections (segm, compressed RLE) on a few small images, and an image subset."""
    categories = list(CATEGORY_IDS[: draw(st.integers(1, 3))])
    with_bbox = draw(st.booleans())  # detections with a bbox get loadRes' box area, without it the mask area
    images, annotations, detections = [], [], []
    for image_id in range(1, draw(st.integers(1, 4)) + 1):
        width, height = draw(st.sampled_from(MASK_IMAGE_SIZES))
        images.append({"id": image_id, "width": width, "height": height})
        masks = []
        for _ in range(draw(st.integers(0, 3))):
            mask = _shape(draw, width, height)
            category = draw(st.sampled_from(categories))
            crowd = draw(st.integers(0, 5)) == 0
            masks.append((category, mask))
            rle = _encode(mask)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "segmentation": rle,
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "area": float(mask_utils.area(rle)),
                    "iscrowd": int(crowd),
                }
            )
            area = int(mask.sum())
            event(f"mask area {'small' if area < 32**2 else 'large' if area > 96**2 else 'medium'}")
            event("crowd region") if crowd else None
        for _ in range(draw(st.integers(0, 4))):
            if masks and draw(st.booleans()):
                category, mask = draw(st.sampled_from(masks))
                mask = _moved(mask, draw(st.integers(-4, 4)), draw(st.integers(-4, 4)), draw(st.integers(-1, 1)))
                if draw(st.integers(0, 4)) == 0:
                    category = draw(st.sampled_from([*categories, NO_GT_CATEGORY]))
            elif draw(st.integers(0, 5)) == 0:
                category, mask = draw(st.sampled_from(categories)), np.zeros((height, width), dtype=bool)
            else:
                category, mask = draw(st.sampled_from([*categories, NO_GT_CATEGORY])), _shape(draw, width, height)
            rle = _encode(mask)
            detection = {"image_id": image_id, "category_id": category, "segmentation": rle}
            if with_bbox:
                detection["bbox"] = [float(v) for v in mask_utils.toBbox(rle)]
            detections.append(detection | {"score": draw(st.sampled_from(SCORES))})
        _coverage_events(image_id, annotations, detections)
    return _dataset(draw, images, annotations, categories, detections)


# --- coco_map_values against pycocotools ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(box_scenarios())
def test_box_map_equals_pycocotools(scenario):
    gt, dt, subset = scenario
    assume(dt)  # nothing detected at all: test_no_detections_equals_pycocotools
    check_against_pycocotools(gt, dt, "box", subset)


@settings(max_examples=120, deadline=None)
@given(mask_scenarios())
def test_mask_map_equals_pycocotools(scenario):
    gt, dt, subset = scenario
    assume(dt)
    check_against_pycocotools(gt, dt, "mask", subset)


@settings(max_examples=60, deadline=None)
@given(st.one_of(box_scenarios().map(lambda s: ("box", s)), mask_scenarios().map(lambda s: ("mask", s))))
def test_no_detections_equals_pycocotools(kind_and_scenario):
    """Nothing detected: AP 0 for each category with (non-crowd) ground truth, undefined for the rest."""
    kind, (gt, _, subset) = kind_and_scenario
    reference = check_against_pycocotools(gt, [], kind, subset)
    for index, category in enumerate(reference.params.catIds):
        counted = [a for a in gt["annotations"] if a["category_id"] == category and not a["iscrowd"]]
        ours = coco_map_values(gt, [], kind, category=index)
        if counted:
            assert ours[f"{kind}.map50_95"] == ours[f"{kind}.map50"] == ours[f"{kind}.map75"] == 0.0
        else:
            assert f"{kind}.map50_95" not in ours


def _box_gt(*annotations: tuple[int, list[float], int]) -> dict:
    """Ground truth on two 640x480 images from (image id, [x, y, w, h], iscrowd); one category."""
    return {
        "images": [{"id": 1, "width": 640, "height": 480}, {"id": 2, "width": 640, "height": 480}],
        "annotations": [
            {"id": i, "image_id": image, "category_id": 1, "bbox": box, "area": box[2] * box[3], "iscrowd": crowd}
            for i, (image, box, crowd) in enumerate(annotations, start=1)
        ],
        "categories": [{"id": 1, "name": "a"}],
    }


@pytest.mark.parametrize(
    ("gt", "image_ids", "expected"),
    [
        pytest.param(_box_gt((1, [0.0, 0.0, 10.0, 10.0], 0)), None, [0, 0, 0, 0, -1, -1], id="small-object-only"),
        pytest.param(_box_gt((1, [0.0, 0.0, 2.0, 2.0], 1)), None, [-1] * 6, id="crowd-only"),
        pytest.param(_box_gt((1, [0.0, 0.0, 10.0, 10.0], 0)), [2], [-1] * 6, id="subset-without-ground-truth"),
    ],
)
def test_no_detections_minimal(gt, image_ids, expected):
    """Minimal cases hypothesis found for test_no_detections_equals_pycocotools.

    pycocotools gives AP 0 only for area ranges holding non-crowd ground truth of the class; -1 for
    an area range without any, for a class whose only ground truth is crowd, and for no images.
    """
    assert stats_of(reference_eval(gt, [], "bbox", img_ids=image_ids)) == expected
    assert_matches(coco_map_values(gt, [], "box", image_ids=image_ids), expected, "box")


@pytest.mark.parametrize("detected", [False, True], ids=["no-detections", "detections"])
def test_empty_image_subset_is_undefined(detected):
    """``image_ids=[]`` evaluates no image at all (pycocotools' ``params.imgIds = []``), not every image."""
    gt = _box_gt((1, [0.0, 0.0, 10.0, 10.0], 0), (2, [50.0, 50.0, 100.0, 100.0], 0))
    dt = [{"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 10.0, 10.0], "score": 0.9}] if detected else []
    assert stats_of(reference_eval(gt, dt, "bbox", img_ids=[])) == [-1] * 6
    assert coco_map_values(gt, dt, "box", image_ids=[]) == {}


def test_category_is_an_index_into_sorted_category_ids():
    """``category=k`` is COCOeval's k-th category: ids sorted, whatever their order in the dataset."""
    gt = _box_gt((1, [0.0, 0.0, 50.0, 50.0], 0), (2, [10.0, 10.0, 20.0, 20.0], 0))
    gt["annotations"][1]["category_id"] = 3
    gt["categories"] = [{"id": 7, "name": "seven"}, {"id": 3, "name": "three"}]
    gt["annotations"][0]["category_id"] = 7
    dt = [
        {"image_id": 1, "category_id": 7, "bbox": [0.0, 0.0, 50.0, 50.0], "score": 0.9},
        {"image_id": 2, "category_id": 3, "bbox": [300.0, 300.0, 20.0, 20.0], "score": 0.9},
    ]
    assert reference_eval(gt, dt, "bbox").params.catIds == [3, 7]
    assert coco_map_values(gt, dt, "box", category=0)["box.map50"] == 0.0  # id 3: missed
    assert coco_map_values(gt, dt, "box", category=1)["box.map50"] == pytest.approx(1.0)  # id 7: found


def test_no_ground_truth_at_all_is_undefined():
    gt = {"images": [{"id": 1, "width": 64, "height": 48}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    dt = [{"image_id": 1, "category_id": 1, "bbox": [1.0, 1.0, 10.0, 10.0], "score": 0.9}]
    assert list(reference_eval(gt, dt, "bbox").stats[:6]) == [-1] * 6
    assert coco_map_values(gt, dt, "box") == {}
    assert coco_map_values(gt, [], "box") == {}


def test_perfect_detections_are_one_and_inputs_are_untouched():
    gt = {
        "images": [{"id": 1, "width": 640, "height": 480}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10.0, 10.0, 20.0, 20.0], "area": 400.0, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100.0, 100.0, 200.0, 200.0], "area": 4e4, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "a"}],
    }
    dt = [{"image_id": 1, "category_id": 1, "bbox": a["bbox"], "score": 0.9} for a in gt["annotations"]]
    before = copy.deepcopy((gt, dt))
    ours = coco_map_values(gt, dt, "box")
    assert ours == pytest.approx(
        {"box.map50_95": 1.0, "box.map50": 1.0, "box.map75": 1.0, "box.map_small": 1.0, "box.map_large": 1.0},
        abs=TOLERANCE,
    )
    assert (gt, dt) == before


# --- suite_metrics end to end --------------------------------------------------------------------

CLASSES = ("bird", "cat", "dog")
TAGS = ("night", "rain")
SUITE_SIZE = (64, 48)  # width, height


@dataclasses.dataclass
class Scenario:
    """Cases as integer rectangles: expected (class, x1, y1, x2, y2) and predicted (class, box, score)."""

    expected: list[list[tuple]] = dataclasses.field(default_factory=list)
    predicted: list[list[tuple]] = dataclasses.field(default_factory=list)
    tags: list[tuple[str, ...]] = dataclasses.field(default_factory=list)


def _rectangle(box: tuple[int, int, int, int]) -> np.ndarray:
    width, height = SUITE_SIZE
    mask = np.zeros((height, width), dtype=bool)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = True
    return mask


@st.composite
def suite_scenarios(draw) -> Scenario:
    width, height = SUITE_SIZE
    scenario = Scenario()

    def rectangle():
        x1, x2 = sorted(draw(st.lists(st.integers(0, width), min_size=2, max_size=2, unique=True)))
        y1, y2 = sorted(draw(st.lists(st.integers(0, height), min_size=2, max_size=2, unique=True)))
        return (x1, y1, x2, y2)

    for _ in range(draw(st.integers(1, 5))):
        expected = [(draw(st.sampled_from(CLASSES[:2])), *rectangle()) for _ in range(draw(st.integers(0, 3)))]
        predicted = []
        for _ in range(draw(st.integers(0, 4))):
            if expected and draw(st.booleans()):
                name, x1, y1, x2, y2 = draw(st.sampled_from(expected))
                dx, dy = draw(st.integers(-3, 3)), draw(st.integers(-3, 3))
                box = (max(x1 + dx, 0), max(y1 + dy, 0), min(x2 + dx, width), min(y2 + dy, height))
                if box[2] <= box[0] or box[3] <= box[1]:
                    box = (x1, y1, x2, y2)
                name = draw(st.sampled_from(CLASSES)) if draw(st.integers(0, 4)) == 0 else name
            else:
                name, box = draw(st.sampled_from(CLASSES)), rectangle()
            predicted.append((name, box, draw(st.sampled_from(SCORES))))
        scenario.expected.append(expected)
        scenario.predicted.append(predicted)
        scenario.tags.append(tuple(t for t in TAGS if draw(st.booleans())))
    return scenario


def _case(expected: list[tuple], tags: tuple[str, ...], index: int, *, with_masks: bool) -> Case:
    objects = tuple(
        ExpectedObject(
            name,
            (float(x1), float(y1), float(x2), float(y2)),
            0.5,
            0.6,
            MaskSpec(rle=_encode(_rectangle((x1, y1, x2, y2)))) if with_masks else None,
        )
        for name, x1, y1, x2, y2 in expected
    )
    return Case(
        name=f"case{index}",
        file=Path("cases/random.yaml"),
        image=Path(f"images/{index}.png"),
        image_size=SUITE_SIZE,
        tags=tags,
        objects=objects,
        max_extra=0,
        model=None,
        task=None,
        predict={},
    )


def _predictions(predicted: list[tuple], *, with_masks: bool) -> Predictions:
    return Predictions(
        boxes=np.array([box for _, box, _ in predicted], dtype=np.float64).reshape(-1, 4),
        class_names=tuple(name for name, _, _ in predicted),
        scores=np.array([score for _, _, score in predicted], dtype=np.float64),
        masks=[_encode(_rectangle(box)) for _, box, _ in predicted] if with_masks else None,
        image_size=SUITE_SIZE,
    )


def reference_coco(scenario: Scenario, kind: str) -> tuple[dict, list[dict], dict[str, int]]:
    """The scenario as COCO dicts, built here; category ids by class name."""
    names = sorted(
        {o[0] for objects in scenario.expected for o in objects} | {p[0] for ps in scenario.predicted for p in ps}
    )
    category = {name: 10 * (i + 1) for i, name in enumerate(names)}
    width, height = SUITE_SIZE
    images, annotations, detections = [], [], []
    for image_id, (expected, predicted) in enumerate(zip(scenario.expected, scenario.predicted, strict=True), start=1):
        images.append({"id": image_id, "width": width, "height": height})
        for name, x1, y1, x2, y2 in expected:
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": category[name],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1),
                "iscrowd": 0,
            }
            if kind == "mask":
                annotation["segmentation"] = _encode(_rectangle((x1, y1, x2, y2)))
            annotations.append(annotation)
        for name, (x1, y1, x2, y2), score in predicted:
            detection = {"image_id": image_id, "category_id": category[name], "score": score}
            if kind == "mask":
                detection["segmentation"] = _encode(_rectangle((x1, y1, x2, y2)))
            detection["bbox"] = [x1, y1, x2 - x1, y2 - y1]
            detections.append(detection)
    categories = [{"id": i, "name": name} for name, i in category.items()]
    return {"images": images, "annotations": annotations, "categories": categories}, detections, category


def judged(scenario: Scenario, *, with_masks: bool) -> list:
    return [
        match_objects(
            _case(expected, tags, index, with_masks=with_masks),
            _predictions(predicted, with_masks=with_masks),
            use_masks=with_masks,
        )
        for index, (expected, predicted, tags) in enumerate(
            zip(scenario.expected, scenario.predicted, scenario.tags, strict=True)
        )
    ]


def check_suite_against_pycocotools(scenario: Scenario, *, with_masks: bool) -> None:
    metrics = suite_metrics(judged(scenario, with_masks=with_masks), with_masks=with_masks)
    assert metrics.images == len(scenario.expected)
    if not with_masks:
        assert not any(key.startswith("mask.") for key in metrics.flat())
    for kind in ("box", "mask") if with_masks else ("box",):
        gt, dt, category = reference_coco(scenario, kind)
        if not gt["annotations"]:
            assert not any(f"{kind}.map" in key for key in metrics.flat())
            continue
        reference = reference_eval(gt, dt, IOU_TYPE[kind])
        assert_matches(metrics.values, stats_of(reference), kind)
        for name, category_id in category.items():
            index = reference.params.catIds.index(category_id)
            assert_matches(metrics.per_class.get(name, {}), stats_of(reference, index), kind, f"class {name}: ")
        for tag in TAGS:
            ids = [i for i, tags in enumerate(scenario.tags, start=1) if tag in tags]
            if not ids:
                assert tag not in metrics.per_tag
                continue
            on_tag = reference_eval(gt, dt, IOU_TYPE[kind], img_ids=ids)
            assert_matches(metrics.per_tag[tag], stats_of(on_tag), kind, f"tag {tag}: ")


@settings(max_examples=60, deadline=None)
@given(suite_scenarios(), st.booleans())
def test_suite_metrics_equal_pycocotools(scenario, with_masks):
    assume(any(scenario.predicted))  # nothing predicted at all: the next test
    check_suite_against_pycocotools(scenario, with_masks=with_masks)


@settings(max_examples=20, deadline=None)
@given(suite_scenarios(), st.booleans())
def test_suite_metrics_without_predictions_equal_pycocotools(scenario, with_masks):
    nothing = dataclasses.replace(scenario, predicted=[[] for _ in scenario.predicted])
    check_suite_against_pycocotools(nothing, with_masks=with_masks)


def test_precision_recall_f1_by_hand():
    """Two cases; thresholds box 0.5 and mask 0.6 (see ``_case``).

    case0: cat A (0,0,20,20) predicted exactly                  -> box found, mask found
           cat B (30,0,50,20) predicted as (30,0,50,12), IoU 0.6 -> box found, mask found (0.6 >= 0.6)
           dog (0,24,20,44) predicted as (0,24,20,32), IoU 0.4   -> box missed, mask missed
           an extra bird prediction                              -> counts against precision
    case1: cat (10,10,30,30) predicted as (10,10,30,21), IoU 0.55 -> box found, mask missed (0.55 < 0.6)
           no dog found; an extra cat (40,30,60,46) with no overlap
    Box: TP 3, predicted 6, expected 5. Mask: TP 2.
    """
    scenario = Scenario(
        expected=[
            [("cat", 0, 0, 20, 20), ("cat", 30, 0, 50, 20), ("dog", 0, 24, 20, 44)],
            [("cat", 10, 10, 30, 30), ("dog", 40, 0, 60, 20)],
        ],
        predicted=[
            [
                ("cat", (0, 0, 20, 20), 0.9),
                ("cat", (30, 0, 50, 12), 0.8),
                ("dog", (0, 24, 20, 32), 0.7),
                ("bird", (40, 30, 60, 46), 0.6),
            ],
            [("cat", (10, 10, 30, 21), 0.9), ("cat", (40, 30, 60, 46), 0.5)],
        ],
        tags=[("night",), ()],
    )
    metrics = suite_metrics(judged(scenario, with_masks=True), with_masks=True)
    values = metrics.values
    assert values["box.precision"] == pytest.approx(3 / 6)
    assert values["box.recall"] == pytest.approx(3 / 5)
    assert values["box.f1"] == pytest.approx(2 * (3 / 6) * (3 / 5) / (3 / 6 + 3 / 5))
    assert values["mask.precision"] == pytest.approx(2 / 6)
    assert values["mask.recall"] == pytest.approx(2 / 5)
    assert values["mask.f1"] == pytest.approx(2 * (2 / 6) * (2 / 5) / (2 / 6 + 2 / 5))

    cat, dog, bird = (metrics.per_class[name] for name in ("cat", "dog", "bird"))
    assert (cat["box.precision"], cat["box.recall"]) == pytest.approx((3 / 4, 3 / 3))
    assert (cat["mask.precision"], cat["mask.recall"]) == pytest.approx((2 / 4, 2 / 3))
    assert (dog["box.precision"], dog["box.recall"], dog["box.f1"]) == (0.0, 0.0, 0.0)
    assert bird["box.precision"] == 0.0
    assert "box.recall" not in bird and "box.f1" not in bird  # no bird expected
    assert "box.map50_95" not in bird  # no ground truth: AP undefined

    night = metrics.per_tag["night"]
    assert (night["box.precision"], night["box.recall"]) == pytest.approx((2 / 4, 2 / 3))
    assert (night["mask.precision"], night["mask.recall"]) == pytest.approx((2 / 4, 2 / 3))


def test_no_predictions_leave_precision_undefined():
    scenario = Scenario(expected=[[("cat", 0, 0, 20, 20)]], predicted=[[]], tags=[()])
    metrics = suite_metrics(judged(scenario, with_masks=False), with_masks=False)
    assert metrics.values["box.recall"] == 0.0
    assert "box.precision" not in metrics.values and "box.f1" not in metrics.values
    assert metrics.values["box.map50_95"] == 0.0


def test_suite_metrics_with_a_crowd_region_equal_pycocotools():
    from pathlib import Path

    from harness.casefile.schema import Case, ExpectedObject
    from harness.evaluation.matching import match_objects
    from harness.evaluation.metrics import suite_metrics
    from harness.evaluation.predictions import Predictions

    objects = (
        ExpectedObject("cat", (0.0, 0.0, 40.0, 40.0), 0.5, 0.5),
        ExpectedObject("cat", (100.0, 100.0, 200.0, 200.0), 0.5, 0.5, crowd=True),
    )
    case = Case("c", Path("x.yaml"), Path("x.png"), (320, 240), (), objects, 0, None, None, {})
    boxes = np.array([[2.0, 1.0, 41.0, 40.0], [110.0, 110.0, 150.0, 150.0], [250.0, 10.0, 290.0, 50.0]])
    preds = Predictions(boxes, ("cat", "cat", "cat"), np.array([0.9, 0.8, 0.7]), None, (320, 240))
    ours = suite_metrics([match_objects(case, preds, use_masks=False)], with_masks=False)

    gt = {
        "images": [{"id": 1, "width": 320, "height": 240}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40], "area": 1600, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [100, 100, 100, 100], "area": 1e4, "iscrowd": 1},
        ],
    }
    dt = [
        {"image_id": 1, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s}
        for (x1, y1, x2, y2), s in zip(boxes.tolist(), (0.9, 0.8, 0.7), strict=True)
    ]
    reference = reference_eval(gt, dt, "bbox").stats
    assert ours.values["box.map50_95"] == pytest.approx(reference[0], abs=1e-6)
    assert ours.values["box.map50"] == pytest.approx(reference[1], abs=1e-6)
    # One true positive, one prediction ignored by the crowd region, one extra.
    assert ours.values["box.precision"] == pytest.approx(1 / 2)
    assert ours.values["box.recall"] == pytest.approx(1.0)
