"""Keypoints: their names, flips and sigmas, and OKS (object keypoint similarity) exactly as COCO has it.

A keypoint is ``(x, y, v)`` in original-image pixels, ``v`` as COCO: 0 not labelled, 1 labelled but
occluded, 2 visible. OKS follows pycocotools' ``COCOeval.computeOks`` term for term::

    e_i = d_i^2 / (2 * area * (2 * sigma_i)^2)        OKS = mean of exp(-e_i) over keypoints with v > 0

with ``area`` the expected object's area (its ``area:``, else its mask's, else its box's, see
docs/pose.md) plus pycocotools' ``np.spacing(1)``, and, for an object with no labelled keypoint
at all, COCO's distance to a box twice the size of the expected box instead of ``d_i``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# COCO's per-keypoint sigmas (pycocotools COCOeval Params.kpt_oks_sigmas; Ultralytics OKS_SIGMA).
COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
COCO_KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
COCO_FLIP_IDX = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
MIRRORS = ("hflip", "vflip")  # the transform steps that turn a left keypoint into a right one

Keypoint = tuple[float, float, int]


def default_sigmas(count: int) -> tuple[tuple[float, ...], str]:
    """The sigmas Ultralytics' pose validator uses for ``count`` keypoints, and where they come from:
    COCO's 17 for a ``kpt_shape`` of [17, 3], else ``1 / count`` each (``np.ones(nkpt) / nkpt``)."""
    if count == len(COCO_SIGMAS):
        return COCO_SIGMAS, "COCO's 17 keypoint sigmas"
    return tuple(1.0 / count for _ in range(count)), f"1/{count} each, as Ultralytics uses for {count} keypoints"


@dataclass(frozen=True)
class KeypointSpec:
    """A pose file's keypoints: how many, their names, what a mirror turns each into, their sigmas.

    ``flip_idx[i]`` is the keypoint that keypoint ``i`` becomes in a mirror image (Ultralytics'
    ``flip_idx``); None: the keypoints have no sides, a mirror keeps every one where it is.
    """

    count: int
    names: tuple[str, ...]
    sigmas: tuple[float, ...]
    flip_idx: tuple[int, ...] | None = None
    sigmas_source: str = "the file"
    skeleton: tuple[tuple[int, int], ...] = ()  # pairs of keypoint indices joined when drawn


@dataclass(frozen=True)
class KeypointComparison:
    """One expected object's keypoints against one prediction's: per keypoint and overall.

    Arrays have one entry per keypoint: ``distances`` in pixels, ``terms`` each keypoint's
    ``exp(-e_i)`` (its share of OKS, counted where ``labelled``).
    """

    distances: np.ndarray
    terms: np.ndarray
    labelled: np.ndarray
    oks: float


def compare_keypoints(
    expected: Sequence[Keypoint],
    predicted: np.ndarray,
    area: float,
    sigmas: Sequence[float],
    box: tuple[float, float, float, float],
) -> KeypointComparison:
    """OKS of ``predicted`` (``shape = (K, 2)`` or ``(K, 3)``, x y [confidence]) against ``expected``.

    Args:
        expected: K ``(x, y, v)`` keypoints.
        predicted: the prediction's keypoints; a third column (confidence) is not used, as in COCO.
        area: the expected object's area in square pixels.
        sigmas: K per-keypoint sigmas.
        box: the expected box ``x1 y1 x2 y2`` (used only when no keypoint is labelled).

    Example:
        >>> compare_keypoints([(10, 10, 2)], np.array([[10.0, 10.0]]), 100.0, [0.1], (0, 0, 20, 20)).oks
        1.0
    """
    gt = np.asarray(expected, dtype=np.float64).reshape(-1, 3)
    xd, yd = np.asarray(predicted, dtype=np.float64)[:, 0], np.asarray(predicted, dtype=np.float64)[:, 1]
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    labelled = gt[:, 2] > 0
    if labelled.any():
        dx, dy = xd - gt[:, 0], yd - gt[:, 1]
    else:  # COCO: the distance outside a box twice the expected one's size, centred on it
        x1, y1, x2, y2 = box
        width, height = x2 - x1, y2 - y1
        zero = np.zeros(len(gt))
        dx = np.maximum(zero, (x1 - width) - xd) + np.maximum(zero, xd - (x1 + 2 * width))
        dy = np.maximum(zero, (y1 - height) - yd) + np.maximum(zero, yd - (y1 + 2 * height))
    e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
    terms = np.exp(-e)
    counted = terms[labelled] if labelled.any() else terms
    return KeypointComparison(np.hypot(dx, dy), terms, labelled, float(np.sum(counted) / counted.shape[0]))


def map_keypoints(
    keypoints: Sequence[Keypoint],
    map_points,
    output_size: tuple[int, int],
    mirrored: bool,
    flip_idx: Sequence[int] | None,
) -> tuple[Keypoint, ...]:
    """Keypoints moved by a geometric step: coordinates through ``map_points(xs, ys)``, a keypoint
    that lands outside the ``output_size`` picture unlabelled (v=0, at 0, 0, as COCO writes it), and
    in a mirror image (``mirrored``) each keypoint renamed through ``flip_idx`` (left becomes right).
    """
    points = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    xs, ys = map_points(points[:, 0], points[:, 1])
    width, height = output_size
    moved: list[Keypoint] = []
    for x, y, v in zip(xs.tolist(), ys.tolist(), points[:, 2].astype(int).tolist(), strict=True):
        inside = 0 <= x <= width and 0 <= y <= height
        moved.append((float(x), float(y), int(v)) if v > 0 and inside else (0.0, 0.0, 0))
    if mirrored and flip_idx is not None:
        moved = [moved[source] for source in flip_idx]
    return tuple(moved)
