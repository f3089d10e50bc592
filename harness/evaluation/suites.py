"""Judging cases and whole suites, each once per model: shared by the pytest items and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.casefile.schema import BrokenCase, Case, CaseFile
from harness.core.errors import CaseFileError, HarnessError
from harness.core.text import listed, short_repr
from harness.core.transforms import Transform
from harness.evaluation.bootstrap_store import BootstrapStore
from harness.evaluation.label_metrics import label_suite_metrics
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.metric_table import SuiteMetrics
from harness.evaluation.metrics import suite_metrics
from harness.evaluation.models import Model, ModelPool, file_sha256
from harness.evaluation.oriented_metrics import oriented_suite_metrics
from harness.evaluation.pose_matching import pose_misfit
from harness.evaluation.task_verdicts import judge_predictions


@dataclass(frozen=True)
class SuiteResult:
    """Every case of one case file judged against one model, and the suite metrics."""

    case_file: CaseFile
    model: Model
    verdicts: tuple[CaseVerdict, ...]
    metrics: SuiteMetrics


class Judge:
    """Loads models, predicts and judges, remembering every verdict for the session."""

    def __init__(
        self, device: str | None, *, models: ModelPool | None = None, bootstrap_store: BootstrapStore | None = None
    ):
        self.device = device
        self.models = models or ModelPool(device)  # the pool says how (cache, half precision, batch size)
        self.bootstrap_store = bootstrap_store  # resampled suite metrics kept between runs
        self._verdicts: dict[tuple[str, str, str], CaseVerdict] = {}
        self._suites: dict[tuple[str, str], SuiteResult] = {}

    def model(self, spec: str) -> Model:
        return self.models.get(spec)

    def prefetch(self, cases: Iterable[Case | BrokenCase], model_spec: str) -> None:
        """Predict the images of these cases together, in batches, before any of them is judged.

        Cases that cannot run (broken, wrong pin, classes the model lacks) are left out: judging
        them raises their own error.
        """
        model = self.model(model_spec)
        images: dict[str, tuple[Case, list[tuple[Path, Transform | None]]]] = {}
        for case in cases:
            if not isinstance(case, Case) or (str(case.file), case.name, model_spec) in self._verdicts:
                continue
            try:
                check_model_pin(case, model_spec)
                check_model_fits(case, model)
            except HarnessError:
                continue
            arguments = json.dumps(dict(case.predict), sort_keys=True, default=str)
            images.setdefault(arguments, (case, []))[1].append((case.image, case.transform))
        for case, paths in images.values():
            model.predict_many(paths, case.predict)

    def verdict(self, case: Case, model_spec: str) -> CaseVerdict:
        """The case judged against the model (predicting its image if not done yet)."""
        key = (str(case.file), case.name, model_spec)
        if key not in self._verdicts:
            check_model_pin(case, model_spec)  # before the weights are unpickled, let alone run
            model = self.model(model_spec)
            check_model_fits(case, model)
            predictions = model.predict(case.image, case.predict, case.transform)
            self._verdicts[key] = judge_predictions(case, predictions, use_masks=model.task == "segment")
        return self._verdicts[key]

    def forget(self, path: Path) -> None:
        """Drop the verdicts and suite results of the case file ``path`` (it was edited); the
        predictions stay, as they depend on the image, not on the case file."""
        key = str(path)
        self._verdicts = {k: v for k, v in self._verdicts.items() if k[0] != key}
        self._suites = {k: v for k, v in self._suites.items() if k[0] != key}

    def remember(self, verdict: CaseVerdict, model_spec: str) -> None:
        """Take a verdict reached elsewhere (a pytest-xdist worker) as this judge's own."""
        self._verdicts[(str(verdict.case.file), verdict.case.name, model_spec)] = verdict

    def suite(self, case_file: CaseFile, model_spec: str) -> SuiteResult:
        """Every case of the file judged, and the suite metrics. A broken case breaks the suite."""
        key = (str(case_file.path), model_spec)
        if key not in self._suites:
            broken = [case.name for case in case_file.cases if isinstance(case, BrokenCase)]
            if broken:
                raise CaseFileError(
                    case_file.path,
                    f"suite metrics need every case, and these cannot run: {', '.join(broken)}",
                    field="metrics",
                )
            model = self.model(model_spec)
            self.prefetch(case_file.cases, model_spec)
            verdicts = tuple(self.verdict(case, model_spec) for case in case_file.cases)
            metrics = task_metrics(verdicts, model.task, bootstrap_store=self.bootstrap_store)
            self._suites[key] = SuiteResult(case_file, model, verdicts, metrics)
        return self._suites[key]


def task_metrics(
    verdicts: Sequence[CaseVerdict],
    task: str,
    samples: Callable | None = None,
    bootstrap_store: BootstrapStore | None = None,
) -> SuiteMetrics:
    """The suite metrics of verdicts of one task's model (``samples``: the cases' bootstrap data, when
    known; ``bootstrap_store``: resampled values kept between runs, for box, mask and keypoint mAP)."""
    if task == "obb":
        return oriented_suite_metrics(verdicts)
    if task == "classify":
        return label_suite_metrics(verdicts)
    return suite_metrics(verdicts, with_masks=task == "segment", samples=samples, bootstrap_store=bootstrap_store)


def check_model_pin(case: Case, model_spec: str) -> None:
    """Refuse a model file whose sha256 differs from the one the case file pins (when it is that file)."""
    if not case.model_sha256 or model_spec != case.model:
        return  # no pin, or --harness-model runs a candidate on purpose
    actual = file_sha256(model_spec)
    if actual != case.model_sha256:
        raise CaseFileError(
            case.file,
            f"{Path(model_spec).name} has sha256 {actual}, but the file pins {case.model_sha256}: not the "
            "model these cases were written for (update the pin if the change is intended)",
            case=case.name,
            field="model.sha256",
        )


def check_model_fits(case: Case, model: Model) -> None:
    """Raise a CaseFileError when the case asks for something the model cannot give."""

    if case.task and case.task != model.task:
        raise CaseFileError(
            case.file,
            f"the file says {case.task} but {model.name} is a {model.task} model",
            case=case.name,
            field="task",
        )
    known = set(model.names.values())
    if (model.task == "classify") != (case.label is not None):
        raise CaseFileError(
            case.file,
            f"{model.name} is a {model.task} model: "
            + (
                "a classify case needs `task: classify` and a `label:`"
                if case.label is None
                else "it predicts no label"
            ),
            case=case.name,
            field="task",
        )
    if case.label is not None:
        for label in case.label.labels:
            if label not in known:
                raise CaseFileError(
                    case.file,
                    f"{short_repr(label)} is not a class of {model.name} ({listed(sorted(known))})",
                    case=case.name,
                    field="label",
                )
    for index, obj in enumerate(case.objects):
        if obj.class_name not in known:
            raise CaseFileError(
                case.file,
                f"{short_repr(obj.class_name)} is not a class of {model.name} ({listed(sorted(known))})",
                case=case.name,
                field=f"objects[{index}].class",
            )
        if obj.mask is not None and model.task == "detect":
            raise CaseFileError(
                case.file,
                f"{model.name} is a detect model and predicts no masks",
                case=case.name,
                field=f"objects[{index}].mask",
            )
    misfit = pose_misfit(case, model.name, model.task, model.kpt_shape)
    if misfit is not None:
        raise CaseFileError(case.file, misfit[1], case=case.name, field=misfit[0])
