"""The pytest items of a case file: a case, a transformed variant, a suite gate, a baseline check,
export parity, a search, and the item standing for something broken.

Setup loads the model and predicts (a broken image or model is an ERROR: the case could not be
judged); the call matches and judges (a quality problem is a FAILED case with a table, no traceback).
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from harness.casefile.discover import case_line
from harness.casefile.schema import Case
from harness.core.config import CompareTo, Gate, meets_minimum
from harness.core.errors import CaseFileError, HarnessError
from harness.core.paths import suite_key
from harness.evaluation.baseline import (
    baseline_differences,
    case_deltas,
    format_deltas,
    format_differences,
    metric_deltas,
)
from harness.evaluation.gates import decide_gate
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.verdict_text import format_gate_failure, format_verdict, summarize_verdict
from harness.golden.review import skip_reason
from harness.pytest_plugin.report_hooks import run_outputs
from harness.pytest_plugin.session import HarnessRun, harness_run
from harness.pytest_plugin.update import updater
from harness.reports.picture_cache import PictureCache
from harness.robustness.parity import format_parity, judge_parity, summarize_parity
from harness.robustness.search import search_case, search_user_properties


class CaseFailure(HarnessError, AssertionError):
    """A case ran and the model did not find what it must find, or got worse than the baseline."""

    def __init__(self, report: str, summary: str):
        self.report = report
        super().__init__(summary)


def setup_error(exc: HarnessError) -> NoReturn:
    """Fail a setup with ``exc``'s one line. Raised from None: ``pytest.fail`` inside an ``except`` block
    would print the harness error a second time, after "During handling of the above exception"."""
    raise pytest.fail.Exception(str(exc), pytrace=False) from None


class BrokenItem(pytest.Item):
    """Stands for a case file or a case that cannot run: it errors in setup with one line."""

    harness_kind = "broken"

    def __init__(self, *, error: CaseFileError, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        pytest.fail(str(self.error), pytrace=False)

    def runtest(self) -> None:  # pragma: no cover - setup always fails first
        raise self.error

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"


class HarnessItem(pytest.Item):
    """Shared by case and suite items: harness errors and failures print as text, not tracebacks.

    ``harness_kind`` says what an item is (``case``, ``search``, ``parity``, ``suite``), so that the report
    hooks, the inventory and ``--harness-update`` ask an item instead of switching on its class."""

    harness_kind = "suite"

    @property
    def run(self) -> HarnessRun:
        return harness_run(self.config)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFailure):
            return excinfo.value.report
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        # An item of a case points at the case's own line (a skip's location too); a suite check at none.
        case = getattr(self, "case", None)
        line = case_line(self.path, case.variant_of or case.name) if case is not None else None
        return self.path, line, self.nodeid.split("::", 1)[-1]

    def _draw(self, verdict: CaseVerdict, *, failing: bool) -> str | None:
        """The overlay and report pictures of ``verdict`` (see harness/reports/run_outputs.py), from the picture
        cache when an earlier run drew the same; returns the overlay's line for a failure message."""

        outputs = run_outputs(self.config)
        if outputs is None:
            return None
        folder = self.run.cache_folder
        cache = PictureCache(folder / "pictures") if folder is not None else None
        suite = suite_key(self.config.rootpath, verdict.case.file)
        return outputs.case_judged(self.nodeid, suite, verdict, failing=failing, cache=cache)


