"""The embedded default: a deterministic generator, and golden suites that come from its ground truth."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import CASES, FIXTURES

sys.path.insert(0, str(FIXTURES))
from shapes import CLASS_NAMES, IMAGE_SIZES, make_scene, pixel_box, quarter_turned, render, yolo_label


def test_scenes_are_deterministic():
    first, second = make_scene("train", 7), make_scene("train", 7)
    assert first == second
    assert np.array_equal(render(first), render(second))
    assert make_scene("train", 7) != make_scene("val", 7)


def test_image_sizes_include_non_square():
    assert any(w != h for w, h in IMAGE_SIZES)


def test_painted_pixels_are_the_masks():
    scene = next(s for s in (make_scene("val", i) for i in range(20)) if len(s.shapes) >= 2)
    image = render(scene).astype(int)
    for shape in scene.shapes:
        inside = image[shape.mask(scene.height, scene.width)]
        # Inside a shape every pixel is its colour plus the small noise: ground truth is the picture.
        assert np.abs(inside - np.array(shape.color)).mean() < 5


def test_yolo_labels_are_normalised_polygons():
    scene = next(s for s in (make_scene("train", i) for i in range(20)) if s.shapes)
    rows = [line.split() for line in yolo_label(scene).splitlines()]
    assert len(rows) == len(scene.shapes)
    for row, shape in zip(rows, scene.shapes, strict=True):
        values = np.array(row[1:], dtype=float)
        assert len(values) == 2 * len(shape.polygon)
        assert values.min() >= 0 and values.max() <= 1


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_a_quarter_turned_training_label_outlines_the_turned_picture_s_shapes(turns):
    from pycocotools import mask as mask_utils

    scene = next(s for s in (make_scene("train", i) for i in range(20)) if len(s.shapes) >= 2 and s.width != s.height)
    image, label = quarter_turned(render(scene), yolo_label(scene), turns)
    assert np.array_equal(image, np.rot90(render(scene), turns))
    height, width = image.shape[:2]
    for line, shape in zip(label.splitlines(), scene.shapes, strict=True):
        class_index, *coords = line.split()
        polygon = [float(v) * (width if i % 2 == 0 else height) for i, v in enumerate(coords)]
        turned = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([polygon], height, width))).astype(bool)
        expected = np.rot90(shape.mask(scene.height, scene.width), turns)
        # Equal but for pycocotools' rounding on the edge (and the labels' 6 decimals).
        assert (turned ^ expected).sum() <= 0.02 * expected.sum() + 4 * np.sqrt(expected.sum())
        assert CLASS_NAMES[int(class_index)] == shape.class_name


@pytest.mark.parametrize("suite", ["shapes-detect.yaml", "shapes-seg.yaml"])
def test_shipped_suites_are_the_generator_ground_truth(suite):
    document = yaml.safe_load((CASES / suite).read_text())
    assert len(document["cases"]) >= 20
    sizes = set()
    for case in document["cases"]:
        index = int(case["name"].split("-")[1])
        scene = make_scene("golden", index)
        stored = np.asarray(Image.open((CASES / case["image"]).resolve()).convert("RGB"))
        assert np.array_equal(stored, render(scene)), f"{case['image']} is not the generator's scene {index}"
        assert [o["class"] for o in case["objects"]] == [s.class_name for s in scene.shapes]
        for obj, shape in zip(case["objects"], scene.shapes, strict=True):
            assert tuple(obj["box"]) == pixel_box(shape.mask(scene.height, scene.width))
            if "mask" in obj:
                assert np.allclose(obj["mask"], shape.polygon, atol=0.005)
        sizes.add((scene.width, scene.height))
    assert any(w != h for w, h in sizes)
    assert any(not case["objects"] for case in document["cases"]), "an empty-image case belongs in every suite"
