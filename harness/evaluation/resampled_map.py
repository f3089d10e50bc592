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
AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}
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
class _Segment:
    """The detections of one class, area and IoU threshold that COCO does not ignore, in score order."""

    group: int  # position of the class and area among the groups
    threshold: int
    tp_images: np.ndarray  # the image of each true positive
    fp_images: np.ndarray  # the image of each false positive
    fp_before: np.ndarray  # per true positive, how many false positives come before it


class ResampledMap:
    """mAP values of images under many weightings. ``images[i]`` maps ``"class/area"`` to the
    image's :data:`ImageGroup` (absent: nothing of that class and area in the image).

    Every (class, area, IoU threshold) sequence of true positives is laid end to end in one array,
    so that a whole matrix of weights is accumulated in a few numpy passes, not a loop per sequence."""

    def __init__(self, images: Sequence[Mapping[str, ImageGroup]], areas: Sequence[str] = AREAS):
        self.size = len(images)
        self.areas = tuple(areas)  # the area ranges to resample (each costs about as much as "all")
        self.keys = sorted({key for image in images for key in image if key.rpartition("/")[2] in self.areas})
        self.classes = sorted({key.rpartition("/")[0] for key in self.keys})
        self._npig = np.zeros((len(self.keys), len(images)))
        segments = []
        for g, key in enumerate(self.keys):
            segments += _segments(images, key, g, self._npig[g])
        self._layout(segments)

    def _layout(self, segments: list[_Segment]) -> None:
        """The sequences end to end: per true-positive row, its image, group and where its sequence's
        counts start, and the index of its cumulative false-positive weight."""
        tp_lengths = np.array([s.tp_images.size for s in segments], dtype=np.intp)
        fp_lengths = np.array([s.fp_images.size for s in segments], dtype=np.intp)
        tp_start = np.cumsum(tp_lengths) - tp_lengths
        fp_start = np.cumsum(fp_lengths) - fp_lengths
        self._starts = tp_start
        self._segment_of = [(s.group, s.threshold) for s in segments]
        empty = np.zeros(0, dtype=np.intp)
        self._tp_images = np.concatenate([s.tp_images for s in segments]) if segments else empty
        self._fp_images = np.concatenate([s.fp_images for s in segments]) if segments else empty
        self._group_of = np.repeat(np.array([s.group for s in segments], dtype=np.intp), tp_lengths)
        self._tp_base = np.repeat(tp_start, tp_lengths)  # cumulative TP weight before the sequence
        self._fp_base = np.repeat(fp_start, tp_lengths)  # cumulative FP weight before the sequence
        self._fp_at = self._fp_base + (np.concatenate([s.fp_before for s in segments]) if segments else empty)
        self._first = np.zeros(self._tp_images.size, dtype=bool)
        self._first[tp_start] = True
        # Reversed running maxima must not carry from one sequence into the one before it: each sequence
        # is lifted above every later one (precision is in [0, 1], so 2 apart), and lowered after.
        self._lift = np.repeat(2.0 * np.arange(len(segments))[::-1], tp_lengths)[:, None]
        self.detections = int(self._tp_images.size + self._fp_images.size)  # the work of one resample

    def values(self, weights: np.ndarray, dtype: type = np.float64) -> dict[str, np.ndarray]:
        """Per metric (``map50`` ..., and ``CLASS/map50`` ... per class), one value per row of
        ``weights`` (resamples x images, counts); NaN where COCO says -1 (no ground truth).

        ``float32`` halves the memory traffic of the cumulative counts, which stay exact."""
        rows = weights.shape[0]
        weights_t = np.ascontiguousarray(weights.T, dtype=dtype)
        npig = self._npig @ weights_t  # groups x resamples
        sums = np.zeros((len(self.keys), IOU_THRESHOLDS, rows))
        if self._tp_images.size:
            per_segment = _precision_sums(self, weights_t, npig)
            for (g, t), row in zip(self._segment_of, per_segment, strict=True):
                sums[g, t] = row
        sums = np.where((npig == 0)[:, None, :], np.nan, sums)
        by_key = dict(zip(self.keys, sums, strict=True))
        out: dict[str, np.ndarray] = {}
        for name, rows_t, area in MAP_NAMES:
            if area not in self.areas:
                continue
            per_class = []
            for class_name in self.classes:
                table = by_key.get(f"{class_name}/{area}")
                if table is None:
                    value = np.full(rows, np.nan)
                else:
                    selected = table[rows_t]
                    value = selected.sum(axis=0) / (selected.shape[0] * len(RECALL_THRESHOLDS))
                out[f"{class_name}/{name}"] = value
                per_class.append(value)
            stacked = np.stack(per_class) if per_class else np.full((1, rows), np.nan)
            # COCO's mean over every defined entry: each defined class has the same number of entries.
            defined = ~np.isnan(stacked)
            count = defined.sum(axis=0)
            total = np.where(defined, stacked, 0.0).sum(axis=0)
            out[name] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return out


