"""Reading images: every kind a user may hand us gives a correct picture or one clear error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from harness.core.errors import ImageError
from harness.core.images import image_size, load_image

WIDTH, HEIGHT = 80, 60


def picture() -> np.ndarray:
    rgb = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    rgb[10:30, 20:50] = (200, 100, 50)
    return rgb


def write(tmp_path, kind: str):
    path = tmp_path / f"{kind}.png"
    image = Image.fromarray(picture())
    if kind == "grey":
        image.convert("L").save(path)
    elif kind == "rgba":
        image.convert("RGBA").save(path)
    elif kind == "palette":
        image.convert("P").save(path)
    elif kind == "16-bit":
        Image.fromarray(picture()[..., 0].astype(np.uint16) * 257).save(path)
    elif kind == "jpeg":
        path = path.with_suffix(".jpg")
        image.save(path, quality=95)
    else:
        image.save(path)
    return path


@pytest.mark.parametrize(
    ("kind", "pixel"),
    [("rgb", (200, 100, 50)), ("grey", (124, 124, 124)), ("rgba", (200, 100, 50)), ("16-bit", (200, 200, 200))],
)
def test_every_mode_becomes_rgb_with_the_right_values(tmp_path, kind, pixel):
    path = write(tmp_path, kind)
    image = load_image(path)
    assert image.shape == (HEIGHT, WIDTH, 3) and image.dtype == np.uint8
    assert tuple(image[20, 30]) == pixel
    assert image_size(path) == (WIDTH, HEIGHT)


@pytest.mark.parametrize("kind", ["palette", "jpeg"])
def test_lossy_modes_stay_close(tmp_path, kind):
    image = load_image(write(tmp_path, kind)).astype(int)
    assert np.abs(image[20, 30] - (200, 100, 50)).max() <= 6


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_rotation_is_applied_to_size_and_pixels(tmp_path, suffix):
    path = tmp_path / f"rotated{suffix}"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees clockwise
    Image.fromarray(picture()).save(path, exif=exif)
    assert image_size(path) == (HEIGHT, WIDTH)  # for PNG, read from the header, without decoding
    assert load_image(path).shape == (WIDTH, HEIGHT, 3)
    with Image.open(path) as image:
        assert image.size == (WIDTH, HEIGHT)  # stored the other way round, so the rotation is really applied


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ("truncated", "truncated"),
        ("text", "not an image format Pillow can read"),
        ("missing", "image not found"),
    ],
)
def test_broken_files_are_one_clear_error(tmp_path, content, phrase):
    path = tmp_path / "broken.png"
    if content == "truncated":
        whole = write(tmp_path, "rgb").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif content == "text":
        path.write_text("not a picture")
    with pytest.raises(ImageError) as info:
        image_size(path) if content != "truncated" else load_image(path)
    assert phrase in str(info.value)
    assert "\n" not in str(info.value)


def test_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000)).save(path)  # 400 M pixels, a few kB on disk
    with pytest.raises(ImageError, match="decompression bomb"):
        image_size(path)


@pytest.mark.parametrize("kind", ["rgb", "grey", "rgba", "palette", "16-bit"])
def test_pixels_equal_what_cv2_and_so_ultralytics_reads(tmp_path, kind):
    import cv2

    path = write(tmp_path, kind)
    assert np.array_equal(load_image(path), cv2.imread(str(path))[..., ::-1])


def test_image_suffixes_are_ultralytics_own():
    from ultralytics.data.utils import IMG_FORMATS

    from harness.core.config import IMAGE_SUFFIXES

    assert set(IMAGE_SUFFIXES) == set(IMG_FORMATS)
