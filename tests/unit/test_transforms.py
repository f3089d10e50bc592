"""harness.transforms and harness.variants: pixels and expectations move together, exactly.

The geometric steps are checked three ways: a marked pixel lands where the coordinate map says
(hypothesis, every step), the expected masks of transformed golden cases equal the generator's own
scenes re-rendered transformed, and raster masks move pixel for pixel.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy.ndimage import binary_dilation, binary_erosion

from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case, VariantSpec
from harness.core.errors import CaseFileError
from harness.core.geometry import mask_to_rle, rle_to_mask
from harness.core.transforms import FLIPS, PHOTOMETRIC, Step, Transform, parse_transform
from harness.robustness.variants import case_pixels, make_variant

from conftest import ROOT

sys.path.insert(0, str(ROOT / "fixtures"))
from shapes import Scene, Shape, make_scene, pixel_box

SETTINGS = settings(max_examples=80, deadline=None)
# pycocotools' decode with numpy 2; not the harness' doing.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def transform(*steps: Step) -> Transform:
    return Transform(tuple(steps))


@st.composite
def geometric_steps(draw, width: int, height: int) -> Step:
    kind = draw(st.sampled_from((*FLIPS, "crop", "pad", "crop-fraction")))
    if kind == "crop":
        x1 = draw(st.integers(0, width - 1))
        y1 = draw(st.integers(0, height - 1))
        return Step("crop", (x1, y1, draw(st.integers(x1 + 1, width)), draw(st.integers(y1 + 1, height))))
    if kind == "crop-fraction":
        return Step("crop", draw(st.floats(0.05, 1.0)))
    if kind == "pad":
        return Step("pad", tuple(draw(st.integers(0, 9)) for _ in range(4)))
    return Step(kind)


@SETTINGS
@given(data=st.data(), width=st.integers(1, 24), height=st.integers(1, 24))
def test_a_marked_pixel_lands_where_the_coordinate_map_puts_its_centre(data, width, height):
    step = data.draw(geometric_steps(width, height))
    size = (width, height)
    image = np.zeros((height, width, 3), dtype=np.uint8)
    column, row = data.draw(st.integers(0, width - 1)), data.draw(st.integers(0, height - 1))
    image[row, column] = 255
    x, y = np.array([column + 0.5]), np.array([row + 0.5])
    moved = step.apply_image(image)
    assert (moved.shape[1], moved.shape[0]) == step.output_size(size)
    x, y = step.map_points(x, y, size)
    out_w, out_h = step.output_size(size)
    if 0 <= x[0] < out_w and 0 <= y[0] < out_h:
        marked = np.argwhere(moved[..., 0] == 255)
        assert marked.tolist() == [[math.floor(y[0]), math.floor(x[0])]]
    else:  # cropped away
        assert step.kind == "crop" and not (moved[..., 0] == 255).any()


@SETTINGS
@given(width=st.integers(8, 64), height=st.integers(8, 64), factor=st.floats(0.1, 4.0))
def test_scale_maps_the_image_corners_to_the_new_corners(width, height, factor):
    step = Step("scale", factor)
    out_w, out_h = step.output_size((width, height))
    assert (out_w, out_h) == (max(1, round(width * factor)), max(1, round(height * factor)))
    xs, ys = step.map_points(np.array([0.0, width]), np.array([0.0, height]), (width, height))
    assert np.allclose(xs, [0, out_w]) and np.allclose(ys, [0, out_h])
    assert step.apply_image(np.zeros((height, width, 3), np.uint8)).shape == (out_h, out_w, 3)


@SETTINGS
@given(data=st.data(), width=st.integers(4, 40), height=st.integers(4, 40))
def test_raster_masks_move_exactly_like_the_picture(data, width, height):
    steps = [data.draw(geometric_steps(width, height))]
    mask = data.draw(st.lists(st.booleans(), min_size=width * height, max_size=width * height))
    mask = np.array(mask).reshape(height, width)
    chain = transform(*steps)
    picture = np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2)
    # Padding fills the picture with grey, not black: compare where the mask is set, in both.
    assert np.array_equal(chain.apply_mask(mask), chain.apply_image(picture)[..., 0] == 255)


def golden_case_file() -> list[Case]:
    cases = load_case_file(ROOT / "cases" / "shapes-seg.yaml").cases
    assert all(isinstance(case, Case) for case in cases)
    return list(cases)


def rerendered(scene: Scene, kind: str) -> Scene:
    """The generator's scene with every polygon transformed by hand, as a scene of the transformed size."""
    w, h = scene.width, scene.height
    point = {
        "hflip": lambda x, y: (w - x, y),
        "vflip": lambda x, y: (x, h - y),
        "rot90": lambda x, y: (y, w - x),  # counter-clockwise
        "rot180": lambda x, y: (w - x, h - y),
        "rot270": lambda x, y: (h - y, x),
    }[kind]
    size = (h, w) if kind in ("rot90", "rot270") else (w, h)
    shapes = tuple(Shape(s.class_name, tuple(point(x, y) for x, y in s.polygon), s.color) for s in scene.shapes)
    return Scene(size[0], size[1], scene.background, shapes, scene.noise_seed)


