"""harness.cases: loading and validating v1 case files, and one-line errors that name file, case and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools import mask as mask_utils

from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case, MaskSpec, Recorded
from harness.core.config import Thresholds
from harness.core.errors import CaseFileError

from conftest import CASES, FIXTURES

WIDTH, HEIGHT = 320, 240  # non-square on purpose: (width, height) must never be swapped
FILE = "cases.yaml"
HEADER = "model: model.pt\n"

# pycocotools' decode with numpy 2; not the harness' doing.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def write_image(path: Path, size: tuple[int, int] = (WIDTH, HEIGHT), mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size).save(path)
    return path


def write_cases(directory: Path, document: dict | str, name: str = FILE) -> Path:
    """A case file from YAML text, or from a document dumped with the safe dumper."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False))
    return path


def rectangle_mask(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[y1:y2, x1:x2] = 1
    return mask


def uncompressed_counts(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE: column-major run lengths, starting with a run of zeros."""
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return runs if flat[0] == 0 else [0, *runs]


def decoded(rle: dict) -> np.ndarray:
    return mask_utils.decode(rle).astype(bool)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory with a 320x240 image and an (empty) model file, both next to the case file."""
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "img.png")
    (tmp_path / "model.pt").write_bytes(b"")
    return tmp_path


def only_case(path: Path, **kwargs) -> Case:
    loaded = load_case_file(path, **kwargs)
    assert len(loaded.cases) == 1
    case = loaded.cases[0]
    assert isinstance(case, Case), getattr(case, "error", case)
    return case


# --- a valid file -----------------------------------------------------------------------------------------------


def test_paths_resolve_relative_to_the_case_file_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "images" / "scene.png")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "seg.pt").write_bytes(b"")
    path = write_cases(
        tmp_path / "suite",
        {
            "model": "../models/seg.pt",
            "task": "segment",
            "predict": {"imgsz": 256, "conf": 0.25},
            "cases": [{"name": "scene-1", "image": "../images/scene.png", "objects": []}],
        },
    )

    loaded = load_case_file(path)

    assert loaded.model == str((tmp_path / "models" / "seg.pt").resolve())
    assert loaded.task == "segment"
    assert dict(loaded.predict) == {"imgsz": 256, "conf": 0.25}
    (case,) = loaded.cases
    assert case.image == (tmp_path / "images" / "scene.png").resolve()
    assert case.file == path
    assert (case.model, case.task, dict(case.predict)) == (loaded.model, "segment", {"imgsz": 256, "conf": 0.25})


def test_a_model_is_a_file_so_a_missing_bare_name_is_an_error(workdir):
    # Offline by design: a hub name like yolo11n.pt would be a download, so it must exist as a file.
    with pytest.raises(CaseFileError, match=r"cases.yaml: model: file not found: yolo11n.pt"):
        load_case_file(write_cases(workdir, "model: yolo11n.pt\ncases: []\n"))


def test_a_model_url_is_left_to_ultralytics(workdir):
    loaded = load_case_file(write_cases(workdir, "model: http://localhost:8000/yolo\ncases: []\n"))

    assert loaded.model == "http://localhost:8000/yolo"


def test_image_size_is_width_then_height_and_tags_and_boxes_are_tuples(workdir):
    path = write_cases(
        workdir,
        HEADER
        + "cases:\n"
        + "  - name: wide.scene_1\n"
        + "    image: img.png\n"
        + "    tags: [dark, small_objects]\n"
        + "    objects:\n"
        + "      - {class: circle, box: [10, 20, 110, 80]}\n"
        + "      - {class: square, box: [0, 0, 320, 240.0]}\n",
    )

    case = only_case(path)

    assert case.name == "wide.scene_1"
    assert case.image_size == (WIDTH, HEIGHT)
    assert case.tags == ("dark", "small_objects")
    assert [o.class_name for o in case.objects] == ["circle", "square"]
    assert case.objects[0].box == (10.0, 20.0, 110.0, 80.0)
    assert all(isinstance(v, float) for v in case.objects[0].box)
    assert case.objects[1].box == (0.0, 0.0, 320.0, 240.0)  # the whole image is inside the image
    assert case.objects[0].mask is None
    assert case.max_extra == 0


