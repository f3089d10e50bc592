"""Baselines: every suite metric and per-object IoU of a run, saved as JSON and compared against.

A baseline file (format version 1)::

    {"version": 1, "created": "...", "environment": {"ultralytics": ..., "torch": ..., "python": ...},
     "suites": {"cases/shapes-seg.yaml": {
         "model": "shapes-seg.pt", "model_sha256": "...", "task": "segment", "device": "cpu",
         "predict": {"imgsz": 256, "conf": 0.25},
         "metrics": {"box.map50_95": 0.89, ..., "per_tag.dark.mask.f1": 0.93},
         "cases": {"scene-001": {"objects": [{"class": "circle", "box_iou": 0.95, "mask_iou": 0.96}, ...],
                                 "bootstrap": {"counts": ..., "coco": ...}}}}},
     "directories": {"cases/ (shapes-seg.pt)": {"box.map50_95": 0.9, ...}}}

``directories`` holds the metrics over all case files of a folder run with the same model (where a
folder has two or more), for the record; comparisons use the suites.

Suite keys are case-file paths relative to pytest's rootdir, so a baseline travels with the repo.
A case's ``bootstrap`` is what the paired bootstrap needs of it (harness/evaluation/bootstrap.py's
CaseSample, added later in version 1: a baseline without it is compared by the point rule).
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.core.atomic import write_text_atomically
from harness.core.config import meets_minimum
from harness.core.errors import HarnessError
from harness.core.text import table
from harness.evaluation.bootstrap import Difference, paired_differences, sample_problem
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.suites import SuiteResult

BASELINE_VERSION = 1


@dataclass(frozen=True)
class Delta:
    """One number then and now; ``now`` is None when it is no longer defined (counted as a drop to 0)."""

    name: str
    baseline: float
    now: float | None

    @property
    def change(self) -> float:
        return (self.now if self.now is not None else 0.0) - self.baseline


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline file."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HarnessError(f"baseline {path}: cannot read it: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION or "suites" not in data:
            raise HarnessError(f"baseline {path}: not a version {BASELINE_VERSION} vision-harness baseline")
        return cls(path, data)

    def suite(self, key: str) -> dict[str, Any] | None:
        return self.data["suites"].get(key)

    def check_predict(self, key: str, predict: dict[str, Any]) -> None:
        """Refuse to compare runs made with different predict arguments: their numbers do not compare."""
        recorded = self.suite(key)
        if recorded is None or recorded["predict"] == predict:
            return
        differ = sorted(
            k for k in set(recorded["predict"]) | set(predict) if recorded["predict"].get(k) != predict.get(k)
        )
        raise HarnessError(
            f"baseline {self.path} recorded {key} with predict {recorded['predict']}, this run uses {predict}: "
            f"{', '.join(differ)} differ; save a new baseline with --harness-save-baseline"
        )


def suite_record(result: SuiteResult) -> dict[str, Any]:
    """The baseline entry of one judged suite."""
    return {
        "model": result.model.name,
        "model_sha256": result.model.sha256,
        "task": result.model.task,
        "device": result.model.device_used,
        "predict": dict(result.case_file.predict),
        "metrics": result.metrics.flat(),
        "cases": {
            verdict.case.name: case_record(verdict) | {"bootstrap": sample}
            for verdict, sample in zip(result.verdicts, result.metrics.samples, strict=True)
        },
    }


def case_record(verdict: CaseVerdict) -> dict[str, Any]:
    objects = [{"class": r.expected.class_name, "box_iou": r.box_iou, "mask_iou": r.mask_iou} for r in verdict.objects]
    for entry, result in zip(objects, verdict.objects, strict=True):
        if result.check_obb:  # an oriented box: its polygon IoU is the one judged
            entry["obb_iou"] = result.obb_iou
    return {"objects": objects}


def environment() -> dict[str, str]:
    # torch and Ultralytics only when a baseline is written: a warm run never imports them.
    import torch
    import ultralytics

    return {"ultralytics": ultralytics.__version__, "torch": torch.__version__, "python": platform.python_version()}


def write_baseline(
    path: Path, suites: dict[str, dict[str, Any]], directories: dict[str, dict[str, float]] | None = None
) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    document = {
        "version": BASELINE_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
        "suites": suites,
        "directories": directories or {},
    }
    write_text_atomically(path, json.dumps(document, indent=1, sort_keys=True) + "\n")


def metric_deltas(baseline: dict[str, float], now: dict[str, float]) -> list[Delta]:
    """Every baseline metric then and now, worst change first."""
    return sorted((Delta(name, value, now.get(name)) for name, value in baseline.items()), key=lambda d: d.change)


def case_deltas(recorded: dict[str, Any], verdict: CaseVerdict) -> list[Delta]:
    """Per-object IoU then and now. Objects are compared by position and must keep their class."""
    deltas = []
    for index, (then, result) in enumerate(zip(recorded["objects"], verdict.objects, strict=False)):
        if then["class"] != result.expected.class_name:
            continue  # the case was edited since the baseline; nothing comparable at this position
        for kind in ("box_iou", "mask_iou", "obb_iou"):
            if then.get(kind) is not None:  # obb_iou: only an oriented box's record has it
                label = f"objects[{index}] {result.expected.class_name} {kind.replace('_', ' ')}"
                deltas.append(Delta(label, then[kind], getattr(result, kind)))
    return deltas


def format_deltas(deltas: list[Delta], max_drop: float, *, limit: int | None = None) -> list[str]:
    """A table of deltas, worst first, each marked when it dropped more than allowed."""
    rows = []
    for delta in deltas[:limit]:
        now = "-" if delta.now is None else f"{delta.now:.4f}"
        mark = "" if meets_minimum(delta.change, -max_drop) else f"DROP > {max_drop:g}"
        rows.append([delta.name, f"{delta.baseline:.4f}", now, f"{delta.change:+.4f}", mark])
    return table(["", "baseline", "now", "change", ""], rows)


def baseline_differences(recorded: dict[str, Any], result: SuiteResult, resamples: int) -> list[Difference] | None:
    """Every baseline metric then and now with its paired bootstrap over the cases both runs judged
    (matched by name), worst change first; None when the baseline keeps no bootstrap data (older files)."""
    cases = recorded["cases"]
    now = {v.case.name: (v, sample) for v, sample in zip(result.verdicts, result.metrics.samples, strict=True)}
    names = [name for name in now if "bootstrap" in cases.get(name, {})]
    if not names:
        return None
    for name in names:
        problem = sample_problem(cases[name]["bootstrap"])
        if problem:
            raise HarnessError(
                f"baseline: suite {result.case_file.path.name}, case {name!r}: bootstrap.{problem}; "
                "write the baseline again with --harness-save-baseline"
            )
    tags = sorted({tag for name in names for tag in now[name][0].case.tags})
    positions = {tag: [i for i, name in enumerate(names) if tag in now[name][0].case.tags] for tag in tags}
    return paired_differences(
        [cases[name]["bootstrap"] for name in names],
        [now[name][1] for name in names],
        recorded["metrics"],
        result.metrics.flat(),
        resamples,
        tags=positions,
    )


def format_differences(differences: list[Difference], max_drop: float, confidence: float, limit: int = 20) -> list[str]:
    """A table of paired differences, worst first: the change, its interval, and the verdict of the
    significance rule; then what the suite can detect."""
    rows = []
    for d in differences[:limit]:
        now = "-" if d.now is None else f"{d.now:.4f}"
        found = d.interval(confidence)
        shown = "-" if found is None else f"[{found[0]:+.4f}, {found[1]:+.4f}]"
        bound = d.drop_lower_bound(confidence)
        if d.significant(max_drop, confidence):
            mark = f"DROP > {max_drop:g} ({confidence:.0%}: drop >= {bound:.4f})"
        else:
            mark = "within noise" if d.change < -max_drop else ""
        rows.append([d.name, f"{d.then:.4f}", now, f"{d.change:+.4f}", shown, mark])
    return table(["", "baseline", "now", "change", f"{confidence:.0%} interval", ""], rows)
