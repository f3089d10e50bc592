"""``pytest --harness-update``: rewrite the expectations of the selected failing cases from the model.

Learnt from pytest-regressions' ``--force-regen``: an updated case is written and still fails, so a
CI run never passes by updating itself. Each case file is written once, atomically, when its first
failing case runs, with every selected failing case of the file; the rewritten cases are marked
``recorded: {model, reviewed: false}`` and are skipped until a person has checked them.

What a person wrote stays: comments, key order, tags and thresholds (per object too, for objects the
model still finds); crowd regions are kept as they are. Only ``objects`` (boxes, masks, keypoints or
oriented boxes) and ``recorded`` change; a classify case's label is rewritten by label_update.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.casefile.edit import CaseDocument, object_entry
from harness.core.errors import HarnessError, display_path
from harness.core.text import count_cases, format_box
from harness.evaluation.task_text import format_oriented_box
from harness.golden.record import predicted_objects
from harness.pytest_plugin.label_update import LabelChange, mark_recorded, review_hint, rewrite_label

if TYPE_CHECKING:
    from harness.casefile.schema import ExpectedObject
    from harness.evaluation.matching import CaseVerdict, ObjectResult
    from harness.evaluation.predictions import Predictions


@dataclass(frozen=True)
class CaseChange:
    """What an update did to one case's expectations."""

    file: Path
    name: str
    model: str
    kept: tuple[str, ...]  # one line per expected object the model still finds: how far it moved
    removed: tuple[str, ...]
    added: tuple[str, ...]
    lowest_iou: float | None = None  # of a kept object's new expectation with its old one
    rewritten: bool = True  # a failing case with objects always changes

    @property
    def summary(self) -> str:
        lowest = "" if self.lowest_iou is None else f" (lowest IoU with the old {self.lowest_iou:.3f})"
        counts = f"{len(self.added)} added, {len(self.removed)} removed, {len(self.kept)} moved"
        return f"rewritten from {self.model}: {counts}{lowest}"

    def report(self) -> str:
        lines = [f"{self.summary}; written to {display_path(self.file)}"]
        lines += [f"  removed  {line}" for line in self.removed]
        lines += [f"  added    {line}" for line in self.added]
        lines += [f"  moved    {line}" for line in self.kept]
        lines.append(review_hint(self.file))
        return "\n".join(lines)


@dataclass
class Updater:
    """The update state of one session: which cases were selected, what each file's update did."""

    selected: dict[Path, list[pytest.Item]] = field(default_factory=dict)
    changes: dict[str, CaseChange | LabelChange] = field(default_factory=dict)  # by node id
    failures: dict[Path, HarnessError] = field(default_factory=dict)  # files that could not be written
    written: set[Path] = field(default_factory=set)

    def select(self, items: Sequence[pytest.Item]) -> None:
        """Remember the case items pytest will run (after -k, -m and node-id selection)."""

        for item in items:
            # A transformed variant's expectations are its case's, moved: only the case itself is rewritten.
            if getattr(item, "harness_kind", None) == "case" and item.case.transform is None:
                self.selected.setdefault(item.case.file, []).append(item)

    def update(self, item: pytest.Item) -> CaseChange | LabelChange:
        """Rewrite ``item``'s case file (once per file) and return what changed for this case."""
        path = item.case.file
        if path not in self.written and path not in self.failures:
            try:
                self._rewrite(path, item)
                self.written.add(path)
            except HarnessError as exc:
                self.failures[path] = exc
        if path in self.failures:
            raise HarnessError(f"--harness-update could not write {display_path(path)}: {self.failures[path]}")
        if item.nodeid not in self.changes:  # it passed when its file was written, and fails now
            raise HarnessError(f"--harness-update wrote {display_path(path)} before this case failed; run it again")
        return self.changes[item.nodeid]

    def _rewrite(self, path: Path, current: pytest.Item) -> None:
        run = current.run
        failing: list[tuple[pytest.Item, CaseVerdict]] = []
        for item in self.selected.get(path, [current]):
            if item.case.awaiting_review:
                continue
            try:
                verdict = run.judge.verdict(item.case, item.model_spec)
            except HarnessError:
                continue  # an ERROR case is reported as such; there is nothing to update it from
            if not verdict.passed:
                failing.append((item, verdict))
        document = CaseDocument.load(path)
        changes = {}
        for item, verdict in failing:
            model = run.judge.model(item.model_spec).name
            changes[item.nodeid] = rewrite_case(document, verdict, model)
        # The check that the new text loads opens no image the collection refused as outside the root.
        root = None if run.settings.allow_outside_root else current.config.rootpath
        rewritten = [change.name for change in changes.values() if change.rewritten]
        if rewritten:  # a classify case failing on min_confidence alone is left as it was
            document.save(changed=rewritten, root=root)
        self.changes.update(changes)

    def summary_lines(self) -> list[str]:
        lines = []
        by_file: dict[Path, list[str]] = {}
        for change in self.changes.values():
            if not change.rewritten:
                continue
            by_file.setdefault(change.file, []).append(change.name)
        for path, names in by_file.items():
            lines.append(
                f"updated {display_path(path)}: {count_cases(len(names))} rewritten ({', '.join(names)}), "
                f"not reviewed: check them with `vision-harness review {display_path(path)}`"
            )
        for path, error in self.failures.items():
            lines.append(f"not updated {display_path(path)}: {error}")
        return lines


