"""Oriented boxes: corners from xywhr, and the polygon IoU checked against shapely's own polygons."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.oriented import corners_bounds, oriented_iou, quadrilateral_problem, xywhr_to_corners

centres = st.floats(0, 400, allow_nan=False)
sides = st.floats(0.5, 200, allow_nan=False)
angles = st.floats(-2 * math.pi, 2 * math.pi, allow_nan=False)
boxes = st.tuples(centres, centres, sides, sides, angles)


def reference_iou(a: tuple, b: tuple) -> float:
    """IoU of two xywhr boxes built independently: a shapely rectangle turned and moved by shapely."""
    polygons = []
    for cx, cy, w, h, r in (a, b):
        rectangle = shapely.box(-w / 2, -h / 2, w / 2, h / 2)
        turned = shapely.affinity.rotate(rectangle, r, origin=(0, 0), use_radians=True)
        polygons.append(shapely.affinity.translate(turned, cx, cy))
    inter = polygons[0].intersection(polygons[1]).area
    return inter / (polygons[0].area + polygons[1].area - inter)


@settings(max_examples=300, deadline=None)
@given(first=boxes, second=boxes)
def test_oriented_iou_equals_shapely_polygon_iou(first, second):
    ours = oriented_iou(xywhr_to_corners(np.array([first])), xywhr_to_corners(np.array([second])))[0, 0]
    assert ours == pytest.approx(reference_iou(first, second), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(box=boxes)
def test_a_box_against_itself_has_iou_one_at_any_angle(box):
    corners = xywhr_to_corners(np.array([box]))
    assert oriented_iou(corners, corners)[0, 0] == pytest.approx(1.0, abs=1e-9)
    # The same box written from another corner, the other way round, is the same box.
    reordered = corners.reshape(4, 2)[[2, 1, 0, 3]].reshape(1, 8)
    assert oriented_iou(corners, reordered)[0, 0] == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(box=boxes)
def test_corners_are_a_rectangle_of_the_given_sides(box):
    cx, cy, w, h, _ = box
    points = xywhr_to_corners(np.array([box])).reshape(4, 2)
    edges = np.linalg.norm(np.roll(points, -1, axis=0) - points, axis=1)
    assert edges == pytest.approx([w, h, w, h], rel=1e-9, abs=1e-9)
    assert points.mean(axis=0) == pytest.approx([cx, cy], abs=1e-9)


def test_a_matrix_of_boxes_holds_every_pair():
    many = xywhr_to_corners(np.array([[50, 50, 40, 20, 0.3], [60, 55, 40, 20, 1.2], [300, 300, 10, 10, 0.0]]))
    matrix = oriented_iou(many, many[:2])
    assert matrix.shape == (3, 2)
    assert matrix[2].tolist() == [0.0, 0.0]  # far apart
    assert matrix[0, 1] == pytest.approx(matrix[1, 0])
    assert oriented_iou(many, np.zeros((0, 8))).shape == (3, 0)


def test_bounds_and_bad_quadrilaterals():
    assert corners_bounds((0, 0, 4, 1, 3, 5, -1, 4)) == (-1.0, 0.0, 4.0, 5.0)
    assert quadrilateral_problem((0, 0, 4, 0, 4, 2, 0, 2)) is None
    assert "cross" in quadrilateral_problem((0, 0, 4, 2, 4, 0, 0, 2))  # a bow tie
    assert "no area" in quadrilateral_problem((0, 0, 1, 1, 2, 2, 3, 3))
