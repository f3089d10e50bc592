"""Box and mask IoU properties, cross-checks against torchvision and against pixel counts, and RLE conversions.

The harness computes mask IoU and rasterises polygons with pycocotools, so pycocotools is never the
reference for those here: comparing it with itself would prove nothing. Mask IoU is checked against
pixels counted on numpy boolean masks, polygons against shapes whose pixels are known exactly
(axis-aligned rectangles on pixel edges) or, for arbitrary convex polygons, against their exact area.
"""

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.core.geometry import (
    box_iou,
    compressed_rle_total,
    mask_iou,
    mask_to_rle,
    masks_to_rles,
    polygons_to_rle,
    rle_area,
    rle_from_counts,
    rle_to_mask,
)

SETTINGS = settings(max_examples=60, deadline=None)

coordinate = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)
extent = st.floats(0.1, 500, allow_nan=False, allow_infinity=False)


@st.composite
def positive_boxes(draw):
    """A box with positive width and height."""
    x1, y1 = draw(coordinate), draw(coordinate)
    return [x1, y1, x1 + draw(extent), y1 + draw(extent)]


@st.composite
def any_boxes(draw):
    """Four arbitrary coordinates: zero-area and inverted boxes included."""
    return [draw(coordinate) for _ in range(4)]


def box_array(boxes):
    return np.array(boxes, dtype=np.float64).reshape(-1, 4)


def box_sets(box, max_size=5):
    return st.lists(box, min_size=0, max_size=max_size).map(box_array)


@st.composite
def mask_stacks(draw, min_size=0, max_size=4, shape=None):
    """A stack of random boolean masks, ``shape = (N, height, width)``, some empty or full."""
    height, width = shape if shape is not None else (draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    densities = draw(
        st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]) | st.floats(0, 1), min_size=min_size, max_size=max_size)
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    masks = np.zeros((len(densities), height, width), dtype=bool)
    for i, density in enumerate(densities):
        masks[i] = rng.random((height, width)) < density
    return masks


@st.composite
def mask_pairs(draw, min_size=0, max_size=4):
    """Two stacks of masks of the same image size."""
    a = draw(mask_stacks(min_size=min_size, max_size=max_size))
    b = draw(mask_stacks(min_size=min_size, max_size=max_size, shape=a.shape[1:]))
    return a, b


def rles(masks):
    return [mask_to_rle(m) for m in masks]


def dense_iou(masks_a, masks_b):
    """Independent reference: |A & B| / |A | B|, 0 where the union is empty."""
    out = np.zeros((len(masks_a), len(masks_b)))
    for i, a in enumerate(masks_a):
        for j, b in enumerate(masks_b):
            union = np.logical_or(a, b).sum()
            out[i, j] = np.logical_and(a, b).sum() / union if union else 0.0
    return out


# --- box_iou -------------------------------------------------------------------------------------


def test_box_iou_docstring_example():
    assert box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10]])) == pytest.approx(np.array([[1 / 3]]))


@SETTINGS
@given(box_sets(any_boxes()), box_sets(any_boxes()))
def test_box_iou_shape_range_and_symmetry(a, b):
    iou = box_iou(a, b)
    assert iou.shape == (len(a), len(b))
    assert np.all((iou >= 0) & (iou <= 1))
    assert iou == pytest.approx(box_iou(b, a).T)


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 3), (2, 0)])
def test_box_iou_empty_sets(n, m):
    a = np.tile([0.0, 0.0, 10.0, 10.0], (n, 1)).reshape(n, 4)
    b = np.tile([5.0, 5.0, 15.0, 15.0], (m, 1)).reshape(m, 4)
    assert box_iou(a, b).shape == (n, m)


@SETTINGS
@given(box_sets(positive_boxes(), max_size=4).filter(len))
def test_box_iou_identity_is_one(a):
    assert np.diag(box_iou(a, a)) == pytest.approx(np.ones(len(a)))


def test_box_iou_zero_area_pair_is_zero():
    point = np.array([[3.0, 3.0, 3.0, 3.0]])
    assert box_iou(point, point) == pytest.approx(np.array([[0.0]]))


@SETTINGS
@given(positive_boxes(), positive_boxes(), st.floats(0, 100), st.sampled_from(["left", "right", "above", "below"]))
def test_box_iou_disjoint_boxes_are_zero(a, b, gap, side):
    """``b`` is moved entirely to one side of ``a`` (touching allowed, gap >= 0)."""
    width, height = b[2] - b[0], b[3] - b[1]
    if side == "right":
        b = [a[2] + gap, b[1], a[2] + gap + width, b[3]]
    elif side == "left":
        b = [a[0] - gap - width, b[1], a[0] - gap, b[3]]
    elif side == "below":
        b = [b[0], a[3] + gap, b[2], a[3] + gap + height]
    else:
        b = [b[0], a[1] - gap - height, b[2], a[1] - gap]
    assert box_iou(box_array([a]), box_array([b])) == pytest.approx(np.array([[0.0]]))


