"""Image transforms for robustness cases: what they do to the pixels, and to the expected objects.

A ``Transform`` is a sequence of steps applied in order. Geometric steps (flips, rotations by 90
degrees, scale, crop, pad) are exact maps of continuous coordinates, so the expected boxes and
polygons move with the picture without any loss; raster masks (RLE, PNG) are moved pixel for pixel,
which is exact for everything but ``scale``. Photometric steps (brightness, contrast, blur, noise,
JPEG) change only pixel values. Every step is deterministic: noise is seeded by the step itself.

Coordinates follow harness/core/geometry.py: continuous, pixel ``j`` covers ``[j, j + 1)``, so a
horizontal flip maps ``x`` to ``width - x`` (and pixel ``j`` to ``width - 1 - j``).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from harness.core.keypoints import MIRRORS, Keypoint, map_keypoints

FLIPS = ("hflip", "vflip", "rot90", "rot180", "rot270")  # written as a bare name: `- hflip`
GEOMETRIC = (*FLIPS, "scale", "crop", "pad")
PHOTOMETRIC = ("brightness", "contrast", "blur", "noise", "jpeg")
STEP_KINDS = (*GEOMETRIC, *PHOTOMETRIC)
PAD_FILL = 114  # Ultralytics' letterbox grey: what a padded border looks like to the model anyway
# Bump when a step's pixels change (another resampling filter, another noise generator): the
# prediction cache keys on it, so old predictions of transformed images are not reused.
TRANSFORM_VERSION = 1

Size = tuple[int, int]  # (width, height)
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Step:
    """One transform step. ``value`` is None for flips and rotations, a number for the others, and
    a tuple of whole pixels for ``crop: [x1, y1, x2, y2]`` and ``pad: [left, top, right, bottom]``."""

    kind: str
    value: float | tuple[int, ...] | None = None

    @property
    def id(self) -> str:
        """The step as it appears in a pytest node id: ``hflip``, ``scale=0.5``, ``pad=0,8,0,8``."""
        if self.value is None:
            return self.kind
        if isinstance(self.value, tuple):
            return f"{self.kind}={','.join(str(v) for v in self.value)}"
        return f"{self.kind}={self.value:g}"

    @property
    def geometric(self) -> bool:
        return self.kind in GEOMETRIC

    def output_size(self, size: Size) -> Size:
        width, height = size
        if self.kind in ("rot90", "rot270"):
            return height, width
        if self.kind == "scale":
            return max(1, round(width * self.value)), max(1, round(height * self.value))
        if self.kind == "crop":
            x1, y1, x2, y2 = self.crop_box(size)
            return x2 - x1, y2 - y1
        if self.kind == "pad":
            left, top, right, bottom = self._pad()
            return width + left + right, height + top + bottom
        return size

    def crop_box(self, size: Size) -> tuple[int, int, int, int]:
        """The crop window in whole pixels: a fraction keeps that share of each side, centred."""
        if isinstance(self.value, tuple):
            return self.value  # type: ignore[return-value]
        width, height = size
        keep_w, keep_h = max(1, round(width * self.value)), max(1, round(height * self.value))
        x1, y1 = (width - keep_w) // 2, (height - keep_h) // 2
        return x1, y1, x1 + keep_w, y1 + keep_h

    def _pad(self) -> tuple[int, int, int, int]:
        if isinstance(self.value, tuple):
            return self.value  # type: ignore[return-value]
        pad = int(self.value)
        return pad, pad, pad, pad

    def map_points(self, xs: np.ndarray, ys: np.ndarray, size: Size) -> tuple[np.ndarray, np.ndarray]:
        """Continuous coordinates in the input image to the output image's."""
        width, height = size
        kind = self.kind
        if kind == "hflip":
            return width - xs, ys
        if kind == "vflip":
            return xs, height - ys
        if kind == "rot90":  # counter-clockwise, as numpy's rot90 and PIL's rotate(90)
            return ys, width - xs
        if kind == "rot180":
            return width - xs, height - ys
        if kind == "rot270":
            return height - ys, xs
        if kind == "scale":
            out_w, out_h = self.output_size(size)
            return xs * (out_w / width), ys * (out_h / height)
        if kind == "crop":
            x1, y1, _, _ = self.crop_box(size)
            return xs - x1, ys - y1
        if kind == "pad":
            left, top, _, _ = self._pad()
            return xs + left, ys + top
        return xs, ys

    def apply_mask(self, mask: np.ndarray) -> np.ndarray:
        """A binary mask ``(height, width)`` moved with the picture."""
        height, width = mask.shape
        if self.kind in FLIPS:
            return np.ascontiguousarray(_flip(mask, self.kind))
        if self.kind == "scale":
            # Resampled as grey levels, then cut at half: each output pixel is in the mask when at least
            # half of what it covers was (not exact: the polygon form of a mask is, see module docstring).
            grey = Image.fromarray(mask.astype(np.uint8) * 255).resize(self.output_size((width, height)), _bilinear())
            return np.asarray(grey) >= 128
        if self.kind == "crop":
            x1, y1, x2, y2 = self.crop_box((width, height))
            return mask[y1:y2, x1:x2].copy()
        if self.kind == "pad":
            left, top, right, bottom = self._pad()
            return np.pad(mask, ((top, bottom), (left, right)))
        return mask

    def apply_image(self, rgb: np.ndarray) -> np.ndarray:
        """An RGB uint8 picture ``(height, width, 3)`` transformed."""
        kind, value = self.kind, self.value
        if kind in FLIPS:
            return np.ascontiguousarray(_flip(rgb, kind))
        if kind == "crop":
            x1, y1, x2, y2 = self.crop_box((rgb.shape[1], rgb.shape[0]))
            return rgb[y1:y2, x1:x2].copy()
        if kind == "pad":
            left, top, right, bottom = self._pad()
            return np.pad(rgb, ((top, bottom), (left, right), (0, 0)), constant_values=PAD_FILL)
        if kind == "noise":
            noise = np.random.default_rng(self._seed()).normal(0.0, value, size=rgb.shape)
            return np.clip(np.rint(rgb + noise), 0, 255).astype(np.uint8)

        image = Image.fromarray(rgb)
        if kind == "scale":
            # Pillow's bilinear filter widens its support when shrinking: an antialiased resize, as a
            # camera or a downscaling pipeline would give, not every n-th pixel.
            image = image.resize(self.output_size(image.size), _bilinear())
        elif kind == "brightness":
            image = ImageEnhance.Brightness(image).enhance(value)
        elif kind == "contrast":
            image = ImageEnhance.Contrast(image).enhance(value)
        elif kind == "blur":
            image = image.filter(ImageFilter.GaussianBlur(radius=value))  # Pillow's radius is the sigma
        elif kind == "jpeg":
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=int(value))
            image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        return np.asarray(image)

    def _seed(self) -> int:
        return int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "little")


