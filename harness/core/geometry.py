"""Box and mask IoU, and conversions between polygons, COCO RLE and dense masks.

Conventions, the same as COCO and torchvision:
- boxes are ``x1 y1 x2 y2`` in original-image pixels, continuous coordinates: a box covering pixel
  columns 10..19 is ``[10, ..., 20, ...]`` and has width 10 (no "+1");
- masks are COCO RLE dicts ``{"size": [height, width], "counts": bytes}`` at the original image's
  resolution; polygons are rasterised by pycocotools, exactly as COCO ground truth is.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from pycocotools import mask as mask_utils

RLE = dict  # {"size": [height, width], "counts": bytes}


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two sets of boxes.

    Args:
        boxes_a: ``shape = (N, 4)``, ``x1 y1 x2 y2``.
        boxes_b: ``shape = (M, 4)``, ``x1 y1 x2 y2``.

    Returns:
        ``shape = (N, M)``, values in [0, 1]. A pair whose union is empty (two zero-area boxes) has IoU 0.

    Example:
        >>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10]]))
        array([[0.33333333]])
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    intersection = width * height
    union = area_a[:, None] + area_b[None, :] - intersection
    out = np.zeros_like(intersection)
    np.divide(intersection, union, out=out, where=union > 0)
    return out


def mask_iou(masks_a: Sequence[RLE], masks_b: Sequence[RLE]) -> np.ndarray:
    """Pairwise IoU of two lists of RLE masks of the same image size, ``shape = (N, M)``.

    Computed on the run lengths by pycocotools, never on a resized or letterboxed copy. Two empty
    masks have IoU 0, as in COCO.
    """
    sizes = {tuple(rle["size"]) for rle in [*masks_a, *masks_b]}
    if len(sizes) > 1:
        # pycocotools would answer -1 for such pairs; a silent -1 is worse than an error.
        raise ValueError(f"masks of different image sizes (height, width): {sorted(sizes)}")
    if not masks_a or not masks_b:
        return np.zeros((len(masks_a), len(masks_b)))
    ious = mask_utils.iou(list(masks_a), list(masks_b), [0] * len(masks_b))
    return np.asarray(ious, dtype=np.float64).reshape(len(masks_a), len(masks_b))


def polygons_to_rle(polygons: Sequence[Sequence[float]], height: int, width: int) -> RLE:
    """One RLE mask from one or more flat polygons ``[x1, y1, x2, y2, ...]`` (their union)."""
    if not polygons or any(len(p) < 6 or len(p) % 2 for p in polygons):
        # pycocotools would read a 4-number polygon as a box: insist on at least 3 points.
        raise ValueError("each polygon needs at least 3 (x, y) points")
    rles = mask_utils.frPyObjects([list(map(float, p)) for p in polygons], height, width)
    return mask_utils.merge(rles)


def mask_to_rle(mask: np.ndarray) -> RLE:
    """RLE of a dense boolean or 0/1 mask, ``shape = (height, width)``."""
    return mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))


def masks_to_rles(masks: np.ndarray) -> list[RLE]:
    """RLEs of a stack of dense masks, ``shape = (N, height, width)``."""
    if len(masks) == 0:
        return []
    stacked = np.asfortranarray(np.asarray(masks, dtype=np.uint8).transpose(1, 2, 0))
    return mask_utils.encode(stacked)


def rle_to_mask(rle: RLE) -> np.ndarray:
    """Dense boolean mask, ``shape = (height, width)``, of one RLE."""
    with warnings.catch_warnings():
        # pycocotools 2.0.11's decode trips numpy 2's copy-keyword deprecation inside its own code.
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle).astype(bool)


def rle_from_counts(size: Sequence[int], counts: str | Sequence[int]) -> RLE:
    """A pycocotools RLE from COCO's JSON form: compressed ``counts`` string or uncompressed list."""
    height, width = int(size[0]), int(size[1])
    if isinstance(counts, str):
        return {"size": [height, width], "counts": counts.encode("ascii")}
    return mask_utils.frPyObjects({"size": [height, width], "counts": list(counts)}, height, width)