@SETTINGS
@given(box_sets(positive_boxes(), max_size=4), box_sets(positive_boxes(), max_size=4), coordinate, coordinate)
def test_box_iou_translation_invariant(a, b, dx, dy):
    shift = np.array([dx, dy, dx, dy])
    assert box_iou(a + shift, b + shift) == pytest.approx(box_iou(a, b), rel=1e-9, abs=1e-9)


@SETTINGS
@given(box_sets(positive_boxes(), max_size=4), box_sets(positive_boxes(), max_size=4), st.floats(0.01, 100))
def test_box_iou_scale_invariant(a, b, scale):
    assert box_iou(a * scale, b * scale) == pytest.approx(box_iou(a, b), rel=1e-9, abs=1e-9)


@SETTINGS
@given(box_sets(positive_boxes(), max_size=6), box_sets(positive_boxes(), max_size=6))
def test_box_iou_matches_torchvision(a, b):
    expected = torchvision.ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert box_iou(a, b) == pytest.approx(expected, abs=1e-6)


def test_box_iou_matches_torchvision_float32_seeded():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 600, (2, 50, 2))
    wh = rng.uniform(1, 200, (2, 50, 2))
    a, b = (np.concatenate([xy[k], xy[k] + wh[k]], axis=1).astype(np.float32) for k in range(2))
    expected = torchvision.ops.box_iou(torch.from_numpy(a).double(), torch.from_numpy(b).double()).numpy()
    iou = box_iou(a, b)
    assert (iou > 0).sum() > 0  # the check must cover overlapping pairs, not only zeros
    assert iou == pytest.approx(expected, abs=1e-6)


# --- mask_iou ------------------------------------------------------------------------------------


@SETTINGS
@given(mask_pairs())
def test_mask_iou_shape_range_and_symmetry(pair):
    a, b = pair
    iou = mask_iou(rles(a), rles(b))
    assert iou.shape == (len(a), len(b))
    assert np.all((iou >= 0) & (iou <= 1))
    assert iou == pytest.approx(mask_iou(rles(b), rles(a)).T)


@SETTINGS
@given(mask_stacks(min_size=1).filter(lambda m: m.any(axis=(1, 2)).all()))
def test_mask_iou_identity_is_one_for_non_empty_masks(masks):
    assert np.diag(mask_iou(rles(masks), rles(masks))) == pytest.approx(np.ones(len(masks)))


def test_mask_iou_empty_versus_empty_is_zero():
    empty = mask_to_rle(np.zeros((7, 9), dtype=bool))
    full = mask_to_rle(np.ones((7, 9), dtype=bool))
    assert mask_iou([empty], [empty, full]) == pytest.approx(np.array([[0.0, 0.0]]))


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 2), (3, 0)])
def test_mask_iou_empty_lists(n, m):
    rle = mask_to_rle(np.ones((4, 5), dtype=bool))
    assert mask_iou([rle] * n, [rle] * m).shape == (n, m)


@SETTINGS
@given(mask_pairs(min_size=1, max_size=3))
def test_mask_iou_disjoint_masks_are_zero(pair):
    a, b = pair
    b = b & ~a.any(axis=0)  # nothing of b where any mask of a is set
    assert mask_iou(rles(a), rles(b)) == pytest.approx(np.zeros((len(a), len(b))))


@SETTINGS
@given(mask_pairs(max_size=3), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5))
def test_mask_iou_translation_invariant(pair, top, left, bottom, right):
    """Moving both masks by the same offset inside a larger image keeps the IoU."""
    a, b = pair
    padding = ((0, 0), (top, bottom), (left, right))
    moved = mask_iou(rles(np.pad(a, padding)), rles(np.pad(b, padding)))
    assert moved == pytest.approx(mask_iou(rles(a), rles(b)))


@SETTINGS
@given(mask_pairs(max_size=3), st.integers(2, 4))
def test_mask_iou_scale_invariant(pair, factor):
    """Upsampling both masks by the same whole factor keeps the IoU."""
    a, b = pair
    block = np.ones((1, factor, factor), dtype=bool)
    scaled = mask_iou(rles(np.kron(a, block)), rles(np.kron(b, block)))
    assert scaled == pytest.approx(mask_iou(rles(a), rles(b)))


@SETTINGS
@given(mask_pairs())
def test_mask_iou_matches_dense_numpy(pair):
    a, b = pair
    assert mask_iou(rles(a), rles(b)) == pytest.approx(dense_iou(a, b), abs=1e-12)