def test_polygon_masks_one_polygon_or_several(workdir):
    path = write_cases(
        workdir,
        HEADER
        + "cases:\n"
        + "  - name: a\n"
        + "    image: img.png\n"
        + "    objects:\n"
        + "      - {class: square, box: [10, 10, 50, 50], mask: [[10, 10], [50, 10], [50, 50], [10, 50]]}\n"
        + "      - class: two-parts\n"
        + "        box: [0, 0, 320, 240]\n"
        + "        mask: [[[0, 0], [20, 0], [20, 20]], [[300.5, 220], [320, 220], [320, 240], [300.5, 240]]]\n",
    )

    case = only_case(path)

    square, parts = (o.mask for o in case.objects)
    assert square.polygons == ((10.0, 10.0, 50.0, 10.0, 50.0, 50.0, 10.0, 50.0),)
    assert (square.rle, square.png) == (None, None)
    assert parts.polygons == (
        (0.0, 0.0, 20.0, 0.0, 20.0, 20.0),
        (300.5, 220.0, 320.0, 220.0, 320.0, 240.0, 300.5, 240.0),
    )
    both = decoded(parts.to_rle(HEIGHT, WIDTH))
    assert both[:20, :20].any() and both[220:, 301:].all()  # the union of both polygons


def test_square_polygon_covers_exactly_the_pixels_of_its_box(workdir):
    spec = MaskSpec(polygons=((10.0, 10.0, 50.0, 10.0, 50.0, 50.0, 10.0, 50.0),))

    rle = spec.to_rle(HEIGHT, WIDTH)

    # The reference is the numpy slice of the square's pixels, not pycocotools (which rasterises it).
    assert rle["size"] == [HEIGHT, WIDTH]
    assert mask_utils.area(rle) == 40 * 40
    mask = decoded(rle)
    assert mask.shape == (HEIGHT, WIDTH)
    assert mask[10:50, 10:50].all() and mask.sum() == 1600
    assert np.array_equal(mask, rectangle_mask(10, 10, 50, 50))


def test_rle_masks_compressed_string_and_uncompressed_counts(workdir):
    expected = rectangle_mask(200, 100, 260, 120)  # 60x20, off the diagonal so a transposition shows
    compressed = mask_utils.encode(np.asfortranarray(expected))["counts"].decode("ascii")
    path = write_cases(
        workdir,
        {
            "model": "model.pt",
            "cases": [
                {
                    "name": "a",
                    "image": "img.png",
                    "objects": [
                        {
                            "class": "bar",
                            "box": [200, 100, 260, 120],
                            "mask": {"rle": {"size": [HEIGHT, WIDTH], "counts": compressed}},
                        },
                        {
                            "class": "bar",
                            "box": [200, 100, 260, 120],
                            "mask": {"rle": {"size": [HEIGHT, WIDTH], "counts": uncompressed_counts(expected)}},
                        },
                    ],
                }
            ],
        },
    )

    case = only_case(path)

    for obj in case.objects:
        assert obj.mask.rle is not None and obj.mask.polygons is None
        rle = obj.mask.to_rle(HEIGHT, WIDTH)
        assert mask_utils.area(rle) == 60 * 20
        np.testing.assert_array_equal(decoded(rle), expected.astype(bool))


def test_png_mask_resolves_relative_to_the_case_file_and_reads_nonzero_pixels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt").write_bytes(b"")
    write_image(tmp_path / "suite" / "img.png")
    (tmp_path / "suite" / "masks").mkdir()
    Image.fromarray(rectangle_mask(30, 40, 70, 50) * 255).save(tmp_path / "suite" / "masks" / "bar.png")
    path = write_cases(
        tmp_path / "suite",
        "model: ../model.pt\n"
        + "cases:\n"
        + "  - {name: a, image: img.png, objects: [{class: bar, box: [30, 40, 70, 50], mask: {png: masks/bar.png}}]}\n",
    )

    case = only_case(path)

    mask = case.objects[0].mask
    assert mask.png == (tmp_path / "suite" / "masks" / "bar.png").resolve()
    rle = mask.to_rle(HEIGHT, WIDTH)
    assert mask_utils.area(rle) == 40 * 10
    np.testing.assert_array_equal(decoded(rle), rectangle_mask(30, 40, 70, 50).astype(bool))


