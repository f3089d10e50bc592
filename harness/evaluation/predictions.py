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
        keypoints: ``shape = (N, K, 3)``, x y confidence per keypoint in original-image pixels, or
            None for a model without keypoints (Ultralytics' ``results.keypoints.data``).
    """

    boxes: np.ndarray
    class_names: tuple[str, ...]
    scores: np.ndarray
    masks: list[RLE] | None
    image_size: tuple[int, int]
    keypoints: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.class_names)

    @classmethod
    def empty(cls, image_size: tuple[int, int], *, with_masks: bool, keypoint_count: int | None = None) -> Predictions:
        keypoints = None if keypoint_count is None else np.zeros((0, keypoint_count, 3))
        return cls(np.zeros((0, 4)), (), np.zeros(0), [] if with_masks else None, image_size, keypoints)
