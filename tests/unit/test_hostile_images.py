"""Hostile images and label masks: the size a case is checked against is the size of the pixels the
model sees, whatever the format hides, and a label mask's object is its non-zero pixels."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from harness.casefile.load import load_case_file
from harness.casefile.schema import Case
from harness.core.images import image_size, load_image, load_label_mask

WIDTH, HEIGHT = 80, 60


def picture() -> np.ndarray:
    rgb = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    rgb[10:30, 20:50] = (200, 100, 50)
    return rgb


def exif(orientation: int) -> Image.Exif:
    tags = Image.Exif()
    tags[0x0112] = orientation
    return tags


def late_exif_png(path, orientation: int) -> None:
    """A PNG whose eXIf chunk follows the image data (Pillow reads it only when decoding)."""
    Image.fromarray(picture()).save(path)
    data = path.read_bytes()
    raw = exif(orientation).tobytes()
    chunk = struct.pack(">I", len(raw)) + b"eXIf" + raw + struct.pack(">I", zlib.crc32(b"eXIf" + raw))
    end = data.rindex(b"IEND") - 4
    path.write_bytes(data[:end] + chunk + data[end:])


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ["jpg", "png", "late.png", "tif", "webp"])
def test_size_is_the_size_of_the_decoded_pixels(tmp_path, kind, orientation):
    path = tmp_path / f"image.{kind}"
    if kind == "late.png":
        late_exif_png(path, orientation)
    else:
        Image.fromarray(picture()).save(path, exif=exif(orientation))
    height, width = load_image(path).shape[:2]
    assert image_size(path) == (width, height)
    rotated = orientation in (5, 6, 7, 8)
    assert (width, height) == ((HEIGHT, WIDTH) if rotated else (WIDTH, HEIGHT))


def test_a_box_of_a_rotated_tiff_is_accepted(tmp_path):
    Image.fromarray(picture()).save(tmp_path / "photo.tif", exif=exif(6))  # displayed 60 wide, 80 high
    (tmp_path / "cases.yaml").write_text(
        "model: m.pt\ncases:\n  - name: c\n    image: photo.tif\n"
        "    objects: [{class: a, box: [0, 0, 60, 80], mask: [[0, 0], [60, 0], [60, 80]]}]\n"
    )
    (case,) = load_case_file(tmp_path / "cases.yaml", check_model=False).cases
    assert isinstance(case, Case), case.error
    assert case.image_size == (60, 80)


@pytest.mark.parametrize("mode", ["1", "L", "P", "I;16", "I", "RGB", "RGBA", "LA"])
def test_label_mask_is_its_non_zero_pixels_in_any_mode(tmp_path, mode):
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    labels[5:15, 10:30] = 1  # the value label tools write: 1, not 255
    path = tmp_path / ("mask.tif" if mode == "I" else "mask.png")  # PNG cannot hold 32-bit integers
    if mode == "1":
        image = Image.fromarray(labels.astype(bool))
    elif mode == "I;16":
        image = Image.fromarray(labels.astype(np.uint16))
    else:
        image = Image.fromarray(labels).convert(mode)
    image.save(path)
    with Image.open(path) as saved:
        assert saved.mode == mode  # the file really is in that mode
    mask = load_label_mask(path)
    assert mask.shape == (HEIGHT, WIDTH)
    assert mask.sum() == 10 * 20 and mask[5:15, 10:30].all()


def test_a_16_bit_label_mask_of_ones_is_the_object(tmp_path):
    labels = np.zeros((HEIGHT, WIDTH), np.uint16)
    labels[5:15, 10:30] = 1
    Image.fromarray(labels).save(tmp_path / "mask.png")
    Image.fromarray(picture()).save(tmp_path / "image.png")
    (tmp_path / "cases.yaml").write_text(
        "model: m.pt\ncases:\n  - name: c\n    image: image.png\n"
        "    objects: [{class: a, box: [10, 5, 30, 15], mask: {png: mask.png}}]\n"
    )
    (case,) = load_case_file(tmp_path / "cases.yaml", check_model=False).cases
    rle = case.objects[0].mask.to_rle(HEIGHT, WIDTH)
    from pycocotools import mask as coco_mask

    assert coco_mask.area(rle) == 10 * 20


def test_alpha_is_not_a_label(tmp_path):
    pixels = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    pixels[..., 3] = 255  # an opaque black background
    pixels[5:15, 10:30, :3] = 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "mask.png")
    assert load_label_mask(tmp_path / "mask.png").sum() == 10 * 20