def test_shipped_seg_suite_loads_without_broken_cases():
    path = CASES / "shapes-seg.yaml"

    loaded = load_case_file(path, check_model=False)

    assert loaded.cases and all(isinstance(c, Case) for c in loaded.cases)
    assert loaded.task == "segment"
    assert loaded.thresholds == Thresholds(box_iou=0.75, mask_iou=0.70, max_extra=0)


# --- threshold precedence: defaults < file < case < object -------------------------------------------------------

DEFAULTS = Thresholds(box_iou=0.1, mask_iou=0.2, max_extra=1)


def test_builtin_defaults():
    assert Thresholds() == Thresholds(box_iou=0.5, mask_iou=0.5, max_extra=0)


def test_defaults_apply_when_the_file_sets_no_thresholds(workdir):
    path = write_cases(
        workdir, HEADER + "cases:\n  - {name: a, image: img.png, objects: [{class: c, box: [0, 0, 9, 9]}]}\n"
    )

    loaded = load_case_file(path, defaults=DEFAULTS)

    assert loaded.thresholds == DEFAULTS
    (case,) = loaded.cases
    assert (case.objects[0].box_iou, case.objects[0].mask_iou, case.max_extra) == pytest.approx((0.1, 0.2, 1))


def test_file_thresholds_override_defaults_key_by_key(workdir):
    path = write_cases(
        workdir,
        HEADER
        + "thresholds: {box_iou: 0.3, max_extra: 2}\n"
        + "cases:\n  - {name: a, image: img.png, objects: [{class: c, box: [0, 0, 9, 9]}]}\n",
    )

    loaded = load_case_file(path, defaults=DEFAULTS)

    assert loaded.thresholds == Thresholds(box_iou=0.3, mask_iou=0.2, max_extra=2)
    (case,) = loaded.cases
    assert case.objects[0].box_iou == pytest.approx(0.3)
    assert case.objects[0].mask_iou == pytest.approx(0.2)  # not set in the file: the default stays
    assert case.max_extra == 2


def test_case_thresholds_override_the_file(workdir):
    path = write_cases(
        workdir,
        HEADER
        + "thresholds: {box_iou: 0.3, mask_iou: 0.35, max_extra: 2}\n"
        + "cases:\n"
        + "  - name: a\n"
        + "    image: img.png\n"
        + "    thresholds: {mask_iou: 0.4, max_extra: 3}\n"
        + "    objects: [{class: c, box: [0, 0, 9, 9]}]\n"
        + "  - {name: b, image: img.png, objects: [{class: c, box: [0, 0, 9, 9]}]}\n",
    )

    a, b = load_case_file(path, defaults=DEFAULTS).cases

    assert (a.objects[0].box_iou, a.objects[0].mask_iou, a.max_extra) == pytest.approx((0.3, 0.4, 3))
    assert (b.objects[0].box_iou, b.objects[0].mask_iou, b.max_extra) == pytest.approx((0.3, 0.35, 2))


def test_object_iou_overrides_the_case(workdir):
    path = write_cases(
        workdir,
        HEADER
        + "thresholds: {box_iou: 0.3, mask_iou: 0.35}\n"
        + "cases:\n"
        + "  - name: a\n"
        + "    image: img.png\n"
        + "    thresholds: {box_iou: 0.4, mask_iou: 0.45}\n"
        + "    objects:\n"
        + "      - {class: c, box: [0, 0, 9, 9]}\n"
        + "      - {class: c, box: [0, 0, 9, 9], box_iou: 0.9}\n"
        + "      - {class: c, box: [0, 0, 9, 9], mask_iou: 0.95}\n"
        + "      - {class: c, box: [0, 0, 9, 9], box_iou: 0, mask_iou: 1}\n",
    )

    (case,) = load_case_file(path, defaults=DEFAULTS).cases

    assert [(o.box_iou, o.mask_iou) for o in case.objects] == [
        pytest.approx((0.4, 0.45)),
        pytest.approx((0.9, 0.45)),
        pytest.approx((0.4, 0.95)),
        pytest.approx((0.0, 1.0)),  # the bounds themselves are allowed
    ]


