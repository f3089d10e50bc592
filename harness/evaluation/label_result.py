"""A classify case's verdict on its label: where the expected class ranks, and with what score."""

from __future__ import annotations

from dataclasses import dataclass

from harness.casefile.schema import LabelSpec
from harness.core.config import meets_minimum


@dataclass(frozen=True)
class LabelResult:
    """The model's ranked classes (best first, at most 5) judged against the case's ``LabelSpec``."""

    spec: LabelSpec
    ranked: tuple[tuple[str, float], ...]

    @property
    def rank(self) -> int | None:
        """1 for the top class: the best place of any expected label; None when none is ranked."""
        for place, (name, _) in enumerate(self.ranked, start=1):
            if name in self.spec.labels:
                return place
        return None

    @property
    def confidence(self) -> float | None:
        """The score of the best-placed expected label (None when none is ranked)."""
        rank = self.rank
        return None if rank is None else self.ranked[rank - 1][1]

    @property
    def predicted(self) -> str | None:
        """The top class, or None when the model gave no scores."""
        return self.ranked[0][0] if self.ranked else None

    @property
    def problems(self) -> list[str]:
        rank = self.rank
        if rank is None or rank > self.spec.top_k:
            return ["wrong label" if self.spec.top_k == 1 else f"label not in top {self.spec.top_k}"]
        if not meets_minimum(self.confidence, self.spec.min_confidence):
            return ["confidence low"]
        return []

    @property
    def passed(self) -> bool:
        return not self.problems
