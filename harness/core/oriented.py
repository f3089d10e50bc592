"""Oriented boxes: turned rectangles given as four corners, and the exact area of their overlap.

An oriented box is four corner points, ``shape = (8,)`` as ``x1 y1 x2 y2 x3 y3 x4 y4`` in
original-image pixels, in order around the box (either way round). Ultralytics' ``xywhr`` form (centre,
width, height, angle in radians, clockwise in the image as y points down) converts to corners with
:func:`xywhr_to_corners`.

IoU is the area of the intersection of the two quadrilaterals over the area of their union, by
shapely (GEOS): the overlap a person means and DOTA's devkit computes, not Ultralytics' probabilistic
IoU (``probiou``, a Gaussian approximation its ``val`` uses), which docs/obb.md compares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Corners = tuple[float, float, float, float, float, float, float, float]


def xywhr_to_corners(xywhr: np.ndarray) -> np.ndarray:
    """Corners of oriented boxes given as centre, size and angle.

    Args:
        xywhr: ``shape = (N, 5)``: ``cx cy w h r``, ``r`` in radians.

    Returns:
        ``shape = (N, 8)``: the corners ``(-w/2, -h/2), (w/2, -h/2), (w/2, h/2), (-w/2, h/2)`` of
        the box's own frame, turned by ``r`` and moved to the centre (Ultralytics'
        ``xywhr2xyxyxyxy`` starts at ``(w/2, h/2)``: the same box, another first corner).

    Example:
        >>> xywhr_to_corners(np.array([[10.0, 10.0, 4.0, 2.0, 0.0]])).tolist()
        [[8.0, 9.0, 12.0, 9.0, 12.0, 11.0, 8.0, 11.0]]
    """
    xywhr = np.asarray(xywhr, dtype=np.float64).reshape(-1, 5)
    cx, cy, w, h, r = xywhr.T
    cos, sin = np.cos(r), np.sin(r)
    out = np.empty((len(xywhr), 8))
    for k, (u, v) in enumerate(((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5))):
        du, dv = u * w, v * h
        out[:, 2 * k] = cx + du * cos - dv * sin
        out[:, 2 * k + 1] = cy + du * sin + dv * cos
    return out


def corners_bounds(corners: Sequence[float]) -> tuple[float, float, float, float]:
    """The axis-aligned box ``x1 y1 x2 y2`` around an oriented box's corners."""
    xs, ys = corners[0::2], corners[1::2]
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


def quadrilateral_problem(corners: Sequence[float]) -> str | None:
    """Why four corners are no usable oriented box (crossing edges, no area), or None."""
    import shapely  # only where oriented boxes are used: it loads GEOS

    polygon = shapely.Polygon(np.asarray(corners, dtype=np.float64).reshape(4, 2))
    if polygon.convex_hull.area <= 0:
        return "the four corners enclose no area (they lie on a line)"
    if not polygon.is_valid:
        return "the edges cross: list the corners in order around the box"
    return None


def oriented_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU of every oriented box in ``first`` with every one in ``second``: exact polygon areas.

    Args:
        first: ``shape = (N, 8)`` corners.
        second: ``shape = (M, 8)`` corners.

    Returns:
        ``shape = (N, M)``; 0 where a box has no area.

    Example:
        >>> a = np.array([[0, 0, 2, 0, 2, 2, 0, 2]], dtype=float)
        >>> b = np.array([[1, 0, 3, 0, 3, 2, 1, 2]], dtype=float)
        >>> round(float(oriented_iou(a, b)[0, 0]), 6)
        0.333333
    """
    import shapely  # only where oriented boxes are used: it loads GEOS

    first = np.asarray(first, dtype=np.float64).reshape(-1, 8)
    second = np.asarray(second, dtype=np.float64).reshape(-1, 8)
    if not len(first) or not len(second):
        return np.zeros((len(first), len(second)))
    a = shapely.polygons(first.reshape(-1, 4, 2))
    b = shapely.polygons(second.reshape(-1, 4, 2))
    # A predicted box's corners come from xywhr and never cross; a case file's are checked on loading.
    inter = shapely.area(shapely.intersection(a[:, None], b[None, :]))
    union = shapely.area(a)[:, None] + shapely.area(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
