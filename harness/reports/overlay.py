"""Overlay pictures: a case's image with the expected objects and the predictions drawn on it.

Expected objects are green, predictions magenta (a pair most colour-blind readers still tell apart).
Boxes are rectangles, masks are outlines. Every mark carries a label: an expected object its index,
class and IoUs; a prediction the index of the object it matched, class and confidence. A missed
object and an extra prediction are drawn dashed with a red label, so they stand out.

Only Pillow draws, with its built-in font (``ImageFont.load_default``), so nothing is downloaded.
Without a verdict (``case_overlay(case)``) only the expected objects are drawn, for reviewing cases.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from harness.casefile.schema import Case, ExpectedObject
from harness.core.geometry import RLE, rle_to_mask
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.verdict_text import summarize_verdict
from harness.reports.label_overlay import with_ranked_classes
from harness.reports.pose_overlay import PoseMarks, draw_bones, draw_points, expected_points, predicted_points
from harness.robustness.variants import case_pixels

EXPECTED_COLOUR = (40, 220, 60)
PREDICTED_COLOUR = (230, 40, 230)
PROBLEM_COLOUR = (215, 25, 25)
TEXT_SIZE = 13
# Small images are enlarged (nearest neighbour, so no pixel is invented) until labels fit; huge ones shrunk.
MIN_LONG_SIDE = 640
MAX_LONG_SIDE = 1600


@dataclass(frozen=True)
class Mark:
    """One thing to draw: a box, optionally a mask outline, and a label.

    Attributes:
        role: ``"expected"`` or ``"predicted"``: decides the colour.
        box: ``x1 y1 x2 y2`` in original-image pixels.
        label: the text drawn beside the box (left out of thumbnails).
        mask: an RLE mask at the original resolution, drawn as its outline, or None.
        problem: a missed object, an extra prediction or an IoU below its threshold: red label, and
            for a missed or extra one a dashed box.
        dashed: draw the box dashed.
    """

    role: str
    box: tuple[float, float, float, float]
    label: str
    mask: RLE | None = None
    problem: bool = False
    dashed: bool = False
    keypoints: PoseMarks | None = None  # pose: points and bones (harness/reports/pose_overlay.py)
    corners: tuple[float, ...] | None = None  # an oriented box (x1 y1 ... x4 y4), drawn instead of ``box``

    @property
    def colour(self) -> tuple[int, int, int]:
        return EXPECTED_COLOUR if self.role == "expected" else PREDICTED_COLOUR


def expected_marks(case: Case, masks: Sequence[RLE | None] = ()) -> list[Mark]:
    """The expected objects of ``case`` as marks; ``masks`` are their RLEs when already rasterised."""
    width, height = case.image_size
    marks = []
    for index, obj in enumerate(case.objects):
        rle = masks[index] if index < len(masks) else None
        if rle is None and obj.mask is not None:
            rle = obj.mask.to_rle(height, width)
        label = f"#{index} {obj.class_name}" + (" crowd region" if obj.crowd else "")
        marks.append(
            Mark("expected", _box(obj), label, mask=rle, keypoints=expected_points(case, obj), corners=obj.obb)
        )
    return marks


def verdict_marks(verdict: CaseVerdict) -> list[Mark]:
    """Expected objects and predictions of a judged case, labelled with IoU, confidence and problems."""
    predictions = verdict.predictions
    corners_of = predictions.oriented_corners()
    marks = []
    matched: dict[int, int] = {}  # prediction index -> expected object index
    for index, (result, mark) in enumerate(
        zip(verdict.objects, expected_marks(verdict.case, verdict.expected_masks), strict=True)
    ):
        obj = result.expected
        if result.prediction is None:
            label = mark.label if obj.crowd else f"#{index} {obj.class_name} MISSED"
            marks.append(replace(mark, label=label, problem=not obj.crowd, dashed=not obj.crowd))
            continue
        matched[result.prediction] = index
        label = f"#{index} {obj.class_name} " + (
            f"obb {result.obb_iou:.2f}" if result.check_obb else f"box {result.box_iou:.2f}"
        )
        if result.check_mask:
            label += f" mask {result.mask_iou:.2f}"
        if result.keypoints is not None:
            label += f" OKS {result.keypoints.oks:.2f}"
        if result.problems:
            label += " LOW"
        marks.append(replace(mark, label=label, problem=bool(result.problems)))
    for j in range(len(predictions)):
        name, score = predictions.class_names[j], float(predictions.scores[j])
        if j in matched:
            label, problem = f"#{matched[j]} {name} conf {score:.2f}", False
        elif j in verdict.ignored:
            label, problem = f"{name} conf {score:.2f} in crowd", False
        else:
            label, problem = f"EXTRA {name} conf {score:.2f}", verdict.too_many_extras
        box = tuple(float(v) for v in predictions.boxes[j])
        mask = predictions.masks[j] if predictions.masks else None
        corners = tuple(corners_of[j]) if predictions.obb is not None else None
        mark = Mark("predicted", box, label, mask=mask, problem=problem, dashed=j not in matched, corners=corners)
        marks.append(replace(mark, keypoints=predicted_points(verdict, j)))
    return marks


def draw(
    image: np.ndarray, marks: Sequence[Mark], *, title: str = "", labels: bool = True, long_side: int | None = None
) -> Image.Image:
    """``image`` (RGB, ``shape = (height, width, 3)``) with ``marks`` drawn on it.

    The picture is rescaled so that labels are legible (see MIN_LONG_SIDE), or to ``long_side`` pixels
    when given; with a ``title`` a bar on top holds it and a legend. ``labels=False`` draws boxes and
    outlines only, for thumbnails.
    """
    height, width = image.shape[:2]
    scale = long_side / max(width, height, 1) if long_side else _scale(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    picture = Image.fromarray(image).convert("RGB")
    if size != picture.size:
        picture = picture.resize(size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BILINEAR)
    canvas = np.asarray(picture).copy()
    line = max(1, round(2 * min(scale, 2))) if labels else 2
    for mark in marks:
        if mark.mask is not None:
            edge = _outline(rle_to_mask(mark.mask), size, line)
            canvas[edge] = mark.colour
    picture = Image.fromarray(canvas)
    pen = ImageDraw.Draw(picture)
    for mark in marks:
        if mark.corners is not None:
            points = [(x * scale, y * scale) for x, y in zip(mark.corners[0::2], mark.corners[1::2], strict=True)]
            _path(pen, points, mark.colour, line, dashed=mark.dashed)
            continue
        box = [v * scale for v in mark.box]
        _rectangle(pen, box, mark.colour, line, dashed=mark.dashed)
    poses = [mark for mark in marks if mark.keypoints is not None]
    for mark in poses:
        draw_bones(pen, mark.keypoints, mark.colour, scale, line)
    for mark in poses:  # expected keypoints named; predicted ones drawn as rings, red where they fail
        font = _font(TEXT_SIZE - 2) if labels and mark.role == "expected" else None
        draw_points(pen, mark.keypoints, mark.colour, PROBLEM_COLOUR, scale, line, font)
    if labels:
        placed: list[tuple[float, float, float, float]] = []
        for mark in marks:
            _label(pen, mark, [v * scale for v in mark.box], size, placed)
    if title:
        legend = [("expected", EXPECTED_COLOUR), ("predicted", PREDICTED_COLOUR), ("failure", PROBLEM_COLOUR)]
        shown = {mark.role for mark in marks} | {"expected"} | ({"failure"} if any(m.problem for m in marks) else set())
        picture = _with_title(picture, title, [(text, colour) for text, colour in legend if text in shown])
    return picture


def case_overlay(
    case: Case,
    verdict: CaseVerdict | None = None,
    *,
    labels: bool = True,
    long_side: int | None = None,
    image: np.ndarray | None = None,
) -> Image.Image:
    """The overlay of one case: expected objects only when ``verdict`` is None, else both sides.

    ``labels=False`` gives a thumbnail: no title, no labels, and ``long_side`` pixels on its long side.
    ``image``: the case's picture already decoded (RGB), for a caller drawing it more than once."""
    if image is None:
        image = case_pixels(case)  # transformed, for a variant
    rgb = image
    if verdict is None:
        marks, title = expected_marks(case), f"{case.name}: expected objects"
        if case.label is not None:
            title = f"{case.name}: expected {' or '.join(case.label.labels)}"
    else:
        marks = verdict_marks(verdict)
        title = f"{case.name}: {'' if verdict.passed else 'FAILED '}{summarize_verdict(verdict)}"
    picture = draw(rgb, marks, title=title if labels else "", labels=labels, long_side=long_side)
    if labels and verdict is not None and verdict.label is not None:
        picture = with_ranked_classes(picture, verdict.label)
    return picture