@pytest.mark.parametrize("kind", FLIPS)
def test_transformed_golden_masks_equal_the_generators_scenes_rerendered_transformed(kind):
    for index, case in enumerate(golden_case_file()):
        scene = make_scene("golden", index)
        variant = make_variant(case, VariantSpec(transform(Step(kind)), "transforms[0]"))
        again = rerendered(scene, kind)
        assert variant.image_size == (again.width, again.height)
        assert len(variant.objects) == len(again.shapes)
        for k, (obj, shape) in enumerate(zip(variant.objects, again.shapes, strict=True)):
            expected = shape.mask(again.height, again.width)
            harness = rle_to_mask(obj.mask.to_rle(again.height, again.width))
            assert np.array_equal(harness, expected), (case.name, kind)
            # The case files' boxes are the masks' pixel boxes; moved, they still bound the re-rendered mask.
            assert np.allclose(obj.box, pixel_box(expected), atol=1.0), (case.name, obj.box, pixel_box(expected))
            # And the coordinate map agrees with the pixel operation: the re-rendered mask is the
            # original mask flipped or rotated, but for pycocotools' rounding of pixels on the edge.
            moved = transform(Step(kind)).apply_mask(scene.shapes[k].mask(scene.height, scene.width))
            edge = binary_dilation(expected) & ~binary_erosion(expected)
            assert not ((moved != expected) & ~edge).any(), (case.name, kind)


def test_a_variant_is_judged_on_the_transformed_picture():
    case = golden_case_file()[1]
    variant = make_variant(case, VariantSpec(transform(Step("rot90"), Step("brightness", 0.5)), "transforms[0]"))
    original = np.asarray(Image.open(case.image).convert("RGB"))
    expected = np.asarray(Image.fromarray(np.ascontiguousarray(np.rot90(original))).point(lambda v: int(v * 0.5 + 0.5)))
    pixels = case_pixels(variant)
    assert pixels.shape == (case.image_size[0], case.image_size[1], 3)
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1  # Pillow's own rounding
    assert variant.name == f"{case.name}[rot90+brightness=0.5]" and variant.variant_of == case.name


def test_photometric_steps_keep_the_geometry_and_are_deterministic():
    rgb = np.asarray(Image.open(golden_case_file()[2].image).convert("RGB"))
    for kind, value in (("brightness", 0.6), ("contrast", 1.4), ("blur", 1.5), ("noise", 12.0), ("jpeg", 30.0)):
        step = Step(kind, value)
        once, twice = step.apply_image(rgb), step.apply_image(rgb)
        assert once.shape == rgb.shape and once.dtype == np.uint8
        assert np.array_equal(once, twice)
        assert not np.array_equal(once, rgb), kind
    assert set(PHOTOMETRIC) == {"brightness", "contrast", "blur", "noise", "jpeg"}
    for identity in (Step("brightness", 1.0), Step("contrast", 1.0), Step("noise", 0.0)):
        assert np.array_equal(identity.apply_image(rgb), rgb), identity.id
    assert not np.array_equal(Step("noise", 12.0).apply_image(rgb), Step("noise", 13.0).apply_image(rgb))


def write_case(tmp_path: Path, body: str, file_extra: str = "") -> Path:
    Image.new("RGB", (100, 80), (90, 90, 90)).save(tmp_path / "img.png")
    (tmp_path / "model.pt").write_bytes(b"")
    path = tmp_path / "cases.yaml"
    path.write_text(f"model: model.pt\ntask: segment\n{file_extra}cases:\n  - {body}\n")
    return path


