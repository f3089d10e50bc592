"""The case-file schema (v1) as data: the keys a file may hold and the frozen dataclasses a
loaded file becomes (``CaseFile``, ``Case``, ``BrokenCase``, ``ExpectedObject``, ``MaskSpec``).
"""

from __future__ import annotations

import copyreg
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.casefile.search_spec import SearchSpec
from harness.core.config import CompareTo, Gate, Thresholds
from harness.core.errors import CaseFileError
from harness.core.geometry import RLE, mask_to_rle, polygons_to_rle, rle_to_mask
from harness.core.images import load_label_mask
from harness.core.keypoints import Keypoint, KeypointSpec
from harness.core.transforms import Transform

TASKS = ("detect", "segment", "pose", "obb", "classify")


FILE_KEYS = (
    "version",
    "model",
    "task",
    "predict",
    "thresholds",
    "metrics",
    "compare_to",
    "transforms",
    "search",
    "cases",
    "keypoints",  # pose: names, flip_idx, sigmas (harness/casefile/pose_fields.py)
)


COMPARE_TO_KEYS = ("model", "iou", "conf")


CASE_KEYS = ("name", "image", "tags", "thresholds", "objects", "recorded", "transforms", "search")
LABEL_KEYS = ("label", "labels", "min_confidence", "top_k")  # a classify case's expectation instead of objects


RECORDED_KEYS = ("model", "reviewed")


OBJECT_KEYS = (
    "class",
    "box",
    "mask",
    "box_iou",
    "mask_iou",
    "crowd",
    "keypoints",
    "area",
    "oks",
    "max_error",
    "obb",
    "obb_iou",
)


THRESHOLD_KEYS = (
    "box_iou",
    "mask_iou",
    "max_extra",
    "robust_box_iou",
    "robust_mask_iou",
    "oks",
    "max_error",
    "obb_iou",
)


# Predict arguments the harness sets itself, with what to do instead.
RESERVED_PREDICT = {
    "source": "the image comes from each case's `image`",
    "device": "choose the device with --harness-device or the harness_device ini option",
    "retina_masks": "masks are always computed at the original image resolution",
    "stream": "the harness collects results itself",
    "verbose": "the harness controls Ultralytics' logging",
    "save": "the harness writes no Ultralytics run folders",
    "show": "the harness runs headless",
}


CASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


SUITE_ITEM = "suite"  # FILE::suite::METRIC holds the metric gates, so no case may take the name


TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class MaskSpec:
    """An expected mask as written in the case file; rasterised only when a case is evaluated."""

    polygons: tuple[tuple[float, ...], ...] | None = None
    rle: RLE | None = None
    png: Path | None = None
    moved: tuple[MaskSpec, Transform, tuple[int, int]] | None = None  # a raster mask of a transformed variant

    def to_rle(self, height: int, width: int) -> RLE:
        """The mask as RLE at the image's full resolution."""
        if self.polygons is not None:
            return polygons_to_rle(self.polygons, height, width)
        if self.rle is not None:
            return self.rle
        if self.moved is not None:
            source, transform, (source_width, source_height) = self.moved
            return mask_to_rle(transform.apply_mask(rle_to_mask(source.to_rle(source_height, source_width))))

        return mask_to_rle(load_label_mask(self.png))


@dataclass(frozen=True)
class ExpectedObject:
    """An object the model must find, with its resolved thresholds.

    A ``crowd`` object is COCO's ``iscrowd`` region instead: a group nobody labelled one by one. It
    need not be found, and predictions of its class lying mostly inside it are not extras.
    """

    class_name: str
    box: tuple[float, float, float, float]
    box_iou: float
    mask_iou: float
    mask: MaskSpec | None = None
    crowd: bool = False
    # Pose (docs/pose.md): (x, y, v) per keypoint, the area OKS uses (None: the mask's, else the
    # box's), the lowest OKS that passes and the largest distance in pixels any keypoint may be off.
    keypoints: tuple[Keypoint, ...] | None = None
    area: float | None = None
    oks: float = 0.5
    max_error: float | None = None
    obb: tuple[float, ...] | None = None  # an oriented box's corners (x1 y1 ... x4 y4); ``box`` is then its bounds
    obb_iou: float = 0.5  # the minimum oriented-box IoU, where ``obb`` is set


@dataclass(frozen=True)
class LabelSpec:
    """What a classify case expects: one of ``labels`` among the model's ``top_k`` classes, with at
    least ``min_confidence``."""

    labels: tuple[str, ...]
    min_confidence: float = 0.0
    top_k: int = 1


@dataclass(frozen=True)
class Recorded:
    """Where a case's expectations came from when a model wrote them (``vision-harness new``,
    ``--harness-update``): until a person sets ``reviewed``, the case is skipped, never a pass."""

    model: str  # the model file's name, for the person reviewing
    reviewed: bool


@dataclass(frozen=True)
class VariantSpec:
    """A transform to judge a case under (``transforms:``), with the thresholds its variant uses:
    None keeps each object's own threshold."""

    transform: Transform
    where: str  # the field that wrote it, for errors: ``transforms[2]``
    box_iou: float | None = None
    mask_iou: float | None = None
    max_extra: int | None = None
    xfail: str | None = None  # a known failure, with its reason: pytest's strict xfail


@dataclass(frozen=True)
class Case:
    """One golden case: an image and everything that must be found on it."""

    name: str
    file: Path
    image: Path
    image_size: tuple[int, int]  # (width, height) as displayed
    tags: tuple[str, ...]
    objects: tuple[ExpectedObject, ...]
    max_extra: int
    model: str | None
    task: str | None
    predict: Mapping[str, Any] = field(default_factory=dict)
    model_sha256: str | None = None  # the file pins its model to this sha256
    recorded: Recorded | None = None  # None: written by a person (or imported from annotations)
    variants: tuple[VariantSpec, ...] = ()  # transformed copies to judge too (transforms:)
    transform: Transform | None = None  # set on a variant: the image is ``image`` transformed so
    variant_of: str | None = None  # set on a variant: the name of the case it was made from
    xfail: str | None = None  # set on a variant known to fail: why
    search: SearchSpec | None = None  # ranges to search for the smallest perturbation that breaks it (search:)
    keypoints: KeypointSpec | None = None  # pose: the file's keypoint names, flip_idx and sigmas
    label: LabelSpec | None = None  # a classify case: the label expected instead of objects

    @property
    def awaiting_review(self) -> bool:
        """Recorded from a model's output and not yet checked by a person."""
        return self.recorded is not None and not self.recorded.reviewed


@dataclass(frozen=True)
class BrokenCase:
    """A case that cannot run as written; reported as an error, never skipped."""

    name: str
    error: CaseFileError
    image: Path | None = None  # the image it names, where it names one (to tell a missing image)


@dataclass(frozen=True)
class CaseFile:
    """A loaded case file: file-level defaults and its cases."""

    path: Path
    model: str | None
    task: str | None
    predict: Mapping[str, Any]
    thresholds: Thresholds
    cases: tuple[Case | BrokenCase, ...]
    gates: tuple[Gate, ...] = ()
    model_sha256: str | None = None
    compare_to: CompareTo | None = None  # export parity: a second model of the same weights
    keypoints: KeypointSpec | None = None  # pose: the file's keypoint names, flip_idx and sigmas


def _read_only(values: dict) -> MappingProxyType:
    return MappingProxyType(values)


# Cases travel from pytest-xdist workers to the controller pickled; a read-only predict mapping must too.
copyreg.pickle(MappingProxyType, lambda proxy: (_read_only, (dict(proxy),)))
