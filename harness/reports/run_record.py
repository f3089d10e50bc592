"""The run record: every number of a run as one JSON document (schema version 1).

Written by ``--harness-json``, embedded in the HTML report, and read by the CI summary. The schema
is ``harness/run-record.schema.json`` (JSON Schema 2020-12), described field by field in
docs/json-report.md. Within schema version 1 fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness import __version__
from harness.casefile.schema import CaseFile
from harness.core.atomic import write_text_atomically
from harness.core.paths import suite_key
from harness.evaluation.gates import decide_gate, detectable
from harness.evaluation.label_metrics import confusion
from harness.evaluation.label_result import LabelResult
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.metric_table import SuiteMetrics
from harness.evaluation.suites import SuiteResult
from harness.evaluation.verdict_text import summarize_verdict
from harness.reports.pose_record import object_pose_fields, prediction_pose_fields
from harness.reports.run_outputs import RunOutputs
from harness.robustness.parity import ParityResult, summarize_parity

if TYPE_CHECKING:
    from harness.evaluation.models import Model

SCHEMA_ID = "vision-harness/run-record"
SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("run-record.schema.json")


@dataclass(frozen=True)
class Invocation:
    """How the run was started, as the record states it."""

    args: list[str]
    rootdir: Path
    pytest_version: str
    model_override: str | None = None  # --harness-model
    device_requested: str | None = None


class JudgedRun(Protocol):
    """What the record needs of a finished run (the plugin's ``HarnessRun`` is one)."""

    verdicts: dict[str, CaseVerdict]  # by node id
    case_files: dict[str, tuple[CaseFile, str]]  # suite key -> (file, model spec)
    parity: dict[str, ParityResult]  # by node id

    @property
    def complete_suites(self) -> dict[str, SuiteResult | str]: ...

    @property
    def directory_metrics(self) -> dict[str, SuiteMetrics]: ...

    def models_used(self) -> list[Model]: ...

    def intervals(self, metrics: SuiteMetrics, *, needed: bool = True) -> dict[str, tuple[float, float]]: ...

    @property
    def settings(self) -> Any: ...  # bootstrap (0: off), resamples, confidence, interval_confidence


def run_record(run: JudgedRun, outputs: RunOutputs, invocation: Invocation, *, exit_status: int) -> dict[str, Any]:
    """The JSON document of a finished session."""
    root = invocation.rootdir
    models = sorted(run.models_used(), key=lambda m: m.spec) if run.verdicts else []
    cases = [
        _case(nodeid, info, outputs, run.verdicts.get(nodeid), root)
        for nodeid, info in outputs.items.items()
        if info.kind == "case" and nodeid in outputs.outcomes
    ]
    suites = [
        _suite(key, case_file, model_spec, run.complete_suites.get(key), run.settings)
        for key, (case_file, model_spec) in run.case_files.items()
    ]
    counts = {outcome: 0 for outcome in ("passed", "failed", "error", "skipped")}
    for nodeid, outcome in outputs.outcomes.items():
        if nodeid in outputs.items and outcome.outcome in counts:  # harness items only, not other tests
            counts[outcome.outcome] += 1
    case_counts = {outcome: sum(case["outcome"] == outcome for case in cases) for outcome in counts}
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "exit_status": exit_status,
        "invocation": {
            "args": invocation.args,
            "rootdir": str(root),
            "model_override": invocation.model_override,
            "device_requested": invocation.device_requested,
        },
        "environment": {
            "vision_harness": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "pytest": invocation.pytest_version,
            **_library_versions(),
        },
        "models": [_model(model) for model in models],
        "totals": {"items": counts, "cases": case_counts},
        "suites": suites,
        "directories": [
            {
                "key": key,
                "metrics": _numbers(metrics.flat()),
                "intervals": _intervals(run.intervals(metrics, needed=False)),
            }
            for key, metrics in run.directory_metrics.items()
        ],
        "cases": cases,
        "parity": [
            _parity(nodeid, info, outputs, run.parity.get(nodeid))
            for nodeid, info in outputs.items.items()
            if info.kind == "parity" and nodeid in outputs.outcomes
        ],
    }