# --- objects: [] versus no objects --------------------------------------------------------------------------------


def test_empty_objects_means_nothing_may_be_detected(workdir):
    case = only_case(write_cases(workdir, HEADER + "cases:\n  - {name: empty, image: img.png, objects: []}\n"))

    assert case.objects == ()


def test_a_case_without_objects_is_broken_and_names_the_field(workdir):
    (broken,) = load_case_file(write_cases(workdir, HEADER + "cases:\n  - {name: forgot, image: img.png}\n")).cases

    assert isinstance(broken, BrokenCase)
    assert broken.name == "forgot"
    assert (broken.error.case, broken.error.field) == ("forgot", "objects")
    assert str(broken.error) == (
        "cases.yaml: case 'forgot': objects: missing: list the expected objects, or write `objects: []` for none"
    )


# --- error table ----------------------------------------------------------------------------------------------------


def one_case(text: str) -> str:
    return HEADER + "cases:\n  - " + text + "\n"


def one_object(text: str) -> str:
    return one_case("{name: a, image: img.png, objects: [" + text + "]}")


# (YAML text, case name or None for a file-level error, field or None, phrases the message must contain)
ERRORS = [
    # file-level: load_case_file raises
    pytest.param("cases:\n\t- {name: a}\n", None, None, ["invalid YAML: line 2, column 1:", "'\\t'"], id="yaml-syntax"),
    pytest.param("- name: a\n  image: img.png\n", None, None, ["expected a mapping, got list"], id="top-level-list"),
    pytest.param(
        HEADER + "thresholdz: {box_iou: 0.6}\ncases: []\n",
        None,
        "thresholdz",
        ["unknown key; did you mean 'thresholds'?"],
        id="unknown-top-level-key",
    ),
    pytest.param(HEADER + "task: segment\n", None, "cases", ["missing"], id="missing-cases"),
    pytest.param(HEADER + "cases: {a: 1}\n", None, "cases", ["expected a list of cases"], id="cases-not-a-list"),
    pytest.param(
        "model: ./missing.pt\ncases: []\n", None, "model", ["file not found: ./missing.pt"], id="missing-model-file"
    ),
    pytest.param(
        HEADER + "task: depth\ncases: []\n",  # classify and obb are tasks now; depth estimation is not
        None,
        "task",
        ["expected one of detect, segment", "'depth'"],
        id="task-depth",
    ),
    pytest.param(
        HEADER + "predict: {imgsize: 640}\ncases: []\n",
        None,
        "predict.imgsize",
        ["not an Ultralytics predict argument; did you mean 'imgsz'?"],
        id="predict-unknown-argument",
    ),
    pytest.param(
        HEADER + "predict: {confidence: 0.3}\ncases: []\n",
        None,
        "predict.confidence",
        ["not an Ultralytics predict argument; did you mean 'conf'?"],
        id="predict-confidence-suggests-conf",
    ),
    pytest.param(
        HEADER + "predict: {device: cpu}\ncases: []\n",
        None,
        "predict.device",
        ["set by the harness", "--harness-device"],
        id="predict-reserved-device",
    ),
    pytest.param(HEADER + "version: 2\ncases: []\n", None, "version", ["version 1, got 2"], id="version-2"),
    pytest.param(
        HEADER + "version: true\ncases: []\n",
        None,
        "version",
        ["version 1, got True"],
        id="version-true",
    ),
    pytest.param(
        HEADER + "thresholds: {mask_iou: 1.5}\ncases: []\n",
        None,
        "thresholds.mask_iou",
        ["1.5 is outside [0.0, 1.0]"],
        id="file-threshold-above-1",
    ),
    pytest.param(
        HEADER + "thresholds: {max_extra: -1}\ncases: []\n",
        None,
        "thresholds.max_extra",
        ["expected a whole number >= 0, got int -1"],
        id="file-max-extra-negative",
    ),
    # case-level: the case is a BrokenCase
    pytest.param(
        one_case("{name: a, image: img.png, objects: [], colour: red}"),
        "a",
        "colour",
        ["unknown key; allowed: name, image, tags, thresholds, objects"],
        id="unknown-case-key",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], clas: d}"),
        "a",
        "objects[0].clas",
        ["unknown key; did you mean 'class'?"],
        id="unknown-object-key",
    ),
    pytest.param(
        one_object("{class: c, box: '0 0 9 9'}"),
        "a",
        "objects[0].box",
        ["expected [x1, y1, x2, y2], got str '0 0 9 9'"],
        id="box-as-string",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9]}"),
        "a",
        "objects[0].box",
        ["expected [x1, y1, x2, y2]"],
        id="box-3-values",
    ),
    pytest.param(
        one_case("{name: 42, image: img.png, objects: []}"),
        "cases[0]",
        "name",
        ["expected a non-empty string, got int 42"],
        id="name-as-number",
    ),
    pytest.param(
        one_object("{class: 7, box: [0, 0, 9, 9]}"),
        "a",
        "objects[0].class",
        ["expected a non-empty string, got int 7"],
        id="class-as-number",
    ),
    pytest.param(
        one_object("{class: c, box: [50, 0, 10, 9]}"),
        "a",
        "objects[0].box",
        ["x2 > x1 and y2 > y1 are required", "[50, 0, 10, 9]"],
        id="box-x2-before-x1",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 240, 320]}"),  # fits a 240x320 image, not this 320x240 one
        "a",
        "objects[0].box",
        ["[0, 0, 240, 320] is outside the 320x240 image"],
        id="box-outside-image",
    ),
    pytest.param(
        one_object("{class: c, box: [-1, 0, 9, 9]}"),
        "a",
        "objects[0].box",
        ["is outside the 320x240 image"],
        id="box-negative",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, .nan, 9]}"),
        "a",
        "objects[0].box",
        ["expected a finite number, got float nan"],
        id="box-nan",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, .inf, 9]}"),
        "a",
        "objects[0].box",
        ["expected a finite number, got float inf"],
        id="box-inf",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, true, 9]}"),
        "a",
        "objects[0].box",
        ["expected a finite number, got bool True"],
        id="box-bool",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask_iou: yes}"),  # YAML 1.1: yes is a boolean
        "a",
        "objects[0].mask_iou",
        ["expected a finite number, got bool True"],
        id="object-iou-bool",
    ),
    pytest.param(
        one_case("{name: a, image: img.png, thresholds: {box_iou: false}, objects: []}"),
        "a",
        "thresholds.box_iou",
        ["expected a finite number, got bool False"],
        id="case-threshold-bool",
    ),
    pytest.param(
        one_case("{name: a, image: img.png, thresholds: {max_extra: true}, objects: []}"),
        "a",
        "thresholds.max_extra",
        ["expected a whole number >= 0, got bool True"],
        id="max-extra-bool",
    ),
    pytest.param(
        one_case("{name: a, image: img.png, thresholds: {box_iou: 1.5}, objects: []}"),
        "a",
        "thresholds.box_iou",
        ["1.5 is outside [0.0, 1.0]"],
        id="case-threshold-above-1",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], box_iou: -0.1}"),
        "a",
        "objects[0].box_iou",
        ["-0.1 is outside [0.0, 1.0]"],
        id="object-iou-negative",
    ),
    pytest.param(
        one_case("{name: a, image: img.png, thresholds: {max_extra: -1}, objects: []}"),
        "a",
        "thresholds.max_extra",
        ["expected a whole number >= 0, got int -1"],
        id="case-max-extra-negative",
    ),
    pytest.param(
        one_case("{name: a, image: nope.png, objects: []}"),
        "a",
        "image",
        ["image not found", "nope.png"],
        id="no-image",
    ),
    pytest.param(
        one_case("{name: a, image: text.png, objects: []}"),
        "a",
        "image",
        ["not a readable image", "text.png"],
        id="unreadable-image",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: [[0, 0], [9, 0], [321, 5]]}"),
        "a",
        "objects[0].mask[2]",
        ["point (321, 5) is outside the 320x240 image"],
        id="polygon-point-outside",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: [[0, 0], [9, 0]]}"),
        "a",
        "objects[0].mask",
        ["a polygon needs at least 3 [x, y] points"],
        id="polygon-2-points",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: [[[0, 0], [9, 0], [9, 9]], [[0, 0], [9, 0]]]}"),
        "a",
        "objects[0].mask[1]",
        ["a polygon needs at least 3 [x, y] points"],
        id="second-polygon-2-points",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: [[0, 0], [9, 0], [9]]}"),
        "a",
        "objects[0].mask[2]",
        ["expected [x, y], got list [9]"],
        id="polygon-point-1-value",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: []}"),
        "a",
        "objects[0].mask",
        ["polygon"],
        id="polygon-empty",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {rle: {size: [320, 240], counts: [76800]}}}"),
        "a",
        "objects[0].mask.rle.size",
        ["expected [240, 320] (height, width), got [320, 240]"],
        id="rle-size-swapped",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {rle: {size: [240, 320], counts: [1, 2, 3]}}}"),
        "a",
        "objects[0].mask.rle.counts",
        ["run lengths sum to 6, not 240*320"],
        id="rle-counts-wrong-sum",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {rle: {size: [240, 320], counts: [76800, -1, 1]}}}"),
        "a",
        "objects[0].mask.rle.counts",
        ["run lengths must be whole numbers >= 0"],
        id="rle-counts-negative",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {rle: {size: [240, 320], counts: 'é'}}}"),
        "a",
        "objects[0].mask.rle.counts",
        ["not a valid COCO RLE"],
        id="rle-counts-not-ascii",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {rle: {size: [240, 320], counts: 'not-rle!'}}}"),
        "a",
        "objects[0].mask.rle.counts",
        ["not a valid COCO RLE"],
        id="rle-counts-malformed",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {png: small.png}}"),
        "a",
        "objects[0].mask.png",
        ["mask is 240x320 but the image is 320x240"],
        id="png-mask-wrong-size",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {png: nope.png}}"),
        "a",
        "objects[0].mask.png",
        ["image not found", "nope.png"],
        id="png-mask-missing",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {outline: 1}}"),
        "a",
        "objects[0].mask",
        ["expected a polygon [[x, y], ...], a list of polygons, {rle: ...} or {png: path}"],
        id="mask-unknown-form",
    ),
    pytest.param(
        one_case("{name: a, image: img.png, tags: [dark, low-light], objects: []}"),
        "a",
        "tags[1]",
        ["'low-light' is not usable with -m"],
        id="tag-with-dash",
    ),
    pytest.param(
        one_case("{name: a, image: img.png, tags: dark, objects: []}"),
        "a",
        "tags",
        ["expected a list of tags, got str 'dark'"],
        id="tags-not-a-list",
    ),
    pytest.param(
        one_case('{name: a, image: img.png, tags: ["dark\\n"], objects: []}'),
        "a",
        "tags[0]",
        ["is not usable with -m"],
        id="tag-trailing-newline",
    ),
    pytest.param(
        one_case("{name: 'file::case', image: img.png, objects: []}"),
        "cases[0]",
        "name",
        ["str 'file::case': use letters, digits, '_', '.' and '-'"],
        id="name-with-double-colon",
    ),
    pytest.param(
        one_case("{name: 'two words', image: img.png, objects: []}"),
        "cases[0]",  # an invalid name never becomes part of a node id
        "name",
        ["str 'two words': use letters, digits, '_', '.' and '-'"],
        id="name-with-space",
    ),
    pytest.param(
        one_case('{name: "scene\\n", image: img.png, objects: []}'),
        "cases[0]",  # a newline would forge a line of pytest's summary
        "name",
        ["str 'scene\\n': use letters, digits, '_', '.' and '-'"],
        id="name-trailing-newline",
    ),
    pytest.param(
        HEADER
        + "cases:\n  - {name: a, image: img.png, objects: []}\n  - {name: b, image: img.png, objects: []}\n"
        + "  - {name: a, image: img.png, objects: []}\n",
        "a",
        "name",
        ["duplicate case name (first at cases[0])"],
        id="duplicate-name",
    ),
    pytest.param(
        "model: model.pt\ntask: detect\ncases:\n"
        + "  - {name: a, image: img.png, objects: [{class: c, box: [0, 0, 9, 9], mask: [[0, 0], [9, 0], [9, 9]]}]}\n",
        "a",
        "objects[0].mask",
        ["the file's task is detect, which predicts no masks"],
        id="mask-on-detect-file",
    ),
    pytest.param("", None, None, ["the file is empty"], id="empty-file"),
    pytest.param(
        HEADER + "thresholds: {box_iou: 0.5}\nthresholds: {box_iou: 0.9}\ncases: []\n",
        None,
        None,
        ["duplicate key 'thresholds' (line 3)"],
        id="duplicate-yaml-key",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: [[0, 0], [5, 5], [9, 9]]}"),
        "a",
        "objects[0].mask",
        ["zero area"],
        id="polygon-collinear",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], mask: {rle: {size: [240, 320], counts: '0X1'}}}"),
        "a",
        "objects[0].mask.rle.counts",
        ["not a valid COCO RLE string: it covers", "not 240*320"],
        id="rle-counts-wrong-total",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 9, 9], crowd: 1}"),
        "a",
        "objects[0].crowd",
        ["expected true or false"],
        id="crowd-not-a-bool",
    ),
    pytest.param(
        "model: {path: model.pt, sha256: abc}\ncases: []\n",
        None,
        "model.sha256",
        ["expected 64 hexadecimal digits"],
        id="model-pin-not-a-sha256",
    ),
    pytest.param(
        "model: {sha256: " + "a" * 64 + "}\ncases: []\n",
        None,
        "model.path",
        ["missing"],
        id="model-pin-without-path",
    ),
    pytest.param(
        'model: "bad\\0name.pt"\ncases: []\n',
        None,
        "model",
        ["contains a NUL character"],
        id="nul-in-a-path",
    ),
    pytest.param(
        one_object("{class: c, box: [0, 0, 1" + "0" * 400 + ", 9]}"),
        "a",
        "objects[0].box",
        ["expected a finite number"],
        id="integer-too-large-for-a-float",
    ),
    pytest.param(
        "model: " + "m" * 5000 + ".pt\ncases: []\n",
        None,
        "model",
        ["not a usable file name: File name too long"],
        id="model-name-too-long",
    ),
    pytest.param(
        HEADER + "cases:\n  - {name: a, image: img.png, objects: [], recorded: {model: m.pt, reviewed: maybe}}\n",
        "a",
        "recorded.reviewed",
        ["expected true or false, got str 'maybe'", "vision-harness review FILE --mark-reviewed"],
        id="recorded-reviewed-not-a-bool",
    ),
    pytest.param(
        HEADER + "cases:\n  - {name: a, image: img.png, objects: [], recorded: {model: m.pt}}\n",
        "a",
        "recorded.reviewed",
        ["expected true or false, it is missing"],
        id="recorded-without-reviewed",
    ),
    pytest.param(
        HEADER
        + "cases:\n  - {name: a, image: img.png, objects: [], recorded: {model: m.pt, reviewed: false, by: me}}\n",
        "a",
        "recorded.by",
        ["unknown key", "allowed: model, reviewed"],
        id="recorded-unknown-key",
    ),
    pytest.param(
        HEADER + "cases:\n  - {name: a, image: img.png, objects: [], recorded: yes}\n",
        "a",
        "recorded",
        ["expected a mapping"],
        id="recorded-not-a-mapping",
    ),
]


