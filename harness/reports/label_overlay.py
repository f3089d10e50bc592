"""The classify overlay's panel: the model's top 5 classes with their scores, the expected ones marked."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from harness.evaluation.label_result import LabelResult

TEXT_SIZE = 13
EXPECTED_COLOUR = (40, 220, 60)  # as the overlay's expected objects
OTHER_COLOUR = (230, 40, 230)  # as its predictions


def with_ranked_classes(picture: Image.Image, label: LabelResult) -> Image.Image:
    """``picture`` above a panel listing the top 5 classes, each with a bar as long as its score."""
    font = ImageFont.load_default(size=TEXT_SIZE)  # Pillow's embedded font: nothing to find or download
    row = TEXT_SIZE + 8
    shown = label.ranked[:5]
    out = Image.new("RGB", (max(picture.width, 360), picture.height + row * (len(shown) + 1)), (24, 24, 24))
    out.paste(picture, (0, 0))
    pen = ImageDraw.Draw(out)
    top = picture.height + 4
    expected = " or ".join(label.spec.labels)
    heading = f"top {len(shown)} classes (expected: {expected}, top_k {label.spec.top_k}"
    pen.text((6, top), heading + f", min_confidence {label.spec.min_confidence:.2f})", fill=(230, 230, 230), font=font)
    bar_width = out.width - 200
    for place, (name, score) in enumerate(shown, start=1):
        y = top + row * place
        colour = EXPECTED_COLOUR if name in label.spec.labels else OTHER_COLOUR
        pen.rectangle([6, y + 2, 6 + max(1, round(bar_width * score)), y + row - 4], fill=colour)
        pen.text((bar_width + 14, y), f"{place}. {name} {score:.3f}", fill=(255, 255, 255), font=font)
    return out