UPDATE_KEY = pytest.StashKey[Updater]()


def updater(config: pytest.Config) -> Updater:
    if UPDATE_KEY not in config.stash:
        config.stash[UPDATE_KEY] = Updater()
    return config.stash[UPDATE_KEY]


def rewrite_case(document: CaseDocument, verdict: CaseVerdict, model: str) -> CaseChange | LabelChange:
    """Replace one case's expected objects with the model's predictions, in place in ``document``.

    An object the model still finds keeps its entry (comments, per-object thresholds) with a new box
    and mask, keypoints or oriented box; a missed one is removed; an unmatched prediction is added.
    Crowd regions stay. A classify case gets the model's top class as its label instead.
    """
    if verdict.label is not None:
        return rewrite_label(document, verdict, model)
    case = verdict.case
    entry = document.case(case.name)
    objects = entry["objects"]
    predictions = verdict.predictions
    kept, removed, added = [], [], []
    gone, ious = [], []
    for index, result in enumerate(verdict.objects):
        expected = result.expected
        if expected.crowd:
            continue
        if result.prediction is None:
            removed.append(f"{expected.class_name} {_expected_shape(expected)} (not found)")
            gone.append(index)
            continue
        line, object_ious = _move(objects[index], result, predictions)
        kept.append(line)
        ious += object_ious
    for index in reversed(gone):
        del objects[index]
    for j in verdict.extras:
        fresh = predicted_objects(predictions, [j])[0]
        objects.append(object_entry(fresh))
        added.append(f"{fresh['class']} {_predicted_shape(fresh)} conf {predictions.scores[j]:.2f}")
    if added and objects.fa.flow_style():
        objects.fa.set_block_style()  # `objects: []` grew objects: write them one per line
    mark_recorded(entry, model)
    lowest = min(ious) if ious else None
    return CaseChange(case.file, case.name, model, tuple(kept), tuple(removed), tuple(added), lowest)


# What an update writes from a prediction; an expected object's other keys (thresholds, area) stay.
GEOMETRY_KEYS = ("box", "mask", "keypoints", "obb")


def _move(raw: Any, result: ObjectResult, predictions: Predictions) -> tuple[str, list[float]]:
    """Give the expected object ``raw`` its matched prediction's geometry; the line saying how far it
    moved and its IoUs with the old expectation."""
    fresh = predicted_objects(predictions, [result.prediction])[0]
    styled = object_entry(fresh)  # the same encoder as `vision-harness new`: corners, RLE, [x, y, v]
    for key in GEOMETRY_KEYS:
        if key in styled:
            raw[key] = styled[key]
    if result.check_obb:
        moved, ious = f"obb IoU {result.obb_iou:.3f}", [result.obb_iou]
    else:
        moved, ious = f"box IoU {result.box_iou:.3f}", [result.box_iou]
    if result.mask_iou is not None:
        moved += f", mask IoU {result.mask_iou:.3f}"
        ious.append(result.mask_iou)
    change = f"{_expected_shape(result.expected)} -> {_predicted_shape(fresh)}"
    return f"{result.expected.class_name} {change} ({moved} to the old)", ious


def _expected_shape(expected: ExpectedObject) -> str:
    return format_box(expected.box) if expected.obb is None else format_oriented_box(expected.obb)


def _predicted_shape(fresh: dict[str, Any]) -> str:
    """A recorded prediction's box, or its oriented box as centre, size and angle."""
    if "obb" in fresh:
        return format_oriented_box([v for point in fresh["obb"] for v in point])
    return format_box(fresh["box"])