def _flip(array: np.ndarray, kind: str) -> np.ndarray:
    if kind == "hflip":
        return array[:, ::-1]
    if kind == "vflip":
        return array[::-1]
    return np.rot90(array, {"rot90": 1, "rot180": 2, "rot270": 3}[kind])


def _bilinear() -> Any:
    """Pillow's bilinear filter, looked up late so that importing this module stays cheap."""

    return Image.Resampling.BILINEAR


@dataclass(frozen=True)
class Transform:
    """Steps applied in order; ``id`` names the variant in node ids (``brightness=0.5+blur=2``)."""

    steps: tuple[Step, ...]

    @property
    def id(self) -> str:
        return "+".join(step.id for step in self.steps)

    @property
    def cache_id(self) -> str:
        """What the prediction cache keys a transformed image on (with the source image's digest)."""
        return f"v{TRANSFORM_VERSION}:{self.id}"

    @property
    def geometric(self) -> bool:
        return any(step.geometric for step in self.steps)

    def output_size(self, size: Size) -> Size:
        for step in self.steps:
            size = step.output_size(size)
        return size

    def apply_image(self, rgb: np.ndarray) -> np.ndarray:
        for step in self.steps:
            rgb = step.apply_image(rgb)
        return rgb

    def apply_mask(self, mask: np.ndarray) -> np.ndarray:
        for step in self.steps:
            if step.geometric:
                mask = step.apply_mask(mask)
        return mask

    def map_polygon(self, flat: Sequence[float], size: Size) -> tuple[float, ...]:
        """A polygon ``x1, y1, x2, y2, ...`` in the input image, in the output image's coordinates."""
        xs = np.asarray(flat[0::2], dtype=np.float64)
        ys = np.asarray(flat[1::2], dtype=np.float64)
        for step in self.steps:
            if step.geometric:
                xs, ys = step.map_points(xs, ys, size)
            size = step.output_size(size)
        out = np.empty(xs.size * 2)
        out[0::2], out[1::2] = xs, ys
        return tuple(float(v) for v in out)

    def map_keypoints(
        self, keypoints: Sequence[Keypoint], size: Size, flip_idx: Sequence[int] | None
    ) -> tuple[Keypoint, ...]:
        """``(x, y, v)`` keypoints in the output image: moved exactly, unlabelled (v=0) where a crop
        leaves them outside, and renamed through ``flip_idx`` by every mirror (left becomes right)."""
        moved = tuple(keypoints)
        for step in self.steps:
            if step.geometric:
                output = step.output_size(size)
                move = functools.partial(step.map_points, size=size)
                moved = map_keypoints(moved, move, output, step.kind in MIRRORS, flip_idx)
                size = output
        return moved

    def map_box(self, box: Box, size: Size) -> tuple[Box, float]:
        """The box in the output image, clipped to it, and the share of its area still inside it.

        Every geometric step maps axis-aligned boxes to axis-aligned boxes, so the corners say it all.
        """
        xs = np.array([box[0], box[2], box[0], box[2]], dtype=np.float64)
        ys = np.array([box[1], box[1], box[3], box[3]], dtype=np.float64)
        visible = 1.0
        for step in self.steps:
            if not step.geometric:
                continue
            xs, ys = step.map_points(xs, ys, size)
            size = step.output_size(size)
            x1, x2, y1, y2 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
            full = (x2 - x1) * (y2 - y1)
            cx1, cy1 = max(x1, 0.0), max(y1, 0.0)
            cx2, cy2 = min(x2, float(size[0])), min(y2, float(size[1]))
            inside = max(cx2 - cx1, 0.0) * max(cy2 - cy1, 0.0)
            visible *= float(inside / full) if full > 0 else 0.0
            xs = np.array([cx1, cx2, cx1, cx2])
            ys = np.array([cy1, cy1, cy2, cy2])
        return (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())), visible


