"""Property: any case file exported to COCO JSON and imported again gives the same cases back."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from harness.core.geometry import polygon_area
from harness.golden.coco import read_coco, write_coco
from harness.golden.record import ModelInfo, add_cases

IMAGES = {"wide.png": (64, 48), "tall.png": (40, 70)}  # name: (width, height)
MODEL = ModelInfo("model.pt", "segment", ("a", "b", "c"))


def coordinate(limit: int) -> st.SearchStrategy[float]:
    """Case files keep 0.01 px: coordinates are hundredths."""
    return st.integers(0, limit * 100).map(lambda v: v / 100)


@st.composite
def polygon(draw, width: int, height: int) -> list[list[float]]:
    points = draw(st.lists(st.tuples(coordinate(width), coordinate(height)), min_size=3, max_size=6))
    assume(polygon_area([v for p in points for v in p]) > 0)
    return [list(p) for p in points]


@st.composite
def mask(draw, width: int, height: int):
    kind = draw(st.sampled_from(["none", "polygon", "polygons", "rle", "runs"]))
    if kind == "polygon":
        return draw(polygon(width, height))
    if kind == "polygons":
        return draw(st.lists(polygon(width, height), min_size=2, max_size=3))
    if kind == "rle":
        x, y = draw(st.integers(0, width - 2)), draw(st.integers(0, height - 2))
        dense = np.zeros((height, width), dtype=np.uint8)
        dense[y : y + draw(st.integers(1, 9)), x : x + draw(st.integers(1, 9))] = 1
        rle = mask_utils.encode(np.asfortranarray(dense))
        return {"rle": {"size": [height, width], "counts": rle["counts"].decode("ascii")}}
    if kind == "runs":
        cuts = sorted(draw(st.lists(st.integers(0, width * height), min_size=1, max_size=6)))
        runs = np.diff([0, *cuts, width * height]).tolist()
        return {"rle": {"size": [height, width], "counts": runs}}
    return None


@st.composite
def expected_object(draw, width: int, height: int) -> dict:
    x1, x2 = sorted(draw(st.lists(coordinate(width), min_size=2, max_size=2, unique=True)))
    y1, y2 = sorted(draw(st.lists(coordinate(height), min_size=2, max_size=2, unique=True)))
    obj = {"class": draw(st.sampled_from(MODEL.names)), "box": [x1, y1, x2, y2]}
    drawn = draw(mask(width, height))
    if drawn is not None:
        obj["mask"] = drawn
    if draw(st.booleans()):
        obj["crowd"] = True
    if draw(st.booleans()):
        obj["box_iou"] = draw(coordinate(1))
    return obj


@st.composite
def case(draw, index: int) -> dict:
    image = draw(st.sampled_from(sorted(IMAGES)))
    width, height = IMAGES[image]
    entry = {"name": f"case-{index}", "image": image}
    if draw(st.booleans()):
        entry["tags"] = draw(
            st.lists(st.sampled_from(["night", "rain", "crowded"]), min_size=1, max_size=2, unique=True)
        )
    if draw(st.booleans()):
        entry["thresholds"] = {"box_iou": draw(coordinate(1)), "max_extra": draw(st.integers(0, 3))}
    if draw(st.booleans()):
        entry["recorded"] = {"model": "m.pt", "reviewed": draw(st.booleans())}
    entry["objects"] = draw(st.lists(expected_object(width, height), max_size=4))
    return entry


cases = st.integers(1, 3).flatmap(lambda n: st.tuples(*(case(i) for i in range(n)))).map(list)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("roundtrip")
    for name, size in IMAGES.items():
        Image.new("RGB", size, (90, 120, 150)).save(path / name)
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=cases)
def test_export_then_import_gives_the_same_cases(folder, written):
    original = folder / "cases.yaml"
    original.write_text(yaml.safe_dump({"version": 1, "model": "model.pt", "task": "segment", "cases": written}))
    write_coco(original, folder / "cases.json", class_names=MODEL.names)
    back = folder / "back.yaml"
    back.unlink(missing_ok=True)
    add_cases(back, read_coco(folder / "cases.json", folder, MODEL), model=MODEL, predict={}, header="back")
    assert yaml.safe_load(back.read_text())["cases"] == written
