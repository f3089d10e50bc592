"""The rows of an export parity comparison, and the pairing every task's comparison shares: the two
models' predictions of one class assigned one-to-one (Hungarian, by an affinity each task defines),
and the leftovers judged against a threshold."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from harness.core.config import within_tolerance
from harness.evaluation.predictions import Predictions


@dataclass(frozen=True)
class ParityRow:
    """One prediction of model A matched to one of model B, or a prediction only one model made.

    For a classify model a row is one class, ``a`` and ``b`` its places (0 for the top class) in the
    two models' ranked classes."""

    class_name: str
    a: int | None  # index into model A's predictions, None when only B predicted it
    b: int | None
    box_iou: float | None  # None for an unmatched prediction, and for obb and classify models
    mask_iou: float | None  # None for detect models and unmatched predictions
    conf_a: float | None
    conf_b: float | None
    # "box IoU low", "mask IoU low", "obb IoU low", "keypoint OKS low", "conf differs", "top class
    # differs", "only in A", "only in B"
    problems: tuple[str, ...] = ()
    borderline: bool = False  # unmatched, but its confidence is within the tolerance of the threshold
    oks: float | None = None  # pose: OKS of B's keypoints against A's (harness/robustness/pose_parity.py)
    obb_iou: float | None = None  # obb: polygon IoU of the two oriented boxes (harness/robustness/task_parity.py)

    @property
    def iou(self) -> float | None:
        """The IoU that decides the pair: the lowest of box, mask and oriented-box IoU."""
        values = [v for v in (self.box_iou, self.mask_iou, self.obb_iou) if v is not None]
        return min(values) if values else None

    @property
    def conf_difference(self) -> float | None:
        if self.conf_a is None or self.conf_b is None:
            return None
        return abs(self.conf_a - self.conf_b)


def identical_agree(ious: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``ious`` of rows ``a`` against rows ``b``, with 1 wherever two are identical: two models that agree
    perfectly agree even on a box of no area (whose IoU is 0)."""
    if ious.size:
        ious[np.all(a[:, None, :] == b[None, :, :], axis=2)] = 1.0
    return ious


def class_indices(a: Predictions, b: Predictions) -> Iterator[tuple[str, list[int], list[int]]]:
    """Per class name (sorted), the indices of A's and of B's predictions of it."""
    for class_name in sorted(set(a.class_names) | set(b.class_names)):
        ia = [i for i, name in enumerate(a.class_names) if name == class_name]
        ib = [j for j, name in enumerate(b.class_names) if name == class_name]
        yield class_name, ia, ib


def confidence_penalty(a: Predictions, b: Predictions, ia: list[int], ib: list[int]) -> np.ndarray:
    """A tiny penalty on the confidence difference of every pair, for the affinity: identical
    predictions then pair with each other, never across, when their overlaps tie."""
    difference = np.array([a.scores[i] for i in ia])[:, None] - np.array([b.scores[j] for j in ib])[None, :]
    return 1e-6 * np.abs(difference).reshape(len(ia), len(ib))


def assign_pairs(affinity: np.ndarray, overlapping: np.ndarray) -> dict[int, int]:
    """Row to column of the one-to-one assignment that maximises the total affinity, keeping only the
    pairs that overlap at all (two predictions that do not overlap are two leftovers).

    Args:
        affinity: ``shape = (N, M)``.
        overlapping: ``shape = (N, M)``, booleans.
    """
    if not affinity.size:
        return {}
    from scipy.optimize import linear_sum_assignment  # scipy.optimize: 1 s to import, and collection needs none

    rows, columns = linear_sum_assignment(affinity, maximize=True)
    return {int(r): int(c) for r, c in zip(rows, columns, strict=True) if overlapping[r, c]}


def leftover_rows(
    class_name: str, side: str, index_scores: list[tuple[int, float]], *, conf: float, threshold: float
) -> list[ParityRow]:
    """Rows for the predictions of one model (``side`` "A" or "B") that the other has no counterpart
    for: each fails, unless its score lies within ``conf`` of ``threshold`` (the other model may have
    scored it at or below it): then it is borderline, tolerated and said. A score under the threshold
    (a class ranked by one classify model, under the other's lowest ranked score) is borderline too:
    the other model's score for it, somewhere below its threshold, may be as close."""
    rows = []
    for index, score in index_scores:
        borderline = within_tolerance(max(score - threshold, 0.0), conf)
        rows.append(
            ParityRow(
                class_name,
                a=index if side == "A" else None,
                b=index if side == "B" else None,
                box_iou=None,
                mask_iou=None,
                conf_a=score if side == "A" else None,
                conf_b=score if side == "B" else None,
                problems=() if borderline else (f"only in {side}",),
                borderline=borderline,
            )
        )
    return rows


def unmatched_rows(
    class_name: str,
    a: Predictions,
    b: Predictions,
    ia: list[int],
    ib: list[int],
    matched: dict[int, int],
    *,
    conf: float,
    conf_threshold: float,
) -> list[ParityRow]:
    """The leftovers of one class's assignment, A's then B's, judged against the predict threshold."""
    taken = set(matched.values())
    only_a = [(i, float(a.scores[i])) for k, i in enumerate(ia) if k not in matched]
    only_b = [(j, float(b.scores[j])) for k, j in enumerate(ib) if k not in taken]
    return [
        *leftover_rows(class_name, "A", only_a, conf=conf, threshold=conf_threshold),
        *leftover_rows(class_name, "B", only_b, conf=conf, threshold=conf_threshold),
    ]
