"""The Ultralytics runner: predictions in original-image pixels, masks at full resolution."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from harness.casefile.load import load_case_file
from harness.casefile.schema import Case
from harness.core.errors import ImageError, ModelError
from harness.evaluation.matching import match_objects
from harness.evaluation.models import Model, ModelPool

from conftest import CASES, FIXTURES, MODELS

sys.path.insert(0, str(FIXTURES))
from shapes import make_scene

PREDICT = {"imgsz": 256, "conf": 0.25}


@pytest.fixture(scope="module")
def seg_model():
    return Model(str(MODELS / "shapes-seg.pt"), "cpu")


@pytest.fixture(scope="module")
def non_square_seg_cases():
    cases = [c for c in load_case_file(CASES / "shapes-seg.yaml").cases if isinstance(c, Case)]
    chosen = [c for c in cases if c.image_size[0] != c.image_size[1] and c.objects]
    assert len(chosen) >= 5
    return chosen


def dense_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def scene_of(case: Case):
    return make_scene("golden", int(case.name.split("-")[1]))


def test_mask_iou_on_non_square_images_equals_a_full_resolution_numpy_computation(seg_model, non_square_seg_cases):
    """The harness' mask IoU (YAML polygon -> RLE -> pycocotools) equals plain numpy on the generator's masks."""
    compared = 0
    for case in non_square_seg_cases:
        scene = scene_of(case)
        predictions = seg_model.predict(case.image, PREDICT)
        verdict = match_objects(case, predictions, use_masks=True)
        # The model's full-resolution masks straight from Ultralytics, as dense arrays.
        rgb = np.asarray(cv2.imread(str(case.image))[..., ::-1])
        result = seg_model.yolo.predict(
            np.ascontiguousarray(rgb[..., ::-1]), retina_masks=True, verbose=False, **PREDICT
        )
        dense = result[0].masks.data.cpu().numpy().astype(bool)
        for shape, outcome in zip(scene.shapes, verdict.objects, strict=True):
            if outcome.prediction is None:
                continue
            truth = shape.mask(scene.height, scene.width)
            assert dense[outcome.prediction].shape == truth.shape == (case.image_size[1], case.image_size[0])
            assert outcome.mask_iou == pytest.approx(dense_iou(truth, dense[outcome.prediction]), abs=0.01)
            compared += 1
    assert compared >= 10


def test_full_resolution_masks_agree_with_an_independent_unletterboxing(seg_model, non_square_seg_cases):
    """Undo the letterbox by hand on the input-resolution masks: the IoUs agree with the harness'.

    The reference thresholds at input resolution before resizing, which loses a little at the edges,
    so single objects may differ by a few hundredths; on average they agree within 0.01. Resizing the
    letterboxed mask without removing the padding first would be off by far more.
    """
    differences, areas, naive_losses = [], [], []
    for case in non_square_seg_cases:
        scene = scene_of(case)
        width, height = case.image_size
        verdict = match_objects(case, seg_model.predict(case.image, PREDICT), use_masks=True)
        bgr = cv2.imread(str(case.image))
        low = seg_model.yolo.predict(bgr, verbose=False, **PREDICT)[0].masks.data.cpu().numpy().astype(np.float32)
        in_h, in_w = low.shape[1:]
        gain = min(in_h / height, in_w / width)
        new_w, new_h = round(width * gain), round(height * gain)
        top, left = round((in_h - new_h) / 2 - 0.1), round((in_w - new_w) / 2 - 0.1)
        for shape, outcome in zip(scene.shapes, verdict.objects, strict=True):
            if outcome.prediction is None:
                continue
            truth = shape.mask(height, width)
            crop = low[outcome.prediction, top : top + new_h, left : left + new_w]
            reference = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
            naive = cv2.resize(low[outcome.prediction], (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
            differences.append(abs(outcome.mask_iou - dense_iou(truth, reference)))
            areas.append(int(truth.sum()))
            naive_losses.append(outcome.mask_iou - dense_iou(truth, naive))
    assert len(differences) >= 10
    assert np.mean(differences) <= 0.01
    # Thresholding before resizing moves the edge by up to one input pixel (1.5 image pixels here):
    # on a small object (under ~1,500 pixels) that alone is a few hundredths of IoU.
    assert max(d for a, d in zip(areas, differences, strict=True) if a >= 1500) <= 0.03
    # Only meaningful where padding exists; the harness must beat the naive resize there.
    assert np.mean(naive_losses) > 0


def test_boxes_are_in_original_image_pixels(seg_model, non_square_seg_cases):
    case = non_square_seg_cases[0]
    predictions = seg_model.predict(case.image, PREDICT)
    width, height = case.image_size
    assert predictions.image_size == (width, height)
    assert (predictions.boxes[:, [0, 2]] <= width + 1).all() and (predictions.boxes[:, [1, 3]] <= height + 1).all()
    verdict = match_objects(case, predictions, use_masks=True)
    assert all(result.box_iou > 0.75 for result in verdict.objects if result.prediction is not None)


def test_each_image_is_predicted_once(seg_model, non_square_seg_cases):
    case = non_square_seg_cases[1]
    before = seg_model.images_predicted
    first = seg_model.predict(case.image, PREDICT)
    second = seg_model.predict(case.image, dict(PREDICT))
    assert first is second
    assert seg_model.images_predicted - before <= 1


def test_pool_loads_lazily_once_and_remembers_a_failed_load(tmp_path):
    pool = ModelPool("cpu")
    spec = str(MODELS / "shapes-detect.pt")
    model = pool.get(spec)
    assert model is pool.get(spec)
    assert not model.loaded  # nothing asked of it yet
    assert model.task == "detect" and model.loaded
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    for _ in range(2):
        with pytest.raises(ModelError, match=r"cannot load model .*broken\.pt"):
            pool.get(str(broken)).names  # noqa: B018 - the lookup itself loads the model
    assert pool.used() == []  # neither predicted anything


def test_an_image_that_is_not_an_image_is_an_image_error(seg_model, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    with pytest.raises(ImageError, match="cannot decode image"):
        seg_model.predict(fake, PREDICT)


def test_batched_predictions_equal_one_by_one_and_bad_images_stay_out(tmp_path, non_square_seg_cases):
    images = [case.image for case in non_square_seg_cases]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    single = Model(str(MODELS / "shapes-seg.pt"), "cpu", batch=1)
    batched = Model(str(MODELS / "shapes-seg.pt"), "cpu", batch=4)
    batched.predict_many([*images, broken, images[0]], PREDICT)  # a repeat, and an image that cannot be read
    assert batched.images_predicted == len(images)  # each readable image once; the broken one left out
    for case in non_square_seg_cases:
        one, many = single.predict(case.image, PREDICT), batched.predict(case.image, PREDICT)
        assert one.class_names == many.class_names
        # Batching changes float rounding on the CPU (never the detections): hence batch 1 by default there.
        assert np.abs(one.boxes - many.boxes).max(initial=0) < 1e-3
        pairs = zip(
            match_objects(case, one, use_masks=True).objects,
            match_objects(case, many, use_masks=True).objects,
            strict=True,
        )
        for a, b in pairs:
            assert abs(a.mask_iou - b.mask_iou) < 1e-4
    assert batched.images_predicted == len(images)  # the loop above was answered from memory
    with pytest.raises(ImageError, match="cannot decode image"):
        batched.predict(broken, PREDICT)


def test_the_reader_decodes_an_image_once_for_its_consecutive_variants(monkeypatch):
    import harness.evaluation.image_batches as batches
    from harness.core.transforms import Step, Transform

    decoded = []
    real = batches.load_image
    monkeypatch.setattr(batches, "load_image", lambda path: decoded.append(path) or real(path))
    image = FIXTURES / "images" / "golden-001.png"
    other = FIXTURES / "images" / "golden-002.png"
    flips = [Transform((Step(kind),)) for kind in ("hflip", "vflip", "rot180")]
    reader = batches.ChunkReader()
    chunk = reader([(image, None), (image, flips[0])]) + reader([(image, flips[1]), (other, None), (image, flips[2])])
    assert decoded == [image, other, image]  # once per run of the same file, across chunks
    for (source, bgr), expected in zip(chunk, [(image, None), (image, flips[0]), (image, flips[1])], strict=False):
        assert source == expected and np.array_equal(bgr, batches.bgr(source))