@pytest.mark.parametrize(("text", "case", "field", "phrases"), ERRORS)
def test_error_names_file_case_and_field_on_one_line(workdir, text, case, field, phrases):
    (workdir / "text.png").write_text("this is not a picture\n")
    write_image(workdir / "small.png", size=(HEIGHT, WIDTH), mode="L")
    path = write_cases(workdir, text)

    if case is None:
        with pytest.raises(CaseFileError) as info:
            load_case_file(path)
        error = info.value
    else:
        loaded = load_case_file(path)
        broken = [c for c in loaded.cases if isinstance(c, BrokenCase)]
        assert len(broken) == 1, loaded.cases
        error = broken[0].error

    message = str(error)
    prefix = ": ".join(p for p in (FILE, None if case is None else f"case {case!r}", field) if p) + ": "
    assert message.startswith(prefix)  # FILE: case 'NAME': FIELD: message, the path shown relative to the cwd
    assert (error.case, error.field or None) == (case, field)
    for phrase in phrases:
        assert phrase in message
    assert "\n" not in message and "\r" not in message


def test_duplicate_case_is_broken_but_the_first_runs(workdir):
    path = write_cases(
        workdir,
        HEADER + "cases:\n  - {name: a, image: img.png, objects: []}\n  - {name: a, image: img.png, objects: []}\n",
    )

    first, second = load_case_file(path).cases

    assert isinstance(first, Case) and first.name == "a"
    assert isinstance(second, BrokenCase)
    assert second.name == "cases[1]"  # distinct from the good case's name, so both get a pytest item
    assert second.error.case == "a"