def save_png(picture: Image.Image, path: Path) -> Path:
    """Write ``picture`` to ``path`` as PNG, creating its folder; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(picture))
    return path


def png(picture: Image.Image) -> bytes:
    """``picture`` as PNG bytes."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=3)  # 4x faster than the default 6, 5% larger (measured)
    return buffer.getvalue()


def _box(obj: ExpectedObject) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in obj.box)


def _scale(width: int, height: int) -> float:
    longest = max(width, height, 1)
    if longest < MIN_LONG_SIDE:
        return min(4.0, MIN_LONG_SIDE / longest)
    return MAX_LONG_SIDE / longest if longest > MAX_LONG_SIDE else 1.0


def _outline(mask: np.ndarray, size: tuple[int, int], thickness: int) -> np.ndarray:
    """Boolean edge pixels of ``mask`` rescaled to ``size`` (width, height), ``thickness`` pixels wide."""
    if mask.shape[::-1] != size:
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)) > 0
    inner = mask.copy()
    for _ in range(thickness):
        # Erosion by one pixel in four directions; the edge is what erosion removes.
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        shrunk[0, :] = shrunk[-1, :] = False
        shrunk[:, 0] = shrunk[:, -1] = False
        inner = shrunk
    return mask & ~inner


def _rectangle(pen: ImageDraw.ImageDraw, box: Sequence[float], colour, width: int, *, dashed: bool) -> None:
    x1, y1, x2, y2 = box
    if not dashed:
        pen.rectangle([x1, y1, max(x1, x2), max(y1, y2)], outline=colour, width=width)
        return
    _path(pen, [(x1, y1), (x2, y1), (x2, y2), (x1, y2)], colour, width, dashed=True)