def parse_transform(raw: Any, error: Callable[[str, str], Exception], where: str) -> tuple[Transform, dict]:
    """One entry of a ``transforms:`` list: ``hflip``, or a mapping of steps (applied in the order
    written) and optional thresholds and ``xfail`` reason, e.g. ``{brightness: 0.5, box_iou: 0.6}``.

    Returns the transform and its overrides (thresholds, ``xfail``). ``error(field, message)`` makes the exception
    to raise, naming the field.
    """
    if isinstance(raw, str):
        if raw not in FLIPS:
            hint = _suggest(raw)
            raise error(where, f"{raw!r} is not a transform written alone; {hint}")
        return Transform((Step(raw),)), {}
    if not isinstance(raw, dict) or not raw:
        raise error(where, f"expected a transform name ({', '.join(FLIPS)}) or a mapping such as {{scale: 0.5}}")
    steps: list[Step] = []
    overrides: dict[str, Any] = {}
    for key, value in raw.items():
        here = f"{where}.{key}"
        if key in ("box_iou", "mask_iou"):
            overrides[key] = _number(value, here, error, low=0.0, high=1.0)
        elif key == "max_extra":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise error(here, f"expected a whole number >= 0, got {value!r}")
            overrides[key] = value
        elif key == "xfail":
            if not isinstance(value, str) or not value.strip():
                raise error(here, "expected the reason this variant is known to fail, as text")
            overrides[key] = value.strip()
        elif key in STEP_KINDS:
            steps.append(parse_step(key, value, error, here))
        else:
            raise error(here, f"unknown key; {_suggest(str(key))}")
    if not steps:
        raise error(where, "thresholds or xfail but no transform: add one of " + ", ".join(STEP_KINDS))
    return Transform(tuple(steps)), overrides


