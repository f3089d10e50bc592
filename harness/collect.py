"""pytest collectors: a case file becomes a pytest.File, each case a pytest.Item, and the file's
suite checks (metric gates, baseline comparison) items under ``FILE::suite``.

Setup loads the model and predicts (a broken image or model is an ERROR: the case could not be
judged); the call matches and judges (a quality problem is a FAILED case with a table, no traceback).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from .cases import SUITE_ITEM, BrokenCase, Case, CaseFile, CaseFileError, load_case_file
from .config import CompareTo, Gate
from .errors import HarnessError
from .inventory import remember_case_file
from .matching import CaseVerdict
from .report import format_gate_failure, format_verdict, summarize_verdict
from .session import HarnessRun, harness_run

CASES_KEY = re.compile(rb"^cases\s*:", re.MULTILINE)
ROBUSTNESS_MARKER = "robustness"  # on every transformed variant: `-m "not robustness"` runs the plain cases only


def is_case_file(path: Path) -> bool:
    """A YAML file with a top-level ``cases:`` key; sniffed as text so broken YAML is still ours."""
    try:
        return CASES_KEY.search(path.read_bytes()) is not None
    except OSError:
        return False


def suite_key(config: pytest.Config, path: Path) -> str:
    """A case file's name in baselines: its path relative to pytest's rootdir."""
    return _relative_key(str(config.rootpath), str(path))


@functools.lru_cache(maxsize=4096)
def _relative_key(root: str, path: str) -> str:
    # Asked several times per item; resolving paths means system calls, so once per file is enough.
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def case_line(path: Path, name: str) -> int:
    """The 0-based line of ``name: NAME`` in a case file (0 where it cannot be found)."""
    try:
        stat = path.stat()
    except OSError:
        return 0
    return _case_lines(str(path), stat.st_mtime_ns, stat.st_size).get(name, 0)


_NAME_LINE = re.compile(rb"^\s*-?\s*name:\s*['\"]?([^'\"#\s]+)['\"]?\s*(#.*)?$", re.MULTILINE)


@functools.lru_cache(maxsize=256)
def _case_lines(path: str, mtime_ns: int, size: int) -> dict[str, int]:
    """Every case name's line, read once per file version (pytest asks for each item's location often)."""
    try:
        text = Path(path).read_bytes()
    except OSError:
        return {}
    lines: dict[str, int] = {}
    for match in _NAME_LINE.finditer(text):
        lines.setdefault(match.group(1).decode(errors="replace"), text.count(b"\n", 0, match.start()))
    return lines


class CaseFailure(HarnessError, AssertionError):
    """A case ran and the model did not find what it must find, or got worse than the baseline."""

    def __init__(self, report: str, summary: str):
        self.report = report
        super().__init__(summary)


class CaseFileCollector(pytest.File):
    """One case file. A file that cannot be read yields a single error item, so other files still run."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        run = harness_run(self.config)
        settings = run.settings
        try:
            case_file = load_case_file(
                self.path,
                defaults=settings.thresholds,
                check_model=not settings.model_override,
                parse_cache=run.parse_cache,
                # Replaced, or not used: --harness-model skips parity with the file's compare_to.
                check_compare_to=not (settings.compare_override or settings.model_override),
            )
            if not case_file.cases:
                raise CaseFileError(self.path, "no cases: list at least one, or delete the file", field="cases")
            model = settings.model_override or case_file.model or settings.default_model
            if model is None:
                raise CaseFileError(
                    self.path,
                    "no model: set it in the case file, as harness_model in the pytest ini, or with --harness-model",
                    field="model",
                )
            if not settings.model_override and case_file.model and self._escapes(Path(case_file.model)):
                raise CaseFileError(self.path, self._escape_message(case_file.model), field="model")
            compare, skip_parity = self._compare_to(case_file)
        except CaseFileError as exc:
            yield BrokenItem.from_parent(self, name="[file]", error=exc)
            return
        # A case naming a file outside the project is broken everywhere, suite gates included.
        escapes = {c.name: self._outside_root(c) for c in case_file.cases if isinstance(c, Case)}
        case_file = replace(
            case_file,
            cases=tuple(BrokenCase(c.name, escapes[c.name]) if escapes.get(c.name) else c for c in case_file.cases),
        )
        remember_case_file(self.config, case_file)
        # Suite metrics, gates and baselines count only cases a person wrote or reviewed.
        judged = replace(case_file, cases=tuple(c for c in case_file.cases if not getattr(c, "awaiting_review", False)))
        run.case_files[suite_key(self.config, self.path)] = (judged, model)
        for case in case_file.cases:
            if not isinstance(case, Case):
                yield BrokenItem.from_parent(self, name=case.name, error=case.error)
                continue
            yield self._tagged(CaseItem.from_parent(self, name=case.name, case=case, model_spec=model), case.tags)
            if compare is not None:
                yield self._parity(case, model, compare, skip_parity)
            yield from self._variants(case, model)
            if case.search is not None:
                yield self._search(case, model)
        has_baseline = run.baseline is not None and run.baseline.suite(suite_key(self.config, self.path))
        if case_file.gates or has_baseline:
            yield SuiteCollector.from_parent(self, name=SUITE_ITEM, case_file=judged, model_spec=model)

    def _tagged(self, item: pytest.Item, tags: tuple[str, ...]) -> pytest.Item:
        run = harness_run(self.config)
        for tag in tags:
            if tag not in run.registered_tags:
                # Registering the tag first keeps --strict-markers happy with case-file tags.
                self.config.addinivalue_line("markers", f"{tag}: tag from a vision-harness case file")
                run.registered_tags.add(tag)
            item.add_marker(tag)
        return item

    def _variants(self, case: Case, model: str) -> Iterator[pytest.Item]:
        """``CASE[TRANSFORM]`` items: the case judged on its transformed image (``transforms:``)."""
        from .variants import make_variant

        for spec in case.variants:
            name = f"{case.name}[{spec.transform.id}]"
            try:
                variant = make_variant(case, spec)
            except CaseFileError as exc:
                yield BrokenItem.from_parent(self, name=name, error=exc)
                continue
            item = CaseItem.from_parent(self, name=name, case=variant, model_spec=model)
            if spec.xfail:
                # Strict: once the model gets it right, XPASS fails the run, so the note cannot go stale.
                # Only a quality failure is the expected one; an unreadable image is still an error.
                item.add_marker(pytest.mark.xfail(reason=spec.xfail, strict=True, raises=CaseFailure))
            yield self._tagged(item, (*case.tags, ROBUSTNESS_MARKER))

    def _parity(self, case: Case, model: str, compare: CompareTo, skip: str | None) -> pytest.Item:
        """``CASE[parity]``: the case's image predicted by the model and by its export (``compare_to:``)."""
        from .parity_item import ParityItem  # that module builds on this one's HarnessItem

        item = ParityItem.from_parent(
            self, name=f"{case.name}[parity]", case=case, model_spec=model, compare=compare, skip=skip
        )
        return self._tagged(item, case.tags)

    def _search(self, case: Case, model: str) -> pytest.Item:
        """``CASE[search]``: the smallest perturbation within the case's ``search:`` ranges that breaks it."""
        from .search import SEARCH_ITEM
        from .search_item import SearchItem  # that module builds on this one's HarnessItem

        item = SearchItem.from_parent(self, name=f"{case.name}[{SEARCH_ITEM}]", case=case, model_spec=model)
        return self._tagged(item, (*case.tags, ROBUSTNESS_MARKER))

    def _compare_to(self, case_file: CaseFile) -> tuple[CompareTo | None, str | None]:
        """The model whose predictions must match the model's (export parity), if any, and why the
        parity items are skipped, if they are."""
        settings = harness_run(self.config).settings
        compare = case_file.compare_to
        if settings.compare_override:
            tolerances = {"iou": compare.iou, "conf": compare.conf} if compare else {}
            return CompareTo(settings.compare_override, **tolerances, source="--harness-compare-to"), None
        if compare is None:
            return None, None
        if self._escapes(Path(compare.model)):
            raise CaseFileError(self.path, self._escape_message(compare.model), field="compare_to")
        if settings.model_override:
            return compare, (
                f"--harness-model replaces the model, and compare_to ({Path(compare.model).name}) is no export of "
                "it: give the candidate's export with --harness-compare-to"
            )
        return compare, None

    def _escapes(self, path: Path) -> bool:
        """Whether a file the case file names lies outside pytest's rootdir (and that is not allowed)."""
        if harness_run(self.config).settings.allow_outside_root or "://" in str(path):
            return False
        return not path.resolve().is_relative_to(self.config.rootpath.resolve())

    def _escape_message(self, path: Path | str) -> str:
        return (
            f"{path} is outside the project root {self.config.rootpath}; "
            "set harness_allow_outside_root = true in the pytest ini to allow it"
        )

    def _outside_root(self, case: Case) -> CaseFileError | None:
        """A shared case repo must not reach files elsewhere on the machine (path traversal)."""
        named = [("image", case.image)]
        named += [(f"objects[{i}].mask.png", o.mask.png) for i, o in enumerate(case.objects) if o.mask and o.mask.png]
        for field_name, path in named:
            if self._escapes(path):
                return CaseFileError(case.file, self._escape_message(path), case=case.name, field=field_name)
        return None


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