def _segments(images: Sequence[Mapping[str, ImageGroup]], key: str, group: int, npig: np.ndarray) -> list[_Segment]:
    """One class and area's sequences, one per IoU threshold that has a true positive (a sequence
    without one has precision 0 at every recall point); fills ``npig`` per image."""
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
    out = []
    for t in range(IOU_THRESHOLDS):
        kept = (ignored_bits >> t) & 1 == 0
        is_tp = ((matched_bits >> t) & 1 == 1)[kept]
        images_kept = image_of[kept]
        tp_at = np.flatnonzero(is_tp)
        fp_at = np.flatnonzero(~is_tp)
        if tp_at.size:
            out.append(_Segment(group, t, images_kept[tp_at], images_kept[fp_at], np.searchsorted(fp_at, tp_at)))
    return out


def _precision_sums(layout: ResampledMap, weights_t: np.ndarray, npig: np.ndarray) -> np.ndarray:
    """(sequences x resamples): the sum over the 101 recall points of the interpolated precision."""
    zero = np.zeros((1, weights_t.shape[1]), dtype=weights_t.dtype)
    tp_cum = np.concatenate([zero, np.cumsum(weights_t[layout._tp_images], axis=0)])
    tp = tp_cum[1:] - tp_cum[layout._tp_base]
    if layout._fp_images.size:
        fp_cum = np.concatenate([zero, np.cumsum(weights_t[layout._fp_images], axis=0)])
        fp = fp_cum[layout._fp_at] - fp_cum[layout._fp_base]
    else:
        fp = np.zeros_like(tp)
    precision = tp / (fp + tp + _EPS)
    best_after = np.maximum.accumulate((precision + layout._lift)[::-1], axis=0)[::-1] - layout._lift
    recall = tp / np.maximum(npig[layout._group_of], 1)  # rows without ground truth are NaN later
    # The recall points a true positive is the first to reach: they take its interpolated precision.
    reached = _points_reached(recall)
    before = np.empty_like(reached)
    before[1:] = reached[:-1]
    before[layout._first] = 0
    return np.add.reduceat(best_after * (reached - before), layout._starts, axis=0)


def _points_reached(recall: np.ndarray) -> np.ndarray:
    """How many recall points are <= each recall: ``searchsorted(RECALL_THRESHOLDS, recall, "right")``
    without the binary search (points are 0.01 apart; the guess is then corrected both ways)."""
    last = RECALL_THRESHOLDS.size - 1
    guess = np.clip(np.floor(recall * last), 0, last).astype(np.intp)
    guess -= RECALL_THRESHOLDS[guess] > recall  # rounding put the guess one point too far
    guess += (guess < last) & (RECALL_THRESHOLDS[np.minimum(guess + 1, last)] <= recall)  # or one short
    return guess + 1


def images_from_evaluation(
    eval_imgs: Sequence[Mapping | None],
    image_ids: Sequence[int],
    classes: Mapping[int, str],
    max_detections: int = 100,
) -> list[dict[str, ImageGroup]]:
    """Per image of ``image_ids``, its :data:`ImageGroup` per ``"class/area"``, from COCOeval's
    ``evalImgs`` (pycocotools, with its None entries) or hotcoco's ``eval_imgs`` (which leaves them out),
    at the evaluation's largest detection limit (100 for boxes and masks, 20 for keypoints)."""
    position = {image_id: index for index, image_id in enumerate(image_ids)}
    areas = {rng: name for name, rng in AREA_RANGES.items()}
    out: list[dict[str, ImageGroup]] = [{} for _ in image_ids]
    for entry in eval_imgs:
        if entry is None or entry["maxDet"] != max_detections or entry["image_id"] not in position:
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
