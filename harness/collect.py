"""pytest collectors: a case file becomes a pytest.File, each case a pytest.Item.

Setup loads the model and predicts (a broken image or model is an ERROR: the case could not be
judged); the call matches and judges (a quality problem is a FAILED case with a table, no traceback).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cases import Case, CaseFileError, load_case_file
from .errors import HarnessError
from .matching import CaseVerdict, match_objects
from .models import LoadedModel
from .predictions import Predictions
from .report import format_verdict, summarize_verdict
from .session import harness_run

CASES_KEY = re.compile(rb"^cases\s*:", re.MULTILINE)


def is_case_file(path: Path) -> bool:
    """A YAML file with a top-level ``cases:`` key; sniffed as text so broken YAML is still ours."""
    try:
        return CASES_KEY.search(path.read_bytes()) is not None
    except OSError:
        return False


class CaseFailure(HarnessError, AssertionError):
    """A case ran and the model did not find what it must find."""

    def __init__(self, verdict: CaseVerdict, model_name: str):
        self.verdict = verdict
        self.model_name = model_name
        super().__init__(summarize_verdict(verdict))


class CaseFileCollector(pytest.File):
    """One case file. A file that cannot be read yields a single error item, so other files still run."""

    def collect(self) -> Iterator[pytest.Item]:
        run = harness_run(self.config)
        settings = run.settings
        try:
            case_file = load_case_file(
                self.path, defaults=settings.thresholds, check_model=settings.model_override is None
            )
            model = settings.model_override or case_file.model or settings.default_model
            if model is None:
                raise CaseFileError(
                    self.path,
                    "no model: set it in the case file, as harness_model in the pytest ini, or with --harness-model",
                    field="model",
                )
        except CaseFileError as exc:
            yield BrokenItem.from_parent(self, name="[file]", error=exc)
            return
        for case in case_file.cases:
            if not isinstance(case, Case):
                yield BrokenItem.from_parent(self, name=case.name, error=case.error)
                continue
            item = CaseItem.from_parent(self, name=case.name, case=case, model_spec=model)
            for tag in case.tags:
                if tag not in run.registered_tags:
                    # Registering the tag first keeps --strict-markers happy with case-file tags.
                    self.config.addinivalue_line("markers", f"{tag}: tag from a vision-harness case file")
                    run.registered_tags.add(tag)
                item.add_marker(tag)
            yield item


class BrokenItem(pytest.Item):
    """Stands for a case file or a case that cannot run: it errors in setup with one line."""

    def __init__(self, *, error: CaseFileError, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        pytest.fail(str(self.error), pytrace=False)

    def runtest(self) -> None:  # pragma: no cover - setup always fails first
        raise self.error

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"


class CaseItem(pytest.Item):
    """One golden case."""

    def __init__(self, *, case: Case, model_spec: str, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        self.model_spec = model_spec
        self.model: LoadedModel | None = None
        self.predictions: Predictions | None = None

    def setup(self) -> None:
        try:
            self.model = harness_run(self.config).models.get(self.model_spec, harness_run(self.config).settings.device)
            self._check_model_fits(self.model)
            self.predictions = self.model.predict(self.case.image, self.case.predict)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)

    def _check_model_fits(self, model: LoadedModel) -> None:
        case = self.case
        if case.task and case.task != model.task:
            raise CaseFileError(
                case.file,
                f"the file says {case.task} but {model.name} is a {model.task} model",
                case=case.name,
                field="task",
            )
        known = set(model.names.values())
        for index, obj in enumerate(case.objects):
            if obj.class_name not in known:
                raise CaseFileError(
                    case.file,
                    f"{obj.class_name!r} is not a class of {model.name} ({', '.join(sorted(known))})",
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

    def runtest(self) -> None:
        assert self.model is not None and self.predictions is not None
        verdict = match_objects(self.case, self.predictions, use_masks=self.model.task == "segment")
        harness_run(self.config).verdicts[self.nodeid] = verdict
        if not verdict.passed:
            raise CaseFailure(verdict, self.model.name)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFailure):
            return format_verdict(excinfo.value.verdict, model_name=excinfo.value.model_name)
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"