class HarnessItem(pytest.Item):
    """Shared by case and suite items: harness errors and failures print as text, not tracebacks."""

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
        """The overlay and report pictures of ``verdict`` (see harness/outputs.py), from the picture
        cache when an earlier run drew the same; returns the overlay's line for a failure message."""
        from .outputs import run_outputs

        outputs = run_outputs(self.config)
        if outputs is None:
            return None
        folder = self.run.cache_folder
        if folder is not None:
            from .picture_cache import PictureCache

            cache = PictureCache(folder / "pictures")
        else:
            cache = None
        suite = suite_key(self.config, verdict.case.file)
        return outputs.case_judged(self.nodeid, suite, verdict, failing=failing, cache=cache)


class CaseItem(HarnessItem):
    """One golden case."""

    def __init__(self, *, case: Case, model_spec: str, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        self.model_spec = model_spec
        self.verdict: CaseVerdict | None = None

    def setup(self) -> None:
        if self.case.awaiting_review:
            # Skipped, not passed: a model judged against its own output always passes.
            from .review import skip_reason

            raise pytest.skip.Exception(skip_reason(self.case), _use_item_location=True)
        try:
            key = suite_key(self.config, self.case.file)
            if self.run.baseline is not None:
                self.run.baseline.check_predict(key, dict(self.case.predict))
            self.run.prefetch(self.case, self.model_spec)
            self.verdict = self.run.judge.verdict(self.case, self.model_spec)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)

    def runtest(self) -> None:
        verdict = self.verdict
        assert verdict is not None
        self.run.verdicts[self.nodeid] = verdict
        if not verdict.passed and self.config.getoption("harness_update") and self.case.transform is None:
            self._update(verdict)  # a variant's expectations follow from its case's: nothing of its own to rewrite
        drops = self._baseline_drops(verdict)
        overlay = self._draw(verdict, failing=not verdict.passed or bool(drops))
        if not verdict.passed or drops:
            from .baseline import format_deltas

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
        from .update import updater

        change = updater(self.config).update(self)
        model = self.run.judge.model(self.model_spec)
        summary = f"{summarize_verdict(verdict)}; {change.summary}"
        report = format_verdict(verdict, model_name=model.name).split("\n", 1)[1]
        raise CaseFailure(f"{summary}\n{report}\n{change.report()}", summary)

    def _baseline_drops(self, verdict: CaseVerdict):
        baseline = self.run.baseline
        suite = baseline.suite(suite_key(self.config, self.case.file)) if baseline else None
        recorded = suite["cases"].get(self.case.name) if suite else None
        if recorded is None:
            return []
        from .baseline import case_deltas

        return [d for d in case_deltas(recorded, verdict) if d.change < -self.run.settings.max_drop]