def parse_step(kind: str, value: Any, error: Callable[[str, str], Exception], where: str) -> Step:
    """A step from its value in a case file; ranges are checked here, image-dependent limits later."""
    if kind in FLIPS:
        if value is not True:
            raise error(where, f"write `{kind}` alone in the list, or `{kind}: true`")
        return Step(kind)
    if kind == "crop":
        if isinstance(value, list):
            box = _whole_numbers(value, 4, where, error, "[x1, y1, x2, y2] in whole pixels")
            if box[2] <= box[0] or box[3] <= box[1]:
                raise error(where, f"x2 > x1 and y2 > y1 are required, got {value}")
            return Step(kind, box)
        return Step(kind, _number(value, where, error, low=0.0, high=1.0, open_low=True))
    if kind == "pad":
        if isinstance(value, list):
            return Step(kind, _whole_numbers(value, 4, where, error, "[left, top, right, bottom] in whole pixels"))
        pad = _whole_numbers([value], 1, where, error, "a whole number of pixels >= 0, or [left, top, right, bottom]")
        return Step(kind, float(pad[0]))
    if kind == "jpeg":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise error(where, f"expected a JPEG quality, a whole number from 1 to 100, got {value!r}")
        return Step(kind, float(value))
    limits = {"scale": (0.0, 8.0, True), "brightness": (0.0, 10.0, False), "contrast": (0.0, 10.0, False)}
    low, high, open_low = limits.get(kind, (0.0, 255.0, False))  # blur and noise: sigmas, in pixels and grey levels
    return Step(kind, _number(value, where, error, low=low, high=high, open_low=open_low))


def _number(value: Any, where: str, error, *, low: float, high: float, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise error(where, f"expected a number, got {value!r}")
    if value > high or value < low or (open_low and value == low):
        bracket = "(" if open_low else "["
        raise error(where, f"{value} is outside {bracket}{low:g}, {high:g}]")
    return float(value)


def _whole_numbers(value: list, count: int, where: str, error, what: str) -> tuple[int, ...]:
    if len(value) != count or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise error(where, f"expected {what}, got {value!r}")
    return tuple(value)


def _suggest(name: str) -> str:
    hint = difflib.get_close_matches(name, (*STEP_KINDS, "box_iou", "mask_iou", "max_extra", "xfail"), n=1)
    return f"did you mean {hint[0]!r}?" if hint else f"transforms: {', '.join(STEP_KINDS)}"


def check_fits(transform: Transform, size: Size, error: Callable[[str, str], Exception], where: str) -> None:
    """Refuse a transform that cannot apply to an image of this size (a crop window outside it)."""
    for step in transform.steps:
        if step.kind == "crop" and isinstance(step.value, tuple):
            x2, y2 = step.value[2], step.value[3]
            if x2 > size[0] or y2 > size[1]:
                raise error(f"{where}.crop", f"{list(step.value)} is outside the {size[0]}x{size[1]} image")
        size = step.output_size(size)