def test_missing_model_loads_when_models_are_not_checked(workdir):
    loaded = load_case_file(
        write_cases(workdir, "model: ./missing.pt\ncases: [{name: a, image: img.png, objects: []}]\n"),
        check_model=False,
    )

    assert loaded.model == str((workdir / "missing.pt").resolve())
    assert [c.name for c in loaded.cases if isinstance(c, Case)] == ["a"]


# --- a broken case does not break its file --------------------------------------------------------------------------


def test_good_and_bad_cases_load_in_order(workdir):
    path = write_cases(
        workdir,
        HEADER
        + "cases:\n"
        + "  - {name: bad, image: img.png, objects: [{class: c, box: [0, 0, 999, 9]}]}\n"
        + "  - {name: good, image: img.png, objects: [{class: c, box: [0, 0, 9, 9]}]}\n"
        + "  - {image: img.png, objects: []}\n",
    )

    bad, good, nameless = load_case_file(path).cases

    assert isinstance(bad, BrokenCase) and bad.name == "bad"
    assert "objects[0].box" in str(bad.error)
    assert isinstance(good, Case) and good.name == "good"
    assert good.objects[0].box == (0.0, 0.0, 9.0, 9.0)
    assert isinstance(nameless, BrokenCase) and nameless.name == "cases[2]"
    assert str(nameless.error) == "cases.yaml: case 'cases[2]': name: missing: every case needs a unique name"


