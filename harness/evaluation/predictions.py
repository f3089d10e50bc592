"""What a model found on one image, in original-image pixels, independent of the model's library."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.core.geometry import RLE


@dataclass(frozen=True)
class Predictions:
    """Detections on one image.

    Attributes:
        boxes: ``shape = (N, 4)``, ``x1 y1 x2 y2`` in original-image pixels.
        class_names: N class names.
        scores: ``shape = (N,)``, confidences in [0, 1].
        masks: N RLE masks at the original resolution, or None for a detect model.
        image_size: ``(width, height)`` of the original image.
    """

    boxes: np.ndarray
    class_names: tuple[str, ...]
    scores: np.ndarray
    masks: list[RLE] | None
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.class_names)

    @classmethod
    def empty(cls, image_size: tuple[int, int], *, with_masks: bool) -> Predictions:
        return cls(np.zeros((0, 4)), (), np.zeros(0), [] if with_masks else None, image_size)
