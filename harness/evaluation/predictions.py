"""What a model found on one image, in original-image pixels, independent of the model's library."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.core.geometry import RLE
from harness.core.oriented import xywhr_to_corners


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
        obb: ``shape = (N, 5)``, each box's oriented box ``cx cy w h r`` (radians), for an obb
            model (``boxes`` are then their axis-aligned bounds); None for other models.
        ranked: a classify model's top classes and scores, best first (at most 5; no boxes then);
            None for other models.
    """

    boxes: np.ndarray
    class_names: tuple[str, ...]
    scores: np.ndarray
    masks: list[RLE] | None
    image_size: tuple[int, int]
    keypoints: np.ndarray | None = None
    obb: np.ndarray | None = None
    ranked: tuple[tuple[str, float], ...] | None = None

    def oriented_corners(self) -> np.ndarray:
        """The oriented boxes' corners, ``shape = (N, 8)`` (none for a model without oriented boxes)."""
        return xywhr_to_corners(self.obb) if self.obb is not None else np.zeros((0, 8))

    def __len__(self) -> int:
        return len(self.class_names)

    @classmethod
    def empty(
        cls,
        image_size: tuple[int, int],
        *,
        with_masks: bool,
        keypoint_count: int | None = None,
        with_obb: bool = False,
    ) -> Predictions:
        keypoints = None if keypoint_count is None else np.zeros((0, keypoint_count, 3))
        obb = np.zeros((0, 5)) if with_obb else None
        return cls(np.zeros((0, 4)), (), np.zeros(0), [] if with_masks else None, image_size, keypoints, obb=obb)
