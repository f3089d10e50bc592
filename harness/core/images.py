"""Reading images the way Ultralytics does: EXIF orientation applied, RGB, original resolution.

Boxes and masks in case files refer to the image as displayed (EXIF orientation applied), which
is what annotation tools show and what ``cv2.imread`` (Ultralytics' own loader) gives.

The displayed size and the pixels come from one decode, ``_displayed``: a format's header alone
gives the size only where it holds everything that decode reads for the orientation (JPEG, WebP,
BMP, and a PNG with nothing after its image data); any other file is decoded to learn its size.
Label masks (``mask: {png: ...}``) are read by ``load_label_mask``: non-zero is the object, in the
file's own mode, never rescaled to 8 bits as pictures are.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import _MODES as _PNG_MODES  # the bit depths and colour types Pillow reads

from harness.core.errors import ImageError, display_path

# EXIF orientations 5-8 swap width and height when applied.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION_TAG = 0x0112
# Formats whose header (all Pillow reads on opening) is all a decode reads for the orientation.
_HEADER_FORMATS = {"JPEG", "MPO", "WEBP", "BMP"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of the displayed image: from the header where that is all the decode would
    read for the orientation, else from decoding the image (the same decode as ``load_image``)."""
    plain = _plain_png_size(path)
    if plain is not None:
        return plain
    with _opened(path, "not a readable image") as image:
        if _header_is_enough(image, path):
            width, height = image.size
            orientation = Image.Image.getexif(image).get(_EXIF_ORIENTATION_TAG, 1)  # the base class never decodes
            return (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
        return _displayed(image, path).size


def load_image(path: Path) -> np.ndarray:
    """The displayed image as RGB uint8, ``shape = (height, width, 3)``.

    Grey, palette and RGBA images become RGB (alpha dropped); 16-bit images keep their top 8 bits:
    what ``cv2.imread``, and so Ultralytics, makes of the same files.
    """
    with _opened(path, "cannot decode image") as image:
        image = _displayed(image, path)
        if image.mode.startswith("I"):
            # PIL would clip 16-bit values at 255 (a white picture); cv2 shifts them down by 8 bits.
            grey = (np.asarray(image, dtype=np.uint32) >> 8).clip(0, 255).astype(np.uint8)
            return np.repeat(grey[:, :, None], 3, axis=2)
        return _decoded(path, lambda: np.asarray(image.convert("RGB")))


def load_label_mask(path: Path) -> np.ndarray:
    """A label mask as booleans, ``shape = (height, width)``: a pixel is the object when it is non-zero
    in any colour channel, read in the file's own mode (1, L, P, I;16, I, RGB, LA, RGBA), never rescaled
    (a 16-bit mask of ones is the object, not zeros after dropping the low 8 bits).

    A palette image is judged by its indices (index 0 is the background, whatever colour it shows);
    alpha is ignored, so an opaque black background is background."""
    with _opened(path, "cannot decode mask") as image:
        image = _displayed(image, path)
        return _decoded(path, lambda: _non_zero(image))


def _non_zero(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        return pixels != 0
    bands = image.getbands()
    # Alpha is not a label: a mask saved with an opaque black background is background there.
    colour = [i for i, band in enumerate(bands) if band not in ("A", "a")] if len(bands) > 1 else [0]
    return pixels[..., colour].any(axis=2)


@contextlib.contextmanager
def _opened(path: Path, what: str) -> Iterator[Image.Image]:
    """``Image.open`` whose errors become one ImageError line naming the file."""
    with _decoded(path, lambda: Image.open(path), what) as image:
        yield image


def _decoded(path: Path, read: Callable, what: str = "cannot decode image"):
    """``read()``, its failures as one ImageError line naming ``path``."""
    try:
        return read()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"image not found: {display_path(path)}") from None
    except Exception as exc:  # truncated data, decoder errors, and whatever Ultralytics' patched open raises
        raise ImageError(f"{what}: {display_path(path)} ({_reason(exc)})") from None


def _displayed(image: Image.Image, path: Path) -> Image.Image:
    """The decoded image with its orientation applied: the one decode both the size and the pixels
    come from (Pillow finds a PNG's late eXIf chunk, or applies a TIFF's orientation, while decoding)."""
    return _decoded(path, lambda: ImageOps.exif_transpose(image))


def _header_is_enough(image: Image.Image, path: Path) -> bool:
    if image.format in _HEADER_FORMATS:
        return True
    return image.format == "PNG" and _nothing_after_image_data(path)


def _nothing_after_image_data(path: Path) -> bool:
    """Whether a PNG's chunks end with its image data (IDAT, then IEND): a chunk after the data
    (a late eXIf, text holding EXIF or XMP, animation frames) is only read by decoding."""
    with open(path, "rb") as file:
        if file.read(8) != _PNG_SIGNATURE:
            return False
        seen_data = False
        while header := file.read(8):
            if len(header) < 8:
                return False
            length, kind = struct.unpack(">I4s", header)
            if kind == b"IEND":
                return True
            if kind == b"IDAT":
                seen_data = True
            elif seen_data:
                return False
            file.seek(length + 4, 1)  # the chunk's data and CRC
    return False


def _plain_png_size(path: Path) -> tuple[int, int] | None:
    """The size of a plain PNG, read from its header without Pillow; None for anything else, which
    Pillow then reads (``tests/unit/test_images.py`` checks the two agree wherever this answers).

    Plain: a sound IHDR (13 bytes, its checksum right, a bit depth and colour type Pillow reads,
    filter method 0, a size Pillow accepts without a warning), then image data and the end, nothing
    else: no chunk that could carry an orientation. What most tools write, read in 16 us instead of
    80 us with Pillow (0.6 s of collecting 10,000 cases)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # Pillow names the problem
    try:
        return _plain_png_chunks(fd)
    except OSError:
        return None  # a folder, an unreadable file: Pillow names the problem
    finally:
        os.close(fd)


def _plain_png_chunks(fd: int) -> tuple[int, int] | None:
    head = os.pread(fd, 33, 0)  # signature, IHDR (length, type, 13 bytes, checksum)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[8:16] != b"\0\0\0\rIHDR":
        return None
    width, height, depth, colour, _, method = struct.unpack(">IIBBBB", head[16:28])
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0] or (depth, colour) not in _PNG_MODES:
        return None
    if method != 0 or not (0 < width < 2**31 and 0 < height < 2**31) or _bomb(width, height):
        return None
    offset, kind = 33, b"IDAT"
    while kind == b"IDAT":
        header = os.pread(fd, 8, offset)
        if len(header) < 8:
            return None
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return width, height
        offset += length + 12  # header, data, checksum
    return None  # a chunk besides image data


def _bomb(width: int, height: int) -> bool:
    """Whether Pillow would warn about, or refuse, an image this big (its MAX_IMAGE_PIXELS)."""
    limit = Image.MAX_IMAGE_PIXELS
    return limit is not None and width * height > limit


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (UnidentifiedImageError, ModuleNotFoundError)):
        return "not an image format Pillow can read"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
