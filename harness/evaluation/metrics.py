"""Suite metrics: COCO mAP through hotcoco, and precision / recall / F1 at the case thresholds.

mAP50-95, mAP50, mAP75, the area ranges and AP per class are exactly COCOeval's (same matching,
101-point interpolation, 100 detections per image): hotcoco is a Rust implementation of
pycocotools' algorithm, and tests/unit/test_metrics.py checks the two agree to 1e-6 on random suites.
Precision, recall and F1 count an expected object as found when the case verdict says so, i.e. at
the IoU threshold each object sets.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from harness.core.config import METRIC_KINDS as KINDS
from harness.core.config import meets_minimum
from harness.core.geometry import rle_area
from harness.evaluation.bootstrap import CaseSample
from harness.evaluation.bootstrap_store import BootstrapStore, inputs_digest
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.metric_table import SuiteMetrics
from harness.evaluation.pose_matching import keypoint_problems
from harness.evaluation.pose_metrics import (
    POSE_MAX_DETECTIONS,
    has_pose,
    pose_coco_inputs,
    pose_evaluation,
    pose_map_values,
    suite_sigmas,
)
from harness.evaluation.resampled_map import AREA_RANGES, AREAS, images_from_evaluation

_IOU_TYPE = {"box": "bbox", "mask": "segm"}
# Our names for COCOeval.summarize's stats 0-5, and hotcoco's names for them in slice_by results.
_SLICE_KEYS = (
    ("map50_95", "AP"),
    ("map50", "AP50"),
    ("map75", "AP75"),
    ("map_small", "APs"),
    ("map_medium", "APm"),
    ("map_large", "APl"),
)


def suite_metrics(
    verdicts: Sequence[CaseVerdict],
    *,
    with_masks: bool,
    samples: Callable[[tuple[str, ...]], list[CaseSample]] | None = None,
    bootstrap_store: BootstrapStore | None = None,
) -> SuiteMetrics:
    """Suite metrics of ``verdicts`` (one per case; cases sharing an image are separate images here).

    ``samples`` gives the cases' bootstrap data when it is known already (pooled suites);
    ``bootstrap_store`` keeps resampled values between runs."""
    masks, pose = with_masks and _all_objects_have_masks(verdicts), has_pose(verdicts)
    kinds = tuple(k for k in KINDS if k == "box" or (k == "mask" and masks) or (k == "pose" and pose))
    classes = sorted({o.expected.class_name for v in verdicts for o in v.objects} | _predicted_classes(verdicts))
    values: dict[str, float] = {}
    per_class: dict[str, dict[str, float]] = {name: {} for name in classes}
    coco, datasets, evaluations = {}, {}, {}
    for kind in kinds:
        # COCO image ids are 1-based positions in ``verdicts``; a tag's subset is a list of those ids.
        if kind == "pose":  # keypoint mAP: harness/evaluation/pose_metrics.py
            coco[kind] = pose_coco_inputs(verdicts, classes)
            evaluation = evaluations[kind] = pose_evaluation(*coco[kind], suite_sigmas(verdicts))
        else:
            coco[kind] = coco_inputs(verdicts, classes, kind)
            datasets[kind] = _load_coco(*coco[kind])
            evaluation = evaluations[kind] = _evaluate(datasets[kind], kind, image_ids=None)
        counts = _count_values(verdicts, kind)
        values |= _map_values(evaluation, kind) | counts[None]
        for index, name in enumerate(classes):
            per_class[name] |= _map_values(evaluation, kind, category=index) | counts.get(name, {})

    tags = sorted({tag for v in verdicts for tag in v.case.tags})
    positions = {tag: [i for i, v in enumerate(verdicts) if tag in v.case.tags] for tag in tags}

    def all_tag_values() -> dict[str, dict[str, float]]:
        ids = {tag: [i for i, v in enumerate(verdicts, start=1) if tag in v.case.tags] for tag in tags}
        out: dict[str, dict[str, float]] = {tag: {} for tag in tags}
        for kind in kinds:
            for tag, maps in _slice_values(evaluations[kind], kind, ids).items():
                out[tag] |= maps | _count_values([verdicts[i - 1] for i in ids[tag]], kind)[None]
        return out

    per_class = {k: v for k, v in per_class.items() if v}
    return SuiteMetrics(
        values,
        per_class,
        tags,
        all_tag_values,
        len(verdicts),
        samples or functools.partial(_read_samples, verdicts, kinds, classes, datasets, evaluations),
        positions,
        store=bootstrap_store,
        inputs=functools.partial(_inputs_digest, verdicts, kinds, classes, coco, positions),
    )


def _read_samples(
    verdicts: Sequence[CaseVerdict],
    kinds: tuple[str, ...],
    classes: Sequence[str],
    datasets: dict,
    evaluations: dict,
    areas: tuple[str, ...],
) -> list[CaseSample]:
    """Per case, what the bootstrap needs: its counts and its per-image COCO records, per kind."""
    out: list[CaseSample] = [{"counts": {}, "coco": {}} for _ in verdicts]
    for kind in kinds:
        for sample, verdict in zip(out, verdicts, strict=True):
            sample["counts"][kind] = _case_counts(verdict, kind)
        evaluation = evaluations[kind]
        if evaluation is None:
            continue
        limit = POSE_MAX_DETECTIONS if kind == "pose" else 100
        if areas != AREAS and kind != "pose":
            # A fresh evaluation of just these area ranges (hotcoco evaluates 1,000 images in
            # milliseconds): its per-image records, which cost the time here, are fewer.
            evaluation = _evaluate(datasets[kind], kind, image_ids=None, areas=areas)
        names = {index + 1: name for index, name in enumerate(classes)}
        images = images_from_evaluation(evaluation.eval_imgs, list(range(1, len(verdicts) + 1)), names, limit)
        for sample, groups in zip(out, images, strict=True):
            sample["coco"][kind] = groups
    return out


def _inputs_digest(
    verdicts: Sequence[CaseVerdict], kinds: tuple[str, ...], classes: Sequence[str], coco: dict, positions: dict
) -> str:
    """Everything the bootstrap reads: the COCO inputs, each case's counts (they follow its
    thresholds), which cases carry which tag."""
    counts = [[_case_counts(verdict, kind) for kind in kinds] for verdict in verdicts]
    return inputs_digest(kinds, classes, coco, counts, positions)


def _all_objects_have_masks(verdicts: Sequence[CaseVerdict]) -> bool:
    # expected_masks is filled only when the case was judged with masks.
    return all(
        v.predictions.masks is not None
        and len(v.expected_masks) == len(v.objects)
        and all(rle is not None for rle in v.expected_masks)
        for v in verdicts
    )


def _predicted_classes(verdicts: Sequence[CaseVerdict]) -> set[str]:
    return {name for v in verdicts for name in v.predictions.class_names}


def coco_inputs(verdicts: Sequence[CaseVerdict], classes: Sequence[str], kind: str) -> tuple[dict, list[dict]]:
    """Ground truth (a COCO dataset dict) and detections (a COCO results list) of the verdicts."""
    category = {name: index + 1 for index, name in enumerate(classes)}
    images, annotations, detections = [], [], []
    for image_id, verdict in enumerate(verdicts, start=1):
        width, height = verdict.case.image_size
        images.append({"id": image_id, "width": width, "height": height})
        for index, result in enumerate(verdict.objects):
            obj = result.expected
            x1, y1, x2, y2 = obj.box
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": category[obj.class_name],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1),
                "iscrowd": int(obj.crowd),
            }
            if kind == "mask":
                rle = verdict.expected_masks[index]
                annotation |= {"segmentation": rle, "area": float(rle_area(rle))}
            annotations.append(annotation)
        predictions = verdict.predictions
        for j, (name, box) in enumerate(zip(predictions.class_names, predictions.boxes.tolist(), strict=True)):
            detection = {"image_id": image_id, "category_id": category[name], "score": float(predictions.scores[j])}
            if kind == "mask":
                # A segm result is a mask and no box: given a box too, COCO's loadRes (pycocotools and
                # hotcoco alike) takes the detection's area from the box, and an unmatched thin or
                # hollow mask would count in the wrong small / medium / large range.
                detection["segmentation"] = predictions.masks[j]
            else:
                x1, y1, x2, y2 = box
                detection["bbox"] = [x1, y1, x2 - x1, y2 - y1]
            detections.append(detection)
    categories = [{"id": i, "name": name} for name, i in category.items()]
    return {"images": images, "annotations": annotations, "categories": categories}, detections


def coco_map_values(
    gt: dict, dt: list[dict], kind: str, *, image_ids: list[int] | None = None, category: int | None = None
) -> dict[str, float]:
    """mAP values (``{kind}.map50_95`` ...) of COCO-format ground truth and detections.

    The same numbers as pycocotools' ``COCOeval.summarize()`` stats 0-5 (with ``params.imgIds =
    image_ids`` when given). ``category`` is the position of one category among the category ids in
    ascending order (COCOeval's order), for that class's AP. The inputs are not modified.
    """
    if image_ids is not None and not image_ids:
        return {}  # no images, nothing defined: pycocotools answers -1 everywhere
    evaluation = _evaluate(_load_coco(gt, dt), kind, image_ids=image_ids)
    return _map_values(evaluation, kind, category=category)


def _load_coco(gt: dict, dt: list[dict]):
    """The engine's ground truth and detections, or None when there is no ground truth at all."""
    if not gt["annotations"]:
        return None
    import hotcoco  # only for a suite with ground truth: its native module loads in ~0.1 s

    ground_truth = hotcoco.COCO(gt)
    return ground_truth, ground_truth.load_res(dt)


def _evaluate(datasets, kind: str, *, image_ids: list[int] | None, areas: tuple[str, ...] | None = None):
    """An accumulated COCOeval over ``image_ids`` (all images when None); None when mAP is undefined.
    With ``areas``, only those area ranges, evaluated and not accumulated (for the bootstrap)."""
    if datasets is None:
        return None
    import hotcoco  # only for a suite with ground truth: its native module loads in ~0.1 s

    evaluation = hotcoco.COCOeval(*datasets, _IOU_TYPE[kind])
    if image_ids is not None:
        evaluation.params.img_ids = image_ids
    if areas is not None:
        evaluation.params.area_rng = [list(AREA_RANGES[area]) for area in areas]
        evaluation.params.area_rng_lbl = list(areas)
    evaluation.evaluate()
    if areas is None:
        evaluation.accumulate()
    return evaluation


def _slice_values(evaluation, kind: str, slices: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    """mAP values of image subsets, re-accumulated from one evaluation (hotcoco's ``slice_by``)."""
    if evaluation is None or not slices:
        return {name: {} for name in slices}
    with contextlib.redirect_stdout(io.StringIO()):
        results = evaluation.slice_by(slices)
    names = {
        "map50_95": "AP",
        "map50": "AP50",
        "map75": "AP75",
        "map_small": "APs",
        "map_medium": "APm",
        "map_large": "APl",
    }
    return {
        name: {
            f"{kind}.{ours}": float(results[name][theirs])
            for ours, theirs in names.items()
            if results[name].get(theirs, -1) > -1  # keypoints have no small area range
        }
        for name in slices
    }


def _map_values(evaluation, kind: str, *, category: int | None = None) -> dict[str, float]:
    if evaluation is None:
        return {}
    if kind == "pose":
        return pose_map_values(evaluation, category=category)
    # precision: [IoU threshold, recall point, category, area range, max detections]; -1 = no ground truth.
    precision = np.asarray(evaluation.eval["precision"])[:, :, :, :, -1]
    if category is not None:
        precision = precision[:, :, category : category + 1]
    out = {}
    # COCOeval.summarize's stats 0-5: all IoUs, IoU 0.5, IoU 0.75 at area "all"; then small, medium, large.
    for name, rows, area in (
        ("map50_95", slice(None), 0),
        ("map50", slice(0, 1), 0),
        ("map75", slice(5, 6), 0),
        ("map_small", slice(None), 1),
        ("map_medium", slice(None), 2),
        ("map_large", slice(None), 3),
    ):
        selected = precision[rows, :, :, area]
        valid = selected[selected > -1]
        if valid.size:
            out[f"{kind}.{name}"] = float(np.mean(valid))
    return out


def _case_counts(verdict: CaseVerdict, kind: str) -> dict[str, list[int]]:
    """One case's [found, expected, predicted] for all classes (key "") and for each class."""
    counts: dict[str, list[int]] = {"": [0, 0, 0]}
    for result in verdict.objects:
        if result.expected.crowd:
            continue  # COCO's crowd regions are neither found nor missed
        if result.prediction is None:
            found = False
        elif kind == "box":  # found exactly when the case verdict says so: the same comparison
            found = meets_minimum(result.box_iou, result.expected.box_iou)
        elif kind == "pose":
            found = not keypoint_problems(result.expected, result.keypoints)
        else:
            found = meets_minimum(result.mask_iou, result.expected.mask_iou)
        for key in ("", result.expected.class_name):
            row = counts.setdefault(key, [0, 0, 0])
            row[0] += found
            row[1] += 1
    for j, name in enumerate(verdict.predictions.class_names):
        if j in verdict.ignored:
            continue
        counts[""][2] += 1
        counts.setdefault(name, [0, 0, 0])[2] += 1
    return counts


def _count_values(verdicts: Sequence[CaseVerdict], kind: str) -> dict[str | None, dict[str, float]]:
    """Precision, recall and F1 for all classes (key None) and for each class, in one pass."""
    totals = summed_counts(_case_counts(verdict, kind) for verdict in verdicts)
    totals.setdefault("", [0, 0, 0])
    return {scope or None: count_rates(kind, *row) for scope, row in totals.items()}


def summed_counts(cases: Iterable[dict[str, list[int]]]) -> dict[str, list[int]]:
    """Per scope ("" for all classes, else a class), the cases' [true positives, expected, predicted] summed."""
    totals: dict[str, list[int]] = {}
    for case in cases:
        for scope, row in case.items():
            total = totals.setdefault(scope, [0, 0, 0])
            for i in range(3):
                total[i] += row[i]
    return totals


def count_rates(kind: str, true_positives: int, expected: int, predicted: int) -> dict[str, float]:
    """``{kind}.precision``, ``.recall`` and ``.f1`` of counts; each only where it is defined."""
    out = {}
    if predicted:
        out[f"{kind}.precision"] = true_positives / predicted
    if expected:
        out[f"{kind}.recall"] = true_positives / expected
    if predicted and expected:
        p, r = true_positives / predicted, true_positives / expected
        out[f"{kind}.f1"] = 2 * p * r / (p + r) if p + r else 0.0
    return out
