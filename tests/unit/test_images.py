"""Reading images: every kind a user may hand us gives a correct picture or one clear error."""

from __future__ import annotations

import io
import struct
import zlib
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from harness.core.errors import ImageError
from harness.core.images import _plain_png_size, image_size, load_image

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


# --- the plain-PNG header reader against Pillow ----------------------------------------------------


def _chunk(kind: bytes, data: bytes, *, crc_flip: bool = False) -> bytes:
    crc = zlib.crc32(kind + data) ^ (1 if crc_flip else 0)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _pillow_size(path) -> tuple[int, int] | str:
    """What image_size says with the header reader switched off: Pillow's answer, or its error."""
    with mock.patch("harness.core.images._plain_png_size", return_value=None):
        try:
            return image_size(path)
        except ImageError:
            return "error"


DEFECTS = (
    "checksum",  # the IHDR's checksum is off
    "short header",  # an IHDR of 12 bytes
    "mode",  # a bit depth and colour type Pillow does not read
    "filter method",
    "zero width",
    "huge width",  # past Pillow's decompression-bomb limit
    "chunk before data",  # pHYs, or an eXIf that turns the picture
    "orientation before data",
    "chunk after data",  # text, or a late eXIf
    "no data",
    "truncated",
)


@st.composite
def png_files(draw) -> bytes:
    """PNG files assembled chunk by chunk around real image data (so that Pillow can decode them when
    it must): a plain file with up to two defects, each in a field the header reader checks or a chunk
    it must not look past; or a file Pillow wrote, with or without an orientation."""
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    if draw(st.integers(0, 4)) == 0:
        buffer = io.BytesIO()
        turned = {"exif": _exif(6)} if draw(st.booleans()) else {}
        Image.new("RGB", (width, height), (draw(st.integers(0, 255)), 40, 90)).save(buffer, "PNG", **turned)
        return buffer.getvalue()
    defects = set(draw(st.lists(st.sampled_from(DEFECTS), max_size=2)))
    depth, colour = (3, 2) if "mode" in defects else draw(st.sampled_from([(8, 2), (16, 2), (8, 6)]))
    stored_width = 0 if "zero width" in defects else 20_000 if "huge width" in defects else width
    stored_height = 20_000 if "huge width" in defects else height
    header = struct.pack(">IIBBBBB", stored_width, stored_height, depth, colour, 0, int("filter method" in defects), 0)
    if "short header" in defects:
        header = header[:12]
    channels = {2: 3, 6: 4}[colour] * depth // 8
    raw = zlib.compress(b"".join(b"\0" + bytes(channels * width) for _ in range(height)))
    cut = draw(st.integers(0, len(raw)))
    data = [] if "no data" in defects else [_chunk(b"IDAT", raw[:cut]), _chunk(b"IDAT", raw[cut:])]
    before = _chunk(b"pHYs", bytes(9)) if "chunk before data" in defects else b""
    if "orientation before data" in defects:
        before += _chunk(b"eXIf", _exif(6)[6:])
    after = draw(st.sampled_from([_chunk(b"tEXt", b"k\0v"), _chunk(b"eXIf", _exif(8)[6:])]))
    file = b"".join(
        [
            PNG_SIGNATURE,
            _chunk(b"IHDR", header, crc_flip="checksum" in defects),
            before,
            *data,
            after if "chunk after data" in defects else b"",
            _chunk(b"IEND", b""),
        ]
    )
    if "truncated" in defects:
        file = file[: draw(st.integers(0, len(file) - 1))]
    return file + draw(st.sampled_from([b"", b"trailing"]))


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@settings(max_examples=300, deadline=None)
@given(png_files())
def test_the_plain_png_reader_agrees_with_pillow_wherever_it_answers(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("png") / "picture.png"
    path.write_bytes(data)
    plain = _plain_png_size(path)
    if plain is not None:
        assert plain == _pillow_size(path)


def test_the_plain_png_reader_answers_for_what_pillow_and_cv2_write(tmp_path):
    import cv2

    picture = np.zeros((30, 50, 3), np.uint8)
    Image.fromarray(picture).save(tmp_path / "pil.png")
    cv2.imwrite(str(tmp_path / "cv2.png"), picture)
    for name in ("pil.png", "cv2.png"):
        assert _plain_png_size(tmp_path / name) == (50, 30) == image_size(tmp_path / name)
    Image.fromarray(picture).save(tmp_path / "turned.png", exif=_exif(6))
    assert _plain_png_size(tmp_path / "turned.png") is None  # an orientation: Pillow reads it
    assert image_size(tmp_path / "turned.png") == (30, 50)


def test_the_plain_png_reader_leaves_folders_and_missing_files_to_pillow(tmp_path):
    (tmp_path / "folder.png").mkdir()
    assert _plain_png_size(tmp_path / "folder.png") is None
    assert _plain_png_size(tmp_path / "missing.png") is None
    with pytest.raises(ImageError, match="image not found"):
        image_size(tmp_path / "missing.png")
