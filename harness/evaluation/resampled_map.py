"""COCO mAP of weighted images: COCOeval's accumulate step, vectorised over many resamples at once.

A bootstrap resample draws images with replacement: image ``i`` appears ``w[i]`` times. Running
COCOeval per resample is far too slow, so each image is evaluated once (what ``evaluateImg``
gives ``accumulate``: per class and area range, each detection's score and whether it matched or
is ignored at each of the 10 IoU thresholds, and the count of ground truth not ignored), and only
the accumulate step is redone per resample, here, for a whole matrix of weights.

Exactness: with all weights 1 this is pycocotools' ``accumulate`` + ``summarize`` stats 0-5 (within
1e-12, tests/unit/test_bootstrap.py). Detections are concatenated in image order and stably sorted
by descending score, as COCO does; an image drawn ``w`` times counts each of its detections ``w``
times in a row (COCO would interleave copies of equal-score detections of one image: ties only).

How: the interpolated precision at recall ``r`` is the highest precision at any true positive at or
beyond recall ``r`` (a false positive only lowers precision), so only the cumulative true and false
positive weights at true positives are needed, and each recall point takes the interpolated
precision of the first true positive whose recall (``tp / npig``, as COCO computes it) reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

IOU_THRESHOLDS = 10  # COCOeval's 0.50:0.05:0.95
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)  # as COCOeval
AREAS = ("all", "small", "medium", "large")  # COCOeval's area ranges, in its order
_EPS = np.spacing(1)  # COCOeval's guard against 0 / 0
# (our name, IoU threshold rows, area) of COCOeval.summarize's stats 0-5.
MAP_NAMES = (
    ("map50_95", slice(None), "all"),
    ("map50", slice(0, 1), "all"),
    ("map75", slice(5, 6), "all"),
    ("map_small", slice(None), "small"),
    ("map_medium", slice(None), "medium"),
    ("map_large", slice(None), "large"),
)
# One image's evaluation for one class and area range: (ground truth not ignored, detection scores,
# matched bits, ignored bits), bit t of a detection's mask being IoU threshold t. JSON-friendly.
ImageGroup = tuple[int, list[float], list[int], list[int]]


@dataclass(frozen=True)
class _Threshold:
    """The detections of one class, area and IoU threshold that COCO does not ignore, sorted."""

    tp_images: np.ndarray  # the image of each true positive, in score order
    fp_images: np.ndarray  # the image of each false positive, in score order
    fp_before: np.ndarray  # per true positive, how many false positives come before it


@dataclass(frozen=True)
class _Group:
    npig: np.ndarray  # per image, its ground truth not ignored
    thresholds: tuple[_Threshold, ...]


class ResampledMap:
    """mAP values of images under many weightings. ``images[i]`` maps ``"class/area"`` to the
    image's :data:`ImageGroup` (absent: nothing of that class and area in the image)."""

    def __init__(self, images: Sequence[Mapping[str, ImageGroup]]):
        self.size = len(images)
        keys = sorted({key for image in images for key in image})
        self.classes = sorted({key.rpartition("/")[0] for key in keys})
        self._groups = {key: _group(images, key) for key in keys}
        # Kept detections summed over groups and IoU thresholds: the work of one resample.
        self.detections = sum(t.tp_images.size + t.fp_images.size for g in self._groups.values() for t in g.thresholds)

    def values(self, weights: np.ndarray, dtype: type = np.float64) -> dict[str, np.ndarray]:
        """Per metric (``map50`` ..., and ``CLASS/map50`` ... per class), one value per row of
        ``weights`` (resamples x images, counts); NaN where COCO says -1 (no ground truth).

        ``float32`` halves the memory traffic, for resamples: the counts stay exact, precision
        differs from float64 in the 7th digit."""
        rows = weights.shape[0]
        weights_t = np.ascontiguousarray(weights.T, dtype=dtype)
        # Per class and area: the sum over recall thresholds of the interpolated precision, per IoU threshold.
        sums: dict[tuple[str, str], np.ndarray] = {}
        for key, group in self._groups.items():
            name, _, area = key.rpartition("/")
            sums[name, area] = _precision_sums(group, weights_t)
        out: dict[str, np.ndarray] = {}
        for name, rows_t, area in MAP_NAMES:
            per_class = []
            for class_name in self.classes:
                table = sums.get((class_name, area))
                if table is None:
                    value = np.full(rows, np.nan)
                else:
                    selected = table[:, rows_t]
                    value = selected.sum(axis=1) / (selected.shape[1] * len(RECALL_THRESHOLDS))
                out[f"{class_name}/{name}"] = value
                per_class.append(value)
            stacked = np.stack(per_class) if per_class else np.full((1, rows), np.nan)
            # COCO's mean over every defined entry: each defined class has the same number of entries.
            with np.errstate(invalid="ignore"):
                defined = ~np.isnan(stacked)
                count = defined.sum(axis=0)
                total = np.where(defined, stacked, 0.0).sum(axis=0)
                out[name] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return out