def test_a_crop_keeps_whole_objects_ignores_cut_ones_and_drops_those_outside(tmp_path):
    square = "[[10, 10], [30, 10], [30, 30], [10, 30]]"
    path = write_case(
        tmp_path,
        "{name: a, image: img.png, objects: ["
        f"{{class: x, box: [10, 10, 30, 30], mask: {square}}}, "
        "{class: y, box: [0, 0, 12, 40]}, {class: z, box: [80, 60, 100, 80]}]}",
    )
    (case,) = load_case_file(path).cases
    variant = make_variant(case, VariantSpec(transform(Step("crop", (5, 5, 60, 50))), "transforms[0]"))
    assert variant.image_size == (55, 45)
    whole, cut = variant.objects
    assert (whole.class_name, whole.box, whole.crowd) == ("x", (5.0, 5.0, 25.0, 25.0), False)
    assert rle_to_mask(whole.mask.to_rle(45, 55))[5:25, 5:25].all()
    assert (cut.class_name, cut.box, cut.crowd, cut.mask) == ("y", (0.0, 0.0, 7.0, 35.0), True, None)


def test_thresholds_of_a_variant_come_from_the_entry_then_robust_then_the_object(tmp_path):
    path = write_case(
        tmp_path,
        "{name: a, image: img.png, thresholds: {robust_box_iou: 0.6}, objects: [{class: x, box: [1, 1, 9, 9], "
        "box_iou: 0.9, mask_iou: 0.8}], transforms: [hflip, {brightness: 0.5, box_iou: 0.4, max_extra: 2}]}",
    )
    (case,) = load_case_file(path).cases
    flipped, darker = (make_variant(case, spec) for spec in case.variants)
    assert (flipped.objects[0].box_iou, flipped.objects[0].mask_iou, flipped.max_extra) == (0.6, 0.8, 0)
    assert (darker.objects[0].box_iou, darker.objects[0].mask_iou, darker.max_extra) == (0.4, 0.8, 2)
    assert flipped.objects[0].box == (91.0, 1.0, 99.0, 9.0)


def test_a_cases_transforms_replace_the_files_and_an_empty_list_opts_out(tmp_path):
    path = write_case(tmp_path, "{name: a, image: img.png, objects: []}", "transforms: [hflip, {noise: 5}]\n")
    text = path.read_text().replace(
        "objects: []}",
        "objects: []}\n  - {name: b, image: img.png, objects: [], "
        "transforms: [vflip]}\n  - {name: c, image: img.png, objects: [], transforms: []}",
    )
    path.write_text(text)
    ids = {case.name: [spec.transform.id for spec in case.variants] for case in load_case_file(path).cases}
    assert ids == {"a": ["hflip", "noise=5"], "b": ["vflip"], "c": []}


@pytest.mark.parametrize(
    ("entry", "field", "phrase"),
    [
        ("hflipp", "transforms[0]", "did you mean 'hflip'?"),
        ("{scale: 0}", "transforms[0].scale", "outside (0, 8]"),
        ("{scale: big}", "transforms[0].scale", "expected a number"),
        ("{jpeg: 0}", "transforms[0].jpeg", "whole number from 1 to 100"),
        ("{crop: [10, 10, 5, 20]}", "transforms[0].crop", "x2 > x1"),
        ("{pad: -3}", "transforms[0].pad", "whole number of pixels"),
        ("{brightnes: 0.5}", "transforms[0].brightnes", "did you mean 'brightness'?"),
        ("{box_iou: 0.5}", "transforms[0]", "thresholds or xfail but no transform"),
        ("{vflip: true, xfail: 3}", "transforms[0].xfail", "the reason this variant is known to fail"),
        ("{noise: 5, box_iou: 2}", "transforms[0].box_iou", "outside [0, 1]"),
        ("{hflip: 1}", "transforms[0].hflip", "write `hflip` alone"),
        ("[hflip]", "transforms[0]", "expected a transform name"),
    ],
)
def test_a_bad_transform_breaks_its_case_with_one_line_naming_the_field(tmp_path, entry, field, phrase):
    path = write_case(tmp_path, f"{{name: a, image: img.png, objects: [], transforms: [{entry}]}}")
    (broken,) = load_case_file(path).cases
    assert isinstance(broken, BrokenCase)
    message = str(broken.error)
    assert message.startswith(f"cases.yaml: case 'a': {field}: ") or message.startswith(
        f"{path}: case 'a': {field}: "
    ), message
    assert phrase in message and "\n" not in message


