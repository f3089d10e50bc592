"""Reading images the way Ultralytics does: EXIF orientation applied, RGB, original resolution.

Boxes and masks in case files refer to the image as displayed (EXIF orientation applied), which
is what annotation tools show and what ``cv2.imread`` (Ultralytics' own loader) gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from harness.core.errors import ImageError, display_path

# EXIF orientations 5-8 swap width and height when applied.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION_TAG = 0x0112


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of the displayed image, read from the header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = _orientation(image)
    except FileNotFoundError:
        raise ImageError(f"image not found: {display_path(path)}") from None
    except Exception as exc:  # Ultralytics patches Image.open, so more than PIL's own errors arrive here
        raise ImageError(f"not a readable image: {display_path(path)} ({_reason(exc)})") from None
    return (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation, without decoding pixels where the format allows."""
    if image.format == "PNG":
        # PIL's PNG getexif() decodes the whole image to look for a late eXIf chunk; the PNG spec
        # puts eXIf before the image data, which opening has already read into ``info``.
        raw = image.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
        return exif.get(_EXIF_ORIENTATION_TAG, 1)
    return image.getexif().get(_EXIF_ORIENTATION_TAG, 1)


def load_image(path: Path) -> np.ndarray:
    """The displayed image as RGB uint8, ``shape = (height, width, 3)``.

    Grey, palette and RGBA images become RGB (alpha dropped); 16-bit images keep their top 8 bits:
    what ``cv2.imread``, and so Ultralytics, makes of the same files.
    """
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode.startswith("I"):
                # PIL would clip 16-bit values at 255 (a white picture); cv2 shifts them down by 8 bits.
                grey = (np.asarray(image, dtype=np.uint32) >> 8).clip(0, 255).astype(np.uint8)
                return np.repeat(grey[:, :, None], 3, axis=2)
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise ImageError(f"image not found: {display_path(path)}") from None
    except Exception as exc:  # truncated data, decoder errors, and whatever Ultralytics' patched open raises
        raise ImageError(f"cannot decode image {display_path(path)}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (UnidentifiedImageError, ModuleNotFoundError)):
        return "not an image format Pillow can read"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