@SETTINGS
@given(mask_pairs(min_size=1))
def test_mask_iou_of_masks_run_length_encoded_here_counts_pixels(pair):
    # Independent on both sides: the RLEs are this file's own column-major run lengths (run_lengths,
    # not pycocotools' encoder), and the reference counts pixels with np.logical_and / np.logical_or.
    a, b = pair
    height, width = a.shape[1:]
    encoded_a = [rle_from_counts((height, width), run_lengths(m)) for m in a]
    encoded_b = [rle_from_counts((height, width), run_lengths(m)) for m in b]
    assert mask_iou(encoded_a, encoded_b) == pytest.approx(dense_iou(a, b), abs=1e-12)


def test_masks_to_rles_matches_one_by_one_encoding():
    masks = np.random.default_rng(3).random((3, 11, 13)) < 0.4
    stacked = masks_to_rles(masks)
    assert [rle_to_mask(r).tolist() for r in stacked] == [m.tolist() for m in masks]
    assert stacked == rles(masks)
    assert masks_to_rles(np.zeros((0, 11, 13), dtype=bool)) == []


# --- box IoU and mask IoU agree on pixel-aligned rectangles --------------------------------------


@st.composite
def aligned_boxes(draw, height, width):
    x1, x2 = sorted(draw(st.integers(0, width)) for _ in range(2))
    y1, y2 = sorted(draw(st.integers(0, height)) for _ in range(2))
    return [x1, y1, x2, y2]


@st.composite
def aligned_scenes(draw):
    height, width = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    a = draw(st.lists(aligned_boxes(height, width), min_size=1, max_size=3))
    b = draw(st.lists(aligned_boxes(height, width), min_size=1, max_size=3))
    return height, width, a, b


def rasterise(box, height, width):
    mask = np.zeros((height, width), dtype=bool)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = True
    return mask


@SETTINGS
@given(aligned_scenes())
def test_box_iou_equals_mask_iou_for_pixel_aligned_rectangles(scene):
    height, width, a, b = scene
    masks_a = [mask_to_rle(rasterise(box, height, width)) for box in a]
    masks_b = [mask_to_rle(rasterise(box, height, width)) for box in b]
    assert box_iou(box_array(a), box_array(b)) == pytest.approx(mask_iou(masks_a, masks_b), abs=1e-9)


def test_box_iou_equals_mask_iou_for_known_rectangles():
    a, b = [10, 20, 50, 60], [30, 30, 70, 90]
    masks = [mask_to_rle(rasterise(box, 100, 120)) for box in (a, b)]
    # intersection 20 * 30 = 600, union 1600 + 2400 - 600 = 3400
    assert box_iou(box_array([a]), box_array([b])) == pytest.approx(np.array([[600 / 3400]]))
    assert mask_iou(masks[:1], masks[1:]) == pytest.approx(np.array([[600 / 3400]]))


# --- polygons and RLE ----------------------------------------------------------------------------


@st.composite
def polygon_scenes(draw, count=1):
    height, width = draw(st.integers(4, 40)), draw(st.integers(4, 40))
    polygons = []
    for _ in range(count):
        points = draw(st.lists(st.tuples(st.floats(0, width), st.floats(0, height)), min_size=3, max_size=8))
        polygons.append([v for point in points for v in point])
    return height, width, polygons


@st.composite
def pixel_edge_rectangles(draw):
    """An image size and 1-3 rectangles with integer corners, each as a polygon starting at any corner,
    either way round: its pixels are exactly the numpy slice [y1:y2, x1:x2], known without rasterising."""
    height, width = draw(st.integers(4, 40)), draw(st.integers(4, 40))
    polygons, expected = [], np.zeros((height, width), dtype=bool)
    for _ in range(draw(st.integers(1, 3))):
        x1, x2 = sorted(draw(st.lists(st.integers(0, width), min_size=2, max_size=2, unique=True)))
        y1, y2 = sorted(draw(st.lists(st.integers(0, height), min_size=2, max_size=2, unique=True)))
        corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
        start = draw(st.integers(0, 3))
        corners = corners[start:] + corners[:start]
        corners = corners[::-1] if draw(st.booleans()) else corners
        polygons.append([float(v) for corner in corners for v in corner])
        expected[y1:y2, x1:x2] = True
    return height, width, polygons, expected


@SETTINGS
@given(pixel_edge_rectangles())
def test_polygons_on_pixel_edges_cover_exactly_their_pixels(scene):
    # Independent: the expected pixels are numpy slices of the rectangles, not any rasteriser's output.
    height, width, polygons, expected = scene
    rle = polygons_to_rle(polygons, height, width)
    decoded = rle_to_mask(rle)
    assert decoded.shape == (height, width)
    assert decoded.dtype == bool
    assert np.array_equal(decoded, expected)
    assert rle_area(rle) == int(expected.sum())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 300), st.floats(0, 200)), min_size=3, max_size=12), st.integers(0, 10**6))