# --- YAML is read safely --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '!!python/object/apply:os.system ["touch pwned"]\n',
        HEADER + 'cases:\n  - name: !!python/object/apply:os.system ["touch pwned"]\n',
    ],
    ids=["document", "nested"],
)
def test_python_tags_are_rejected_and_run_nothing(workdir, text):
    path = write_cases(workdir, text)

    with pytest.raises(CaseFileError, match=r"^cases\.yaml: invalid YAML: line \d+, column \d+: .*python/object/apply"):
        load_case_file(path)
    assert not (workdir / "pwned").exists()


def test_the_parse_cache_gives_the_same_cases_and_follows_edits(tmp_path):
    source = (CASES / "shapes-seg.yaml").read_text()
    path = tmp_path / "cases" / "seg.yaml"
    path.parent.mkdir()
    path.write_text(source.replace("../fixtures/", f"{FIXTURES}/"))
    cache = tmp_path / "parsed"
    fresh = load_case_file(path)
    first = load_case_file(path, parse_cache=cache)  # parses and stores
    assert len(list(cache.iterdir())) == 1
    second = load_case_file(path, parse_cache=cache)  # read back from the cache
    assert first == fresh and second == fresh
    path.write_text(path.read_text().replace("name: scene-001", "name: scene-one"))
    edited = load_case_file(path, parse_cache=cache)
    assert "scene-one" in [case.name for case in edited.cases]
    path.write_text("cases: [\n")
    for _ in range(2):  # a file that does not parse is not cached, and errs every time
        with pytest.raises(CaseFileError, match="invalid YAML"):
            load_case_file(path, parse_cache=cache)
    assert len(list(cache.iterdir())) == 2


@pytest.mark.parametrize(
    ("recorded", "expected", "waiting"),
    [
        ("", None, False),
        (", recorded: {model: m.pt, reviewed: false}", Recorded("m.pt", False), True),
        (", recorded: {model: m.pt, reviewed: true}", Recorded("m.pt", True), False),
    ],
)
def test_recorded_cases_wait_for_review_until_reviewed_is_true(workdir, recorded, expected, waiting):
    path = write_cases(workdir, HEADER + f"cases:\n  - {{name: a, image: img.png, objects: []{recorded}}}\n")
    case = only_case(path)
    assert (case.recorded, case.awaiting_review) == (expected, waiting)
