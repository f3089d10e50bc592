"""Suite metrics of oriented boxes: COCO's mAP with the exact polygon IoU, and precision / recall / F1.

COCOeval's algorithm with polygon IoU in place of box IoU: per image and class, detections sorted by
score (the best 100 kept) are matched greedily at each IoU threshold 0.50:0.05:0.95 to the ground
truth they overlap most, crowd regions last and measured by the share of the detection inside
them; then COCO's accumulate step, 101-point interpolation, over the per-image records
(``harness.evaluation.resampled_map``, which equals pycocotools' ``accumulate`` within 1e-12).
Only the area range "all": COCO's small / medium / large ranges are defined on axis-aligned areas.
tests/unit/test_oriented_metrics.py checks the numbers against an independent loop and, for boxes
that are not turned, against hotcoco's bbox mAP. Precision, recall and F1 count an object as found
when its case verdict does (its ``obb_iou``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.core.config import meets_minimum
from harness.core.oriented import oriented_iou
from harness.evaluation.bootstrap import CaseSample
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.metric_table import SuiteMetrics
from harness.evaluation.metrics import count_rates, summed_counts
from harness.evaluation.resampled_map import IOU_THRESHOLDS, ImageGroup, ResampledMap
from harness.evaluation.task_verdicts import expected_corners

KIND = "obb"
COCO_IOUS = np.linspace(0.5, 0.95, IOU_THRESHOLDS)  # COCOeval's iouThrs
MAX_DETECTIONS = 100  # COCOeval's maxDets[-1], per image and class
_MAP_NAMES = ("map50_95", "map50", "map75")


def oriented_suite_metrics(verdicts: Sequence[CaseVerdict]) -> SuiteMetrics:
    """Suite metrics (``obb.map50_95`` ...) of obb verdicts, per class and per tag too."""
    groups = [image_groups(verdict) for verdict in verdicts]
    counts = [case_counts(verdict) for verdict in verdicts]
    values, per_class = _values(groups, counts)
    tags = sorted({tag for v in verdicts for tag in v.case.tags})
    positions = {tag: [i for i, v in enumerate(verdicts) if tag in v.case.tags] for tag in tags}

    def tag_values() -> dict[str, dict[str, float]]:
        return {tag: _values([groups[i] for i in at], [counts[i] for i in at])[0] for tag, at in positions.items()}

    samples: list[CaseSample] = [
        {"counts": {KIND: count}, "coco": {KIND: group}} for count, group in zip(counts, groups, strict=True)
    ]
    per_class = {name: found for name, found in per_class.items() if found}
    return SuiteMetrics(values, per_class, tags, tag_values, len(verdicts), lambda _areas: samples, positions)


def _values(
    groups: Sequence[dict[str, ImageGroup]], counts: Sequence[dict[str, list[int]]]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The suite's values and its per-class values, of these images."""
    values: dict[str, float] = {}
    per_class: dict[str, dict[str, float]] = {}
    if groups:
        found = ResampledMap(groups, ("all",)).values(np.ones((1, len(groups))))
        for name, row in found.items():
            if np.isnan(row[0]) or name.rpartition("/")[2] not in _MAP_NAMES:
                continue
            scope, _, metric = name.rpartition("/")
            target = per_class.setdefault(scope, {}) if scope else values
            target[f"{KIND}.{metric}"] = float(row[0])
    for scope, row in summed_counts(counts).items():
        target = per_class.setdefault(scope, {}) if scope else values
        target |= count_rates(KIND, *row)
    return values, per_class


def case_counts(verdict: CaseVerdict) -> dict[str, list[int]]:
    """One case's [found, expected, predicted] for all classes (key "") and for each class."""
    counts: dict[str, list[int]] = {"": [0, 0, 0]}
    for result in verdict.objects:
        if result.expected.crowd:
            continue
        found = result.prediction is not None and meets_minimum(result.obb_iou, result.expected.obb_iou)
        for key in ("", result.expected.class_name):
            row = counts.setdefault(key, [0, 0, 0])
            row[0] += found
            row[1] += 1
    for j, name in enumerate(verdict.predictions.class_names):
        if j not in verdict.ignored:
            counts[""][2] += 1
            counts.setdefault(name, [0, 0, 0])[2] += 1
    return counts


def image_groups(verdict: CaseVerdict) -> dict[str, ImageGroup]:
    """COCOeval's per-image record of each class (``"CLASS/all"``), with polygon IoU."""
    case, predictions = verdict.case, verdict.predictions
    truth, found = expected_corners(case), predictions.oriented_corners()
    crowd = np.array([obj.crowd for obj in case.objects], dtype=bool)
    ious = _coco_ious(found, truth, crowd)
    out = {}
    for name in sorted({obj.class_name for obj in case.objects} | set(predictions.class_names)):
        gt = [i for i, obj in enumerate(case.objects) if obj.class_name == name]
        gt.sort(key=lambda i: crowd[i])  # as COCO: the ground truth that counts first, crowd regions last
        dt = [j for j, found_name in enumerate(predictions.class_names) if found_name == name]
        dt = sorted(dt, key=lambda j: -predictions.scores[j])[:MAX_DETECTIONS]  # stable, as COCO's mergesort
        matched, ignored = _match(ious[np.ix_(dt, gt)], crowd[gt])
        bits = 1 << np.arange(IOU_THRESHOLDS, dtype=np.int64)
        out[f"{name}/all"] = (
            int(np.count_nonzero(~crowd[gt])),
            [float(predictions.scores[j]) for j in dt],
            (matched * bits[:, None]).sum(axis=0).tolist() if dt else [],
            (ignored * bits[:, None]).sum(axis=0).tolist() if dt else [],
        )
    return out


def _coco_ious(found: np.ndarray, truth: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """Detections x ground truth: IoU, or for a crowd region the share of the detection inside it (COCO's rule)."""
    ious = oriented_iou(found, truth)
    if crowd.any() and len(found):
        import shapely  # loaded by oriented_iou already

        mine = shapely.polygons(found.reshape(-1, 4, 2))
        regions = shapely.polygons(truth[crowd].reshape(-1, 4, 2))
        inside = shapely.area(shapely.intersection(mine[:, None], regions[None, :]))
        area = shapely.area(mine)[:, None]
        ious[:, crowd] = np.where(area > 0, inside / np.where(area > 0, area, 1.0), 0.0)
    return ious


def _match(ious: np.ndarray, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.evaluateImg's greedy matching of score-sorted detections (rows) to ground truth
    (columns, crowd last), at each IoU threshold: (matched, ignored), each thresholds x detections."""
    detections, truths = ious.shape
    matched = np.zeros((IOU_THRESHOLDS, detections), dtype=bool)
    ignored = np.zeros((IOU_THRESHOLDS, detections), dtype=bool)
    for t, threshold in enumerate(COCO_IOUS):
        taken = np.zeros(truths, dtype=bool)
        for d in range(detections):
            best, best_iou = -1, min(threshold, 1 - 1e-10)
            for g in range(truths):
                if taken[g] and not crowd[g]:
                    continue
                if best > -1 and not crowd[best] and crowd[g]:
                    break  # a match to real ground truth beats any crowd region, which come last
                if ious[d, g] < best_iou:
                    continue
                best, best_iou = g, ious[d, g]
            if best == -1:
                continue
            matched[t, d], ignored[t, d] = True, bool(crowd[best])
            taken[best] = True
    return matched, ignored