def test_large_convex_polygons_cover_their_exact_area_within_the_boundary_pixels(points, seed):
    # Independent: scipy's convex hull gives the polygon's exact area and perimeter (no pycocotools).
    # A pixel can be counted wrongly only where the boundary crosses it, and a straight edge of length
    # L crosses at most L * sqrt(2) + 2 pixels: the pixel count is within that sum of the exact area.
    # Transposed, scaled or shifted rasterising would miss by far more on shapes this large.
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(np.array(points))
    except QhullError:  # collinear or repeated points: no polygon to rasterise
        assume(False)
    assume(hull.volume > 2000)  # in 2-D, scipy's "volume" is the area and its "area" the perimeter
    corners = np.array(points)[hull.vertices]
    corners = np.roll(corners, np.random.default_rng(seed).integers(len(corners)), axis=0)
    rle = polygons_to_rle([corners.ravel().tolist()], 200, 300)
    edges = np.linalg.norm(corners - np.roll(corners, 1, axis=0), axis=1)
    assert abs(rle_area(rle) - hull.volume) <= float(np.sum(edges * np.sqrt(2) + 2))
    rows, columns = np.nonzero(rle_to_mask(rle))
    x1, y1 = corners.min(axis=0)
    x2, y2 = corners.max(axis=0)
    assert rows.min() >= y1 - 1 and rows.max() <= y2 and columns.min() >= x1 - 1 and columns.max() <= x2


@SETTINGS
@given(polygon_scenes(count=2))
def test_polygons_to_rle_is_the_union(scene):
    height, width, polygons = scene
    union = polygons_to_rle(polygons, height, width)
    parts = [polygons_to_rle([p], height, width) for p in polygons]
    assert rle_area(union) <= sum(rle_area(p) for p in parts)
    assert rle_area(union) >= max(rle_area(p) for p in parts)
    assert np.array_equal(rle_to_mask(union), rle_to_mask(parts[0]) | rle_to_mask(parts[1]))


def test_polygons_to_rle_integer_square_covers_its_pixels():
    """An axis-aligned square with integer corners covers exactly the pixels of the same box."""
    rle = polygons_to_rle([[2, 2, 8, 2, 8, 8, 2, 8]], 10, 12)
    assert rle["size"] == [10, 12]
    assert rle_area(rle) == 36
    assert np.array_equal(rle_to_mask(rle), rasterise([2, 2, 8, 8], 10, 12))


def run_lengths(mask):
    """COCO uncompressed counts: column-major runs, starting with a (possibly empty) run of zeros."""
    counts, current, run = [], False, 0
    for value in np.asarray(mask, dtype=bool).ravel(order="F"):
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return counts


def test_rle_from_counts_known_uncompressed():
    rle = rle_from_counts([2, 2], [1, 2, 1])  # column-major: (0,0)=0, (1,0)=1, (0,1)=1, (1,1)=0
    assert rle_to_mask(rle).tolist() == [[False, True], [True, False]]
    assert rle_area(rle) == 2


@SETTINGS
@given(mask_stacks(min_size=1, max_size=1))
def test_rle_from_counts_compressed_and_uncompressed_agree(masks):
    mask = masks[0]
    height, width = mask.shape
    compressed = mask_to_rle(mask)["counts"].decode("ascii")
    from_string = rle_from_counts([height, width], compressed)
    from_list = rle_from_counts((height, width), run_lengths(mask))
    assert from_string["size"] == from_list["size"] == [height, width]
    assert np.array_equal(rle_to_mask(from_string), mask)
    assert np.array_equal(rle_to_mask(from_list), mask)
    if mask.any():
        assert mask_iou([from_string], [from_list]) == pytest.approx(np.array([[1.0]]))


def test_mask_iou_refuses_masks_of_different_sizes():
    a = mask_to_rle(np.ones((4, 5), bool))
    b = mask_to_rle(np.ones((5, 4), bool))
    with pytest.raises(ValueError, match="different image sizes"):
        mask_iou([a], [b])


def test_polygons_need_three_points():
    # pycocotools would take four numbers for a box; the harness refuses instead of guessing.
    with pytest.raises(ValueError, match="at least 3"):
        polygons_to_rle([[1, 1, 5, 5]], 10, 10)


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_compressed_rle_total_agrees_with_pycocotools(height, width, seed, density):
    mask = np.random.default_rng(seed).random((height, width)) < density
    counts = mask_to_rle(mask)["counts"].decode("ascii")
    assert compressed_rle_total(counts) == height * width


@pytest.mark.parametrize("counts", ["", "0", "\x7f", "1"])
def test_compressed_rle_total_never_covers_a_whole_image_for_garbage(counts):
    assert compressed_rle_total(counts) in (None, 0, 1)
