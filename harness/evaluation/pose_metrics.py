"""Keypoint mAP (``pose.map50_95``, ``pose.map50``, ``pose.map75``, ``pose.map_medium``,
``pose.map_large``): pycocotools' ``COCOeval(iouType="keypoints")``, computed by hotcoco.

COCO's keypoint evaluation matches on OKS with the suite's sigmas, keeps the 20 best-scoring
detections per image, and has no "small" area range. Ground truth areas are the ones the per-case
verdicts use (``area:``, else mask, else box); an expected object without a labelled keypoint is
ignored, as COCO ignores ``num_keypoints == 0``. tests/unit/test_pose_metrics.py checks the numbers
against pycocotools to 1e-6.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from harness.evaluation.pose_matching import object_area, sigmas_for

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict

# COCO's keypoint evaluation keeps an image's 20 best detections (params.maxDets), not 100.
POSE_MAX_DETECTIONS = 20
# COCOeval.summarize's keypoint stats 0-4: all OKS thresholds, 0.5, 0.75 at area "all"; medium; large.
POSE_MAP_ROWS = (
    ("map50_95", slice(None), 0),
    ("map50", slice(0, 1), 0),
    ("map75", slice(5, 6), 0),
    ("map_medium", slice(None), 1),
    ("map_large", slice(None), 2),
)


def has_pose(verdicts: Sequence[CaseVerdict]) -> bool:
    """Whether keypoint mAP is defined: a pose model's predictions, and keypoints on every object
    that is not a crowd region (at least one)."""
    objects = [o.expected for v in verdicts for o in v.objects if not o.expected.crowd]
    return (
        bool(objects)
        and all(v.predictions.keypoints is not None for v in verdicts)
        and all(obj.keypoints is not None for obj in objects)
    )


def suite_sigmas(verdicts: Sequence[CaseVerdict]) -> tuple[float, ...]:
    """The sigmas of the suite's keypoints (one file, one keypoint spec)."""
    for verdict in verdicts:
        for result in verdict.objects:
            if result.expected.keypoints is not None:
                return sigmas_for(verdict.case.keypoints, len(result.expected.keypoints))
    raise ValueError("no expected object has keypoints")


def pose_coco_inputs(verdicts: Sequence[CaseVerdict], classes: Sequence[str]) -> tuple[dict, list[dict]]:
    """Ground truth (a COCO keypoints dataset) and detections (COCO keypoint results) of the verdicts."""
    category = {name: index + 1 for index, name in enumerate(classes)}
    count = len(suite_sigmas(verdicts))
    images, annotations, detections = [], [], []
    for image_id, verdict in enumerate(verdicts, start=1):
        width, height = verdict.case.image_size
        images.append({"id": image_id, "width": width, "height": height})
        for result in verdict.objects:
            obj = result.expected
            x1, y1, x2, y2 = obj.box
            keypoints = [float(v) for point in (obj.keypoints or ((0.0, 0.0, 0),) * count) for v in point]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category[obj.class_name],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": object_area(obj, verdict.case.image_size),
                    "iscrowd": int(obj.crowd),
                    "keypoints": keypoints,
                    "num_keypoints": sum(1 for v in keypoints[2::3] if v > 0),
                }
            )
        predictions = verdict.predictions
        for j, name in enumerate(predictions.class_names):
            # A keypoint result has no bbox: COCO's loadRes then takes its area from the keypoints' extent.
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": category[name],
                    "score": float(predictions.scores[j]),
                    "keypoints": [float(v) for v in np.asarray(predictions.keypoints[j]).reshape(-1)],
                }
            )
    categories = [{"id": i, "name": name} for name, i in category.items()]
    return {"images": images, "annotations": annotations, "categories": categories}, detections


def pose_evaluation(gt: dict, dt: list[dict], sigmas: Sequence[float], image_ids: list[int] | None = None):
    """An accumulated keypoint COCOeval (hotcoco), or None when there is no ground truth."""
    if not gt["annotations"]:
        return None
    import hotcoco  # only for a suite with ground truth: its native module loads in ~0.1 s

    ground_truth = hotcoco.COCO(gt)
    evaluation = hotcoco.COCOeval(ground_truth, ground_truth.load_res(dt), "keypoints")
    params = evaluation.params
    params.kpt_oks_sigmas = [float(s) for s in sigmas]
    if image_ids is not None:
        params.img_ids = image_ids
    evaluation.params = params  # hotcoco hands out copies of its params: set them back whole
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # hotcoco warns that sigmas other than COCO's redefine OKS: that is what a pose suite means to do.
        warnings.simplefilter("ignore", UserWarning)
        evaluation.evaluate()
        evaluation.accumulate()
    return evaluation


def pose_map_values(evaluation, *, category: int | None = None) -> dict[str, float]:
    """``pose.*`` mAP values of an accumulated keypoint evaluation (one category's, by position)."""
    if evaluation is None:
        return {}
    # precision: [OKS threshold, recall point, category, area range, max detections]; -1 = no ground truth.
    precision = np.asarray(evaluation.eval["precision"])[:, :, :, :, -1]
    if category is not None:
        precision = precision[:, :, category : category + 1]
    out = {}
    for name, rows, area in POSE_MAP_ROWS:
        selected = precision[rows, :, :, area]
        valid = selected[selected > -1]
        if valid.size:
            out[f"pose.{name}"] = float(np.mean(valid))
    return out