def test_file_level_transform_errors_break_the_file_and_duplicates_are_refused(tmp_path):
    path = write_case(tmp_path, "{name: a, image: img.png, objects: []}", "transforms: [hflip, {noise: 5}, hflip]\n")
    with pytest.raises(CaseFileError, match=r"transforms\[2\]: hflip is already transforms\[0\]"):
        load_case_file(path)
    path = write_case(tmp_path, "{name: a, image: img.png, objects: []}", "transforms: hflip\n")
    with pytest.raises(CaseFileError, match="transforms: expected a list"):
        load_case_file(path)


def test_a_crop_window_outside_the_image_breaks_only_that_variant(tmp_path):
    path = write_case(tmp_path, "{name: a, image: img.png, objects: [], transforms: [hflip, {crop: [0, 0, 120, 50]}]}")
    (case,) = load_case_file(path).cases
    assert make_variant(case, case.variants[0]).name == "a[hflip]"
    with pytest.raises(
        CaseFileError, match=r"case 'a': transforms\[1\]\.crop: \[0, 0, 120, 50\] is outside the 100x80"
    ):
        make_variant(case, case.variants[1])


def test_parse_transform_composes_steps_in_the_order_written():
    def error(field, message):
        return ValueError(f"{field}: {message}")

    chain, overrides = parse_transform({"scale": 0.5, "hflip": True, "mask_iou": 0.5}, error, "transforms[0]")
    assert chain.id == "scale=0.5+hflip" and overrides == {"mask_iou": 0.5}
    assert chain.output_size((101, 40)) == (50, 20)  # round-half-even, as Python rounds
    box, visible = chain.map_box((0, 0, 10, 10), (100, 40))
    assert box == (45.0, 0.0, 50.0, 5.0) and visible == 1.0


def test_raster_mask_of_a_variant_is_moved_when_judged(tmp_path):
    mask = np.zeros((80, 100), dtype=bool)
    mask[10:30, 5:25] = True
    rle = mask_to_rle(mask)
    document = {
        "model": "model.pt",
        "task": "segment",
        "cases": [
            {
                "name": "a",
                "image": "img.png",
                "objects": [
                    {
                        "class": "x",
                        "box": [5, 10, 25, 30],
                        "mask": {"rle": {"size": [80, 100], "counts": rle["counts"].decode()}},
                    }
                ],
                "transforms": ["rot270", {"pad": [1, 2, 3, 4]}],
            }
        ],
    }
    path = write_case(tmp_path, "{name: a, image: img.png, objects: []}")
    path.write_text(yaml.safe_dump(document))
    (case,) = load_case_file(path).cases
    rotated, padded = (make_variant(case, spec) for spec in case.variants)
    assert np.array_equal(rle_to_mask(rotated.objects[0].mask.to_rle(100, 80)), np.rot90(mask, 3))
    assert np.array_equal(rle_to_mask(padded.objects[0].mask.to_rle(86, 104)), np.pad(mask, ((2, 4), (1, 3))))
    assert rotated.objects[0].box == (50.0, 5.0, 70.0, 25.0) and padded.objects[0].box == (6.0, 12.0, 26.0, 32.0)


def test_a_single_pad_or_crop_value_means_every_side():
    pad, crop = Step("pad", 3.0), Step("crop", 0.5)
    assert pad.output_size((10, 20)) == (16, 26) and pad.id == "pad=3"
    assert [v.tolist() for v in pad.map_points(np.array([0.0]), np.array([0.0]), (10, 20))] == [[3.0], [3.0]]
    assert crop.crop_box((10, 20)) == (2, 5, 7, 15) and crop.output_size((10, 20)) == (5, 10)


def test_mapped_boxes_are_plain_floats_for_json():
    box, visible = transform(Step("crop", (5, 5, 50, 50)), Step("hflip")).map_box((0, 0, 20, 20), (100, 80))
    assert all(type(v) is float for v in (*box, visible))


def test_scale_resamples_a_raster_mask_like_the_picture():
    mask = np.zeros((40, 60), dtype=bool)
    mask[8:24, 10:34] = True  # edges on even pixels: at half size they fall on whole pixels
    half = transform(Step("scale", 0.5)).apply_mask(mask)
    expected = np.zeros((20, 30), dtype=bool)
    expected[4:12, 5:17] = True
    assert np.array_equal(half, expected)
    double = transform(Step("scale", 2.0)).apply_mask(mask)
    assert double.shape == (80, 120) and abs(int(double.sum()) - 4 * int(mask.sum())) <= 2 * (16 + 24) * 2
