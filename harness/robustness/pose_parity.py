"""Export parity for pose models: a matched pair's keypoints compared by OKS, model A's keypoints taken
as the truth (all labelled), A's box area as the area and Ultralytics' default sigmas for the count.

The pair must reach the parity IoU minimum in OKS too (``compare_to: {iou: ...}``): an export that
moves keypoints fails as one that moves boxes does."""

from __future__ import annotations

from harness.core.keypoints import compare_keypoints, default_sigmas
from harness.evaluation.predictions import Predictions


def pair_oks(a: Predictions, b: Predictions, index_a: int, index_b: int) -> float | None:
    """OKS of B's prediction ``index_b``'s keypoints against A's ``index_a``; None without keypoints."""
    if a.keypoints is None or b.keypoints is None or a.keypoints.shape[1:] != b.keypoints.shape[1:]:
        return None
    points = a.keypoints[index_a]
    if len(points) == 0:
        return None
    x1, y1, x2, y2 = (float(v) for v in a.boxes[index_a])
    expected = [(float(x), float(y), 2) for x, y, _ in points.tolist()]
    sigmas = default_sigmas(len(expected))[0]
    return compare_keypoints(expected, b.keypoints[index_b], (x2 - x1) * (y2 - y1), sigmas, (x1, y1, x2, y2)).oks