def _suite(key: str, case_file: CaseFile, model_spec: str, result: SuiteResult | str | None, settings: Any) -> dict:
    """One case file's entry: its metrics, intervals and gates when every case ran, else why not."""
    suite = {
        "key": key,
        "model": Path(model_spec).name,
        "task": case_file.task,
        "predict": _plain(dict(case_file.predict)),
        "cases": len(case_file.cases),
        "complete": isinstance(result, SuiteResult),
        "incomplete_reason": result if isinstance(result, str) else None,
        "metrics": {},
        "gates": [],
        "bootstrap": None,
        "intervals": {},
        "detectable": {},
    }
    if not isinstance(result, SuiteResult):
        return suite
    suite["task"] = result.model.task
    suite["metrics"] = _numbers(result.metrics.flat())
    if result.model.task == "classify":  # rows: true class, columns: the predicted (top-1) class
        classes, matrix = confusion(result.verdicts)
        suite["confusion"] = {"classes": classes, "matrix": matrix}
    suite |= _bootstrap_fields(settings, result.metrics, case_file)
    for gate in case_file.gates:
        verdict = decide_gate(result.metrics, gate, settings.confidence, settings.resamples)
        suite["gates"].append(
            {
                "metric": gate.path,
                "minimum": gate.minimum,
                "value": _number(verdict.value),
                "passed": verdict.passed,
                "confidence": verdict.confidence,
                "upper_bound": _number(verdict.bound),
            }
        )
    return suite


def _model(model: Model) -> dict[str, Any]:
    return {
        "path": model.spec,
        "name": model.name,
        "sha256": model.sha256,
        "task": model.task,
        "device": model.device_used,
        "classes": [model.names[k] for k in sorted(model.names)],
        "images_predicted": model.images_predicted,
        "images_from_cache": model.images_from_cache,
        "seconds_predicting": round(model.seconds_predicting, 3),
    }


def _bootstrap_fields(settings: Any, metrics: SuiteMetrics, case_file: CaseFile) -> dict[str, Any]:
    """A suite's intervals and what it can detect (none with --harness-bootstrap 0)."""
    if settings.bootstrap == 0:
        return {}
    confidence = settings.interval_confidence
    # Headline metrics, overall and per class; the area ranges and tags only where a gate or the
    # baseline comparison resampled them (they would cost several times the rest: docs/gates.md).
    resampled = metrics.bootstrap(settings.resamples)
    return {
        "bootstrap": resampled.description(confidence),
        "intervals": _intervals(resampled.intervals(confidence)),
        "detectable": _numbers(detectable(metrics, settings.resamples, confidence, case_file.gates)),
    }