def _group(images: Sequence[Mapping[str, ImageGroup]], key: str) -> _Group:
    npig = np.zeros(len(images))
    image_of, scores, matched, ignored = [], [], [], []
    for index, image in enumerate(images):
        if key not in image:
            continue
        count, image_scores, image_matched, image_ignored = image[key]
        npig[index] = count
        image_of += [index] * len(image_scores)
        scores += image_scores
        matched += image_matched
        ignored += image_ignored
    order = np.argsort(-np.asarray(scores, dtype=float), kind="mergesort")  # as COCO: stable, descending
    image_of = np.asarray(image_of, dtype=np.intp)[order]
    matched_bits = np.asarray(matched, dtype=np.int64)[order]
    ignored_bits = np.asarray(ignored, dtype=np.int64)[order]
    thresholds = []
    for t in range(IOU_THRESHOLDS):
        kept = (ignored_bits >> t) & 1 == 0
        is_tp = ((matched_bits >> t) & 1 == 1)[kept]
        images_kept = image_of[kept]
        tp_at = np.flatnonzero(is_tp)
        fp_at = np.flatnonzero(~is_tp)
        thresholds.append(_Threshold(images_kept[tp_at], images_kept[fp_at], np.searchsorted(fp_at, tp_at)))
    return _Group(npig, tuple(thresholds))


def _precision_sums(group: _Group, weights_t: np.ndarray) -> np.ndarray:
    """(resamples x IoU thresholds): sum over the 101 recall points of the interpolated precision;
    NaN in rows without ground truth. ``weights_t`` is images x resamples (rows gather fast)."""
    npig = group.npig @ weights_t
    out = np.zeros((weights_t.shape[1], IOU_THRESHOLDS))
    for t, threshold in enumerate(group.thresholds):
        if not threshold.tp_images.size:
            continue  # no true positive: precision 0 at every recall point
        tp = np.cumsum(weights_t[threshold.tp_images], axis=0)
        fp = np.zeros_like(tp)
        if threshold.fp_images.size:
            fp_cum = np.cumsum(weights_t[threshold.fp_images], axis=0)
            fp_cum = np.concatenate([np.zeros_like(fp_cum[:1]), fp_cum])
            fp = fp_cum[threshold.fp_before]
        precision = tp / (fp + tp + _EPS)
        best_after = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = tp / npig
        # The recall points a true positive is the first to reach: they take its interpolated precision.
        reached = _points_reached(recall)
        firsts = np.diff(reached, axis=0, prepend=0)
        out[:, t] = (best_after * firsts).sum(axis=0)
    out[npig == 0] = np.nan
    return out


def _points_reached(recall: np.ndarray) -> np.ndarray:
    """How many recall points are <= each recall: ``searchsorted(RECALL_THRESHOLDS, recall, "right")``
    without the binary search (points are 0.01 apart; the guess is then corrected both ways)."""
    last = RECALL_THRESHOLDS.size - 1
    guess = np.clip(np.floor(np.nan_to_num(recall) * last), 0, last).astype(np.intp)
    guess -= RECALL_THRESHOLDS[guess] > recall  # rounding put the guess one point too far
    guess += (guess < last) & (RECALL_THRESHOLDS[np.minimum(guess + 1, last)] <= recall)  # or one short
    return guess + 1


def images_from_evaluation(
    eval_imgs: Sequence[Mapping | None], image_ids: Sequence[int], classes: Mapping[int, str], area_ranges: Sequence
) -> list[dict[str, ImageGroup]]:
    """Per image of ``image_ids``, its :data:`ImageGroup` per ``"class/area"``, from COCOeval's
    ``evalImgs`` (pycocotools, with its None entries) or hotcoco's ``eval_imgs`` (which leaves them out)."""
    position = {image_id: index for index, image_id in enumerate(image_ids)}
    areas = {tuple(float(x) for x in rng): name for rng, name in zip(area_ranges, AREAS, strict=True)}
    out: list[dict[str, ImageGroup]] = [{} for _ in image_ids]
    for entry in eval_imgs:
        if entry is None or entry["maxDet"] != 100 or entry["image_id"] not in position:
            continue
        matched = np.asarray(entry["dtMatches"], dtype=float).reshape(IOU_THRESHOLDS, -1) != 0
        ignored = np.asarray(entry["dtIgnore"], dtype=bool).reshape(IOU_THRESHOLDS, -1)
        bits = (1 << np.arange(IOU_THRESHOLDS, dtype=np.int64))[:, None]
        npig = int(np.count_nonzero(np.asarray(entry["gtIgnore"], dtype=bool) == 0))
        area = areas[tuple(float(x) for x in entry["aRng"])]
        out[position[entry["image_id"]]][f"{classes[entry['category_id']]}/{area}"] = (
            npig,
            [float(s) for s in entry["dtScores"]],
            (matched * bits).sum(axis=0).tolist(),
            (ignored * bits).sum(axis=0).tolist(),
        )
    return out
