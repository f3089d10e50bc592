"""Configuration values shared by the case files and the command line; cheap to import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """Pass criteria. Built-in defaults: IoU 0.5 (the common detection threshold), no extra objects."""

    box_iou: float = 0.5
    mask_iou: float = 0.5
    max_extra: int = 0
    # On transformed variants (transforms:), these replace the box and mask thresholds; None: the same.
    robust_box_iou: float | None = None
    robust_mask_iou: float | None = None
    # Pose: the lowest OKS that passes (COCO's loosest AP threshold), and optionally the largest
    # distance in pixels any labelled keypoint may be from where it should be.
    oks: float = 0.5
    max_error: float | None = None
    obb_iou: float = 0.5  # oriented boxes (task obb): the minimum polygon IoU

    def override(self, values: Mapping[str, Any]) -> Thresholds:
        """A copy with the given keys replaced (keys already validated)."""
        return replace(self, **dict(values))


BUILT_IN_THRESHOLDS = Thresholds()
# Parsing holds the whole YAML node graph, about 100 bytes of memory per byte of file (measured: 4 MB
# of polygons peak at 470 MB, 16 MB at 1.5 GB); bigger suites are split into several files.
MAX_CASE_FILE_MB = 4.0


def meets_minimum(value: float | None, minimum: float) -> bool:
    """Whether ``value`` reaches ``minimum``: the one comparison behind every pass criterion.

    Every threshold in the harness is an inclusive minimum: an IoU exactly at its threshold passes
    ("minimum IoU"), and so does a metric exactly at its gate. None (nothing measured: a missed
    object, an undefined metric) never does. The case verdict, the suite's recall count, gates,
    baselines and export parity all compare through here, so no two of them can disagree at the edge.
    """
    return value is not None and value >= minimum


def within_tolerance(difference: float, tolerance: float) -> bool:
    """Whether ``difference`` (of either sign) stays within ``tolerance``, inclusive."""
    return meets_minimum(tolerance, abs(difference))


def resolve_model(spec: str, base: Path, *, must_exist: bool = True) -> str:
    """A model file path relative to ``base`` made absolute; a URL (``://``) is left to Ultralytics.

    Raises:
        FileNotFoundError: the file does not exist (and ``must_exist``).
    """
    if "://" in spec:
        return spec
    candidate = (base / spec).resolve()
    try:
        exists = candidate.is_file()
    except OSError as exc:  # a name too long for the file system, and the like
        raise FileNotFoundError(f"not a usable file name: {exc.strerror}") from None
    if must_exist and not exists:
        raise FileNotFoundError(f"file not found: {spec} (looked for {candidate})")
    return str(candidate)


# Export parity (``compare_to:``): a correct ONNX export of the shipped models, with dynamic input
# shapes, matches the .pt model to IoU 0.999998 and confidence 1e-6 on the CPU; a static 256x256
# export (letterboxed to the full square) drifts to IoU 0.954 and confidence 0.096. The defaults lie
# between, with room for GPU execution providers and FP16 (whose IoU drift the harness measured at
# 0.0092 between two runs of the same .pt model). See docs/robustness.md, "Export parity".
PARITY_IOU = 0.98
PARITY_CONF = 0.02


@dataclass(frozen=True)
class CompareTo:
    """A second model of the same weights (an export) whose predictions must match the model's.

    ``model`` is resolved like a case file's ``model``; ``iou`` is the lowest IoU a pair of
    predictions may have, ``conf`` the largest difference of their confidences. ``source`` names
    where it was set (``compare_to`` or ``--harness-compare-to``), for error messages.
    """

    model: str
    iou: float = PARITY_IOU
    conf: float = PARITY_CONF
    source: str = "compare_to"


# Suite metric names: "{kind}.{name}", e.g. box.map50_95 or mask.f1 (see harness/evaluation/metrics.py).
METRIC_KINDS = ("box", "mask", "pose")  # pose: keypoint mAP on OKS (docs/pose.md)
METRIC_NAMES = ("map50_95", "map50", "map75", "map_small", "map_medium", "map_large", "precision", "recall", "f1")
# COCO's keypoint evaluation has no small area range.
METRICS = tuple(
    f"{kind}.{name}" for kind in METRIC_KINDS for name in METRIC_NAMES if f"{kind}.{name}" != "pose.map_small"
)
# Oriented boxes (COCO's area ranges are axis-aligned: "all" only) and labels (classify).
METRICS += ("obb.map50_95", "obb.map50", "obb.map75", "obb.precision", "obb.recall", "obb.f1")
METRICS += ("label.top1", "label.top5", "label.precision", "label.recall", "label.f1")


@dataclass(frozen=True)
class Gate:
    """A minimum for one suite metric: ``path`` is e.g. ``mask.map50_95`` or ``per_tag.night.box.map50``.

    ``confidence`` (the file's ``metrics: {confidence: 0.95}``): fail only when the metric is below the
    minimum with that confidence (docs/gates.md); None: the point rule, or --harness-confidence."""

    path: str
    minimum: float
    confidence: float | None = None


# The bootstrap (harness/evaluation/bootstrap.py): resamples by default (measured cheap enough in
# bench/bootstrap_cost.py, docs/gates.md), and the confidence of the intervals shown by default.
DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


def check_confidence(value: float) -> str | None:
    """Why ``value`` is not a usable confidence, or None. Below 0.5 a one-sided bound lies on the
    wrong side of the estimate; 1 would need infinitely many resamples."""
    if not 0.5 <= value < 1:
        return f"expected a confidence in [0.5, 1), e.g. 0.95, got {value:g}"
    return None


# The file suffixes Ultralytics reads as images (its ultralytics.data.utils.IMG_FORMATS, which a
# test keeps equal), here because importing that module imports torch.
IMAGE_SUFFIXES = frozenset(
    {"avif", "bmp", "dng", "heic", "heif", "jp2", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp"}
)