class CaseItem(HarnessItem):
    """One golden case, or one transformed variant of it."""

    harness_kind = "case"

    def __init__(self, *, case: Case, model_spec: str, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        self.model_spec = model_spec
        self.verdict: CaseVerdict | None = None

    def setup(self) -> None:
        if self.case.awaiting_review:
            # Skipped, not passed: a model judged against its own output always passes.

            raise pytest.skip.Exception(skip_reason(self.case), _use_item_location=True)
        try:
            key = suite_key(self.config.rootpath, self.case.file)
            if self.run.baseline is not None:
                self.run.baseline.check_predict(key, dict(self.case.predict))
            self.run.prefetch(self.case, self.model_spec)
            self.verdict = self.run.judge.verdict(self.case, self.model_spec)
        except HarnessError as exc:
            setup_error(exc)

    def runtest(self) -> None:
        verdict = self.verdict
        assert verdict is not None
        self.run.verdicts[self.nodeid] = verdict
        if not verdict.passed and self.config.getoption("harness_update") and self.case.transform is None:
            self._update(verdict)  # a variant's expectations follow from its case's: nothing of its own to rewrite
        drops = self._baseline_drops(verdict)
        overlay = self._draw(verdict, failing=not verdict.passed or bool(drops))
        if not verdict.passed or drops:
            model = self.run.judge.model(self.model_spec)
            report = format_verdict(verdict, model_name=model.name)
            summary = summarize_verdict(verdict) if not verdict.passed else ""
            if drops:
                max_drop = self.run.settings.max_drop
                report += f"\nIoU dropped more than {max_drop:g} since the baseline:\n"
                report += "\n".join(format_deltas(drops, max_drop))
                summary = ", ".join(p for p in (summary, f"{len(drops)} IoU drops vs baseline") if p)
            if overlay:
                report += "\n" + overlay
            raise CaseFailure(report, summary)

    def _update(self, verdict: CaseVerdict) -> None:
        """--harness-update: write the model's predictions as the new expectations, then fail."""

        change = updater(self.config).update(self)
        model = self.run.judge.model(self.model_spec)
        summary = f"{summarize_verdict(verdict)}; {change.summary}"
        report = format_verdict(verdict, model_name=model.name).split("\n", 1)[1]
        raise CaseFailure(f"{summary}\n{report}\n{change.report()}", summary)

    def _baseline_drops(self, verdict: CaseVerdict):
        baseline = self.run.baseline
        suite = baseline.suite(suite_key(self.config.rootpath, self.case.file)) if baseline else None
        recorded = suite["cases"].get(self.case.name) if suite else None
        if recorded is None:
            return []

        return [d for d in case_deltas(recorded, verdict) if not meets_minimum(d.change, -self.run.settings.max_drop)]


class _SuiteItem(HarnessItem):
    def setup(self) -> None:
        parent = self.parent  # the SuiteCollector
        try:
            self.result = self.run.judge.suite(parent.case_file, parent.model_spec)
        except HarnessError as exc:
            setup_error(exc)


class GateItem(_SuiteItem):
    """A minimum for one suite metric, e.g. ``cases/x.yaml::suite::mask.map50_95``.

    The point rule fails a metric below its minimum; with a confidence (the file's
    ``metrics.confidence``, else --harness-confidence) it fails only when the metric is below the
    minimum with that confidence: the one-sided upper bound of its bootstrap is under the minimum."""

    def __init__(self, *, gate: Gate, **kwargs):
        super().__init__(**kwargs)
        self.gate = gate

    def runtest(self) -> None:
        settings = self.run.settings
        verdict = decide_gate(self.result.metrics, self.gate, settings.confidence, settings.resamples)
        if verdict.passed:
            return
        report = format_gate_failure(self.result, self.gate, verdict.value)
        if verdict.confidence is not None and verdict.value is not None:
            note = (
                "undefined in most resamples: point rule" if verdict.bound is None else f"at most {verdict.bound:.4f}"
            )
            report += f"\n{verdict.confidence:.0%} one-sided bound of {self.gate.path}: {note}"
        raise CaseFailure(report, report.splitlines()[0])


class BaselineItem(_SuiteItem):
    """Every suite metric compared with the baseline: fails when one dropped more than allowed (the
    point rule), or, with --harness-confidence, more than allowed with that confidence (paired bootstrap)."""

    def runtest(self) -> None:
        run = self.run
        key = suite_key(self.config.rootpath, self.result.case_file.path)
        run.baseline.check_predict(key, dict(self.result.case_file.predict))
        recorded = run.baseline.suite(key)
        max_drop, confidence = run.settings.max_drop, run.settings.confidence
        header = f"{key}: model {self.result.model.name} against baseline {run.baseline.path}"
        if confidence is not None:
            try:
                differences = baseline_differences(recorded, self.result, run.settings.resamples)
            except HarnessError as exc:
                raise HarnessError(str(exc).replace("baseline:", f"baseline {run.baseline.path}:", 1)) from None
            if differences is not None:
                dropped = [d for d in differences if d.significant(max_drop, confidence)]
                if dropped:
                    summary = f"{len(dropped)} suite metrics dropped more than {max_drop:g} with {confidence:.0%} "
                    summary += f"confidence (worst {dropped[0].name} {dropped[0].change:+.4f})"
                    lines = [summary, header, *format_differences(differences, max_drop, confidence)]
                    raise CaseFailure("\n".join(lines), summary)
                return
            note = (
                f"baseline {run.baseline.path} keeps no per-case bootstrap data for {key} (an older file): compared "
                "by the point rule; write it again with --harness-save-baseline"
            )
            run.notes.append(note)
            header += f"\nnote: {note}"
        deltas = metric_deltas(recorded["metrics"], self.result.metrics.flat())
        dropped = [d for d in deltas if not meets_minimum(d.change, -max_drop)]
        if dropped:
            summary = f"{len(dropped)} suite metrics dropped more than {max_drop:g} (worst {dropped[0].name} "
            summary += f"{dropped[0].change:+.4f})"
            lines = [summary, header]
            raise CaseFailure("\n".join(lines + format_deltas(deltas, max_drop, limit=20)), summary)


class ParityItem(HarnessItem):
    """``CASE[parity]``: the case's image predicted by the model and by its ``compare_to`` model (an
    export of the same weights), whose predictions must match one-to-one (see harness/robustness/parity.py).

    It needs no expected objects, so it runs for cases that wait for review too."""

    harness_kind = "parity"

    def __init__(self, *, case: Case, model_spec: str, compare: CompareTo, skip: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        self.model_spec = model_spec
        self.compare = compare
        self.compare_spec = None if skip else compare.model  # what the session predicts ahead for it
        self.skip = skip
        self.result = None  # the ParityResult, once set up

    def setup(self) -> None:
        if self.skip:
            raise pytest.skip.Exception(self.skip, _use_item_location=True)

        try:
            self.run.prefetch(self.case, self.model_spec)
            self.run.prefetch(self.case, self.compare.model)
            self.result = judge_parity(self.run.judge, self.case, self.model_spec, self.compare)
        except HarnessError as exc:
            setup_error(exc)

    def runtest(self) -> None:
        self.run.parity[self.nodeid] = self.result
        if not self.result.passed:
            raise CaseFailure(format_parity(self.result), summarize_parity(self.result))


class SearchItem(HarnessItem):
    """``CASE[search]``: the smallest perturbation within the case's ``search:`` ranges that breaks it
    (harness/robustness/search.py). Setup searches (a broken image or model is an ERROR); the call fails with the
    smallest break, its variant's table and overlay, or passes."""

    harness_kind = "search"

    def __init__(self, *, case: Case, model_spec: str, **kwargs):
        super().__init__(**kwargs)
        self.case = case  # the case searched, as collected
        self.model_spec = model_spec
        self.result = None

    def setup(self) -> None:
        if self.case.awaiting_review:
            raise pytest.skip.Exception(skip_reason(self.case), _use_item_location=True)

        try:
            self.run.prefetch(self.case, self.model_spec)  # the case's own image is the search's identity
            self.result = search_case(
                self.run.judge, self.case, self.model_spec, examples=self.run.settings.search_examples
            )
        except HarnessError as exc:
            setup_error(exc)

    def runtest(self) -> None:
        result = self.result
        assert result is not None
        verdict = result.verdict
        self.run.verdicts[self.nodeid] = verdict  # the smallest break, or the variant that came closest
        self.user_properties.extend(search_user_properties(result))
        overlay = self._draw(verdict, failing=result.broke)
        if result.broke:
            model = self.run.judge.model(self.model_spec)
            report = f"{result.headline()}\n{format_verdict(verdict, model_name=model.name)}"
            if overlay:
                report += "\n" + overlay
            point = result.spec.describe(result.exploration.point)
            raise CaseFailure(report, f"breaks at {point}: {summarize_verdict(verdict)}")