def rle_area(rle: RLE) -> int:
    """Number of pixels in the mask."""
    return int(mask_utils.area(rle))


def polygon_area(flat: Sequence[float]) -> float:
    """Area of a flat polygon ``[x1, y1, x2, y2, ...]`` by the shoelace formula."""
    # Plain Python: for the tens of points of a case-file polygon, 4x faster than numpy's overhead.
    xs, ys = list(flat[0::2]), list(flat[1::2])
    following = zip(xs, ys, xs[1:] + xs[:1], ys[1:] + ys[:1], strict=True)  # an odd length raises
    twice = sum(x * y_next - y * x_next for x, y, x_next, y_next in following)
    return abs(float(twice)) / 2


def compressed_rle_total(counts: str) -> int | None:
    """Pixels covered by a COCO compressed RLE string's runs, or None if the string is malformed.

    The format (pycocotools' ``rleToString``): each run is a variable-length number of 5-bit groups
    stored as ``chr(group + 48)``, 0x20 marking "more follows"; from the third run on, a run is
    stored as the difference to the run two before it.
    """
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                return None
            code = ord(counts[position]) - 48
            if not 0 <= code < 64:
                return None
            value |= (code & 0x1F) << (5 * shift)
            more = bool(code & 0x20)
            position += 1
            shift += 1
            if not more and code & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            return None
        runs.append(value)
    return sum(runs)


# Tracing a raster mask as polygons: the contour is found on a 4x enlarged copy, so that its points
# lie on pixel edges, not pixel centres (measured on the shapes: IoU with the mask 0.95-1.0 instead of
# 0.67-0.97). The simplification tolerance is the coarsest of these (pixels) that keeps TRACE_MIN_IOU.
TRACE_SCALE = 4
TRACE_TOLERANCES = (1.0, 0.75, 0.5, 0.35)
TRACE_MIN_IOU = 0.95


def mask_to_polygons(mask: np.ndarray, tolerance: float = 1.0) -> list[list[float]]:
    """The outer outlines of a dense mask as flat polygons ``[x1, y1, x2, y2, ...]`` in image pixels,
    simplified to within ``tolerance`` pixels. Holes are not traced; specks under 3 points are dropped."""
    import cv2  # ~0.1 s to import, and only tracing needs it

    rows, cols = np.nonzero(mask)
    if not len(rows):
        return []
    top, left = int(rows.min()), int(cols.min())
    crop = np.asarray(mask[top : rows.max() + 1, left : cols.max() + 1], dtype=np.uint8)
    crop = np.pad(crop, 1)  # a contour touching the crop's border would be cut
    big = cv2.resize(crop, None, fx=TRACE_SCALE, fy=TRACE_SCALE, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        points = cv2.approxPolyDP(contour, tolerance * TRACE_SCALE, True).reshape(-1, 2)
        # Through the centres of the enlarged pixels: a 1/8 px error on every side, not 1/4 px on two.
        points = (points + 0.5) / TRACE_SCALE + (left - 1, top - 1)  # back from the padded crop to the image
        flat = [round(float(v), 2) for v in points.ravel()]
        if len(flat) >= 6 and polygon_area(flat) > 0:
            polygons.append(flat)
    return polygons


def trace_rle(rle: RLE) -> tuple[list[list[float]], float]:
    """An RLE mask as few polygon points as keep IoU >= TRACE_MIN_IOU with it (else the finest
    tracing), and that IoU: what a raster mask loses when it becomes an editable polygon."""
    height, width = rle["size"]
    mask = rle_to_mask(rle)
    best: tuple[list[list[float]], float] = ([], 0.0)
    for tolerance in TRACE_TOLERANCES:
        polygons = mask_to_polygons(mask, tolerance)
        if not polygons:
            return [], 0.0
        iou = float(mask_iou([rle], [polygons_to_rle(polygons, height, width)])[0, 0])
        best = (polygons, iou)
        if iou >= TRACE_MIN_IOU:
            break
    return best