class SuiteCollector(pytest.Collector):
    """``FILE::suite``: one item per metric gate of the file, and one for the baseline comparison."""

    def __init__(self, *, case_file: CaseFile, model_spec: str, **kwargs):
        super().__init__(**kwargs)
        self.case_file = case_file
        self.model_spec = model_spec

    def collect(self) -> Iterator[pytest.Item]:
        for gate in self.case_file.gates:
            yield GateItem.from_parent(self, name=gate.path, gate=gate)
        run = harness_run(self.config)
        if run.baseline is not None and run.baseline.suite(suite_key(self.config, self.case_file.path)):
            yield BaselineItem.from_parent(self, name="baseline")


class _SuiteItem(HarnessItem):
    def setup(self) -> None:
        parent: SuiteCollector = self.parent
        try:
            self.result = self.run.judge.suite(parent.case_file, parent.model_spec)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)


class GateItem(_SuiteItem):
    """A minimum for one suite metric, e.g. ``cases/x.yaml::suite::mask.map50_95``."""

    def __init__(self, *, gate: Gate, **kwargs):
        super().__init__(**kwargs)
        self.gate = gate

    def runtest(self) -> None:
        value = self.result.metrics.lookup(self.gate.path)
        if value is None or value < self.gate.minimum:
            report = format_gate_failure(self.result, self.gate, value)
            raise CaseFailure(report, report.splitlines()[0])


class BaselineItem(_SuiteItem):
    """Every suite metric compared with the baseline: fails when one dropped more than allowed."""

    def runtest(self) -> None:
        from .baseline import format_deltas, metric_deltas

        run = self.run
        key = suite_key(self.config, self.result.case_file.path)
        run.baseline.check_predict(key, dict(self.result.case_file.predict))
        deltas = metric_deltas(run.baseline.suite(key)["metrics"], self.result.metrics.flat())
        max_drop = run.settings.max_drop
        dropped = [d for d in deltas if d.change < -max_drop]
        if dropped:
            summary = f"{len(dropped)} suite metrics dropped more than {max_drop:g} (worst {dropped[0].name} "
            summary += f"{dropped[0].change:+.4f})"
            lines = [summary, f"{key}: model {self.result.model.name} against baseline {run.baseline.path}"]
            raise CaseFailure("\n".join(lines + format_deltas(deltas, max_drop, limit=20)), summary)