def _intervals(intervals: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    return {key: [float(low), float(high)] for key, (low, high) in sorted(intervals.items())}


def _case(nodeid: str, info, outputs: RunOutputs, verdict: CaseVerdict | None, root: Path) -> dict[str, Any]:
    pictures = outputs.pictures.get(nodeid)
    case = info.case
    record: dict[str, Any] = {
        **_item_fields(nodeid, info, outputs),
        "image": suite_key(root, case.image) if case else None,
        # The judged image's: a search's verdict may be of a scaled, cropped or padded copy.
        "image_size": list((verdict.case if verdict is not None else case).image_size) if case else None,
        "transform": _transform_id(verdict.case if verdict is not None else case),
        "tags": list(case.tags) if case else [],
        "model": Path(info.model_spec).name if info.model_spec else None,
        "overlay": suite_key(root, pictures.overlay) if pictures and pictures.overlay else None,
        "verdict": None,
    }
    if verdict is not None:
        record["verdict"] = verdict_record(verdict)
    return record


def _item_fields(nodeid: str, info, outputs: RunOutputs) -> dict[str, Any]:
    """What every item's record starts with: where it is, and how it ended."""
    outcome = outputs.outcomes[nodeid]
    return {
        "node_id": nodeid,
        "suite": info.suite,
        "name": info.name,
        "outcome": outcome.outcome,
        "message": outcome.message or None,
    }


def _transform_id(case) -> str | None:
    return case.transform.id if case is not None and case.transform is not None else None


def _parity(nodeid: str, info, outputs: RunOutputs, result: ParityResult | None) -> dict[str, Any]:
    """An export parity item (``CASE[parity]``): its outcome and, when it ran, the figures."""
    record: dict[str, Any] = {
        **_item_fields(nodeid, info, outputs),
        "model": Path(info.model_spec).name if info.model_spec else None,
        "result": None,
    }
    if result is not None:
        record["result"] = {
            "compare_model": result.compare_model,
            "min_iou": result.compare.iou,
            "conf_tolerance": result.compare.conf,
            "conf_threshold": result.conf_threshold,
            "passed": result.passed,
            "summary": summarize_parity(result),
            "pairs": result.pairs,
            "worst_iou": _number(result.worst_iou),
            "max_conf_difference": _number(result.max_conf_difference),
            "unmatched": result.unmatched,
            "borderline": len(result.borderline),
        }
    return record


def verdict_record(verdict: CaseVerdict) -> dict[str, Any]:
    predictions = verdict.predictions
    matched = {
        result.prediction: index for index, result in enumerate(verdict.objects) if result.prediction is not None
    }
    objects = []
    for index, result in enumerate(verdict.objects):
        obj = result.expected
        objects.append(
            {
                "index": index,
                "class": obj.class_name,
                "box": _box(obj.box),
                "crowd": obj.crowd,
                "has_mask": obj.mask is not None,
                "min_box_iou": obj.box_iou,
                "min_mask_iou": obj.mask_iou if result.check_mask else None,
                "prediction": result.prediction,
                "box_iou": _number(result.box_iou),
                "mask_iou": _number(result.mask_iou),
                "confidence": _number(result.confidence),
                "problems": result.problems,
                "passed": result.passed,
            }
            | object_pose_fields(verdict, result)
        )
        if result.check_obb:  # task obb: the oriented box and its IoU, judged instead of the box's
            objects[-1] |= {"obb": list(obj.obb), "min_obb_iou": obj.obb_iou, "obb_iou": _number(result.obb_iou)}
    found = []
    for j in range(len(predictions)):
        status = "matched" if j in matched else "ignored" if j in verdict.ignored else "extra"
        found.append(
            {
                "index": j,
                "class": predictions.class_names[j],
                "box": _box(predictions.boxes[j]),
                "confidence": _number(predictions.scores[j]),
                "status": status,
                "object": matched.get(j),
            }
            | prediction_pose_fields(verdict, j)
        )
        if predictions.obb is not None:
            found[-1]["obb"] = [float(v) for v in predictions.oriented_corners()[j]]
    return {
        "passed": verdict.passed,
        "summary": summarize_verdict(verdict),
        "worst_iou": _number(verdict.worst_iou),
        "max_extra": verdict.case.max_extra,
        "extras": len(verdict.extras),
        "classes": sorted({o.class_name for o in verdict.case.objects} | set(predictions.class_names)),
        "objects": objects,
        "predictions": found,
        **({"label": _label_record(verdict.label)} if verdict.label is not None else {}),
    }


def _label_record(label: LabelResult) -> dict[str, Any]:
    """A classify case's verdict on its label, for the record."""
    return {
        "labels": list(label.spec.labels),
        "min_confidence": label.spec.min_confidence,
        "top_k": label.spec.top_k,
        "ranked": [[name, _number(score)] for name, score in label.ranked],
        "rank": label.rank,
        "confidence": _number(label.confidence),
        "problems": label.problems,
    }


OUTCOME_ORDER = {"error": 0, "failed": 1, "skipped": 2, "passed": 3}


def severity(case: dict[str, Any]) -> tuple[int, float]:
    """A sort key for case records, worst first: errors, failures, then the lowest worst IoU."""
    iou = case["verdict"]["worst_iou"] if case["verdict"] else None
    return OUTCOME_ORDER.get(case["outcome"], 4), 2.0 if iou is None else iou


def write_json(record: dict[str, Any], path: Path) -> None:
    """Write ``record`` to ``path`` (atomically: readers never see half a file)."""
    write_text_atomically(path, json.dumps(record, indent=1, allow_nan=False) + "\n")


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the run record."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that decide the numbers (None for one not installed)."""

    out: dict[str, str | None] = {}
    for name in ("ultralytics", "torch", "numpy", "hotcoco", "pycocotools"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _number(value: float | None) -> float | None:
    """A float for JSON: None stays None, and so does NaN (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _numbers(values: dict[str, float]) -> dict[str, float | None]:
    return {key: _number(value) for key, value in sorted(values.items())}


def _box(box) -> list[float]:
    return [round(float(v), 3) for v in box]


def _plain(value: Any) -> Any:
    """Predict arguments as JSON values (a tuple becomes a list, anything else its text)."""
    return json.loads(json.dumps(value, default=str))
