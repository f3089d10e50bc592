"""Ultralytics results of oriented-box (obb) and classify models as ``Predictions``.

An obb result's boxes are ``result.obb`` (``xywhr``, radians; Ultralytics scales them back to the
original image), its axis-aligned ``boxes`` their bounds. A classify result has no boxes: its
``probs`` ranked, the best five kept (what a failing case shows, and the most ``top_k`` may ask).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.core.oriented import xywhr_to_corners
from harness.evaluation.predictions import Predictions

RANKED_CLASSES = 5


def oriented_predictions(result: Any, names: Mapping[int, str], image_size: tuple[int, int]) -> Predictions:
    """The oriented boxes of one Ultralytics obb result."""
    found = result.obb
    if found is None or not len(found):
        return Predictions.empty(image_size, with_masks=False, with_obb=True)
    xywhr = found.xywhr.cpu().numpy().astype(np.float64).reshape(-1, 5)
    corners = xywhr_to_corners(xywhr)
    xs, ys = corners[:, 0::2], corners[:, 1::2]
    return Predictions(
        boxes=np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1),
        class_names=tuple(names[int(i)] for i in found.cls.cpu().numpy().astype(int)),
        scores=found.conf.cpu().numpy().astype(np.float64),
        masks=None,
        image_size=image_size,
        obb=xywhr,
    )


def ranked_predictions(result: Any, names: Mapping[int, str], image_size: tuple[int, int]) -> Predictions:
    """The best classes of one Ultralytics classify result, with their scores."""
    probs = result.probs.data.cpu().numpy().astype(np.float64).reshape(-1)
    order = np.argsort(-probs, kind="stable")[:RANKED_CLASSES]  # stable: ties keep the class order
    ranked = tuple((names[int(i)], float(probs[i])) for i in order)
    return Predictions(np.zeros((0, 4)), (), np.zeros(0), None, image_size, ranked=ranked)


# The tasks whose results hold no ``result.boxes`` to read, and how to read them instead.
TASK_RESULTS = {"obb": oriented_predictions, "classify": ranked_predictions}
