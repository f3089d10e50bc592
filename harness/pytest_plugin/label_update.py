"""``--harness-update`` for a classify case: its expected label becomes the model's top class.

The key the person wrote stays (``label: X``, or ``labels: [X]`` for a list of accepted classes),
and so do ``min_confidence``, ``top_k``, tags and comments. A case that fails although the model's
top class already is one of its labels fails on ``min_confidence``, a threshold a person set: it is
not rewritten, and the failure says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml.comments import CommentedMap

from harness.casefile.edit import CaseDocument, flow, flow_map
from harness.core.config import meets_minimum
from harness.core.errors import display_path

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict

EXPECTATION_KEYS = ("objects", "label", "labels")  # `recorded:` is written just before the first


def mark_recorded(entry: CommentedMap, model: str) -> None:
    """Set ``recorded: {model, reviewed: false}`` on a rewritten case, where it was or before its expectation."""
    recorded = flow_map({"model": model, "reviewed": False})
    if "recorded" in entry:
        entry["recorded"] = recorded
        return
    keys = list(entry)
    before = next((keys.index(key) for key in EXPECTATION_KEYS if key in entry), len(keys))
    entry.insert(before, "recorded", recorded)


def review_hint(path: Path) -> str:
    """The last line of an update's report: the rewritten case waits for a person."""
    return (
        f"marked recorded, not reviewed (skipped until checked): vision-harness review {display_path(path)}, "
        "then the same with --mark-reviewed"
    )


@dataclass(frozen=True)
class LabelChange:
    """What an update did to one classify case: the label it replaced, or why it left the case alone."""

    file: Path
    name: str
    model: str
    old: tuple[str, ...]  # the labels the case expected
    new: str | None  # the model's top class; None when the case was not rewritten
    confidence: float  # the top class's score
    min_confidence: float
    unchanged: str = ""  # why a failing case was not rewritten

    @property
    def rewritten(self) -> bool:
        return self.new is not None

    @property
    def summary(self) -> str:
        if not self.rewritten:
            return f"not rewritten: {self.unchanged}"
        old = " or ".join(self.old)
        line = f"rewritten from {self.model}: label {old} -> {self.new} (confidence {self.confidence:.2f})"
        if not meets_minimum(self.confidence, self.min_confidence):
            line += f", below the case's min_confidence {self.min_confidence:.2f}, which the update keeps"
        return line

    def report(self) -> str:
        if not self.rewritten:
            return f"{self.summary}; {display_path(self.file)} left as it was for this case"
        return f"{self.summary}; written to {display_path(self.file)}\n{review_hint(self.file)}"


def rewrite_label(document: CaseDocument, verdict: CaseVerdict, model: str) -> LabelChange:
    """Replace a failing classify case's expected label with the model's top class, in ``document``."""
    case = verdict.case
    result = verdict.label
    assert result is not None, "a classify verdict carries its label result"
    spec = result.spec
    top = result.ranked[0] if result.ranked else None
    change = LabelChange(case.file, case.name, model, spec.labels, None, 0.0, spec.min_confidence)
    if top is None:
        return replace(change, unchanged=f"{model} gave no class for the image")
    name, score = top
    if name in spec.labels:
        return replace(
            change,
            confidence=score,
            unchanged=f"the top class is already {name}: lower min_confidence by hand if the model is right",
        )
    entry = document.case(case.name)
    if "labels" in entry:
        entry["labels"] = flow([name])
    else:
        entry["label"] = name
    mark_recorded(entry, model)
    return replace(change, new=name, confidence=score)