def _path(pen: ImageDraw.ImageDraw, points: Sequence[tuple[float, float]], colour, width: int, *, dashed: bool) -> None:
    """A closed outline through ``points`` (an oriented box's corners), solid or dashed."""
    if not dashed:
        pen.line([*points, points[0]], fill=colour, width=width, joint="curve")
        return
    dash = 4 * width + 2
    for start, end in zip(points, [*points[1:], points[0]], strict=True):
        length = math.dist(start, end)
        steps = max(1, int(length // dash))
        for k in range(0, steps, 2):
            a, b = k / steps, min(1.0, (k + 1) / steps)
            pen.line(
                [
                    (start[0] + (end[0] - start[0]) * a, start[1] + (end[1] - start[1]) * a),
                    (start[0] + (end[0] - start[0]) * b, start[1] + (end[1] - start[1]) * b),
                ],
                fill=colour,
                width=width,
            )


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's embedded font: nothing to find or download


def _label(pen: ImageDraw.ImageDraw, mark: Mark, box: Sequence[float], size: tuple[int, int], placed: list) -> None:
    """The label above an expected box or below a predicted one; where that covers a label already
    drawn, the first free spot of: the other side, inside the box's top, inside its bottom."""
    font = _font(TEXT_SIZE)
    left, top, right, bottom = pen.textbbox((0, 0), mark.label, font=font)
    width, height = right - left + 6, bottom - top + 4
    x = min(max(0.0, box[0]), max(0.0, size[0] - width))
    above, below = box[1] - height, box[3]
    first, second = (above, below) if mark.role == "expected" else (below, above)
    spots = []
    for y in (first, second, box[1], box[3] - height):
        y = min(max(0.0, y), max(0.0, size[1] - height))
        spots.append((x, y, x + width, y + height))
    # Near its own box, even if covering another label, rather than far away and misread as another's.
    spot = next((s for s in spots if not any(_overlap(s, other) for other in placed)), spots[0])
    placed.append(spot)
    background = PROBLEM_COLOUR if mark.problem else mark.colour
    text_colour = (255, 255, 255) if mark.problem or mark.role == "predicted" else (0, 0, 0)
    pen.rectangle(spot, fill=background)
    pen.text((spot[0] + 3 - left, spot[1] + 2 - top), mark.label, fill=text_colour, font=font)


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _with_title(picture: Image.Image, title: str, legend: Sequence[tuple[str, tuple[int, int, int]]]) -> Image.Image:
    """``picture`` under a bar holding ``title`` and the colour legend."""
    font = _font(TEXT_SIZE)
    bar = 2 * (TEXT_SIZE + 8)
    out = Image.new("RGB", (max(picture.width, 360), picture.height + bar), (24, 24, 24))
    out.paste(picture, (0, bar))
    pen = ImageDraw.Draw(out)
    pen.text((6, 4), title, fill=(255, 255, 255), font=font)
    x = 6
    for text, colour in legend:
        y = TEXT_SIZE + 12
        pen.rectangle([x, y + 2, x + 12, y + 12], fill=colour)
        pen.text((x + 16, y), text, fill=(230, 230, 230), font=font)
        x += 16 + round(pen.textlength(text, font=font)) + 14
    return out
