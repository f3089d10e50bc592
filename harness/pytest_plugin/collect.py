"""pytest collectors: a case file becomes a pytest.File yielding the items of its cases, and the
file's suite checks (metric gates, baseline comparison) are items under ``FILE::suite``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from fnmatch import fnmatch
from pathlib import Path

import pytest

from harness.casefile.discover import is_case_document, may_be_case_file
from harness.casefile.load import load_case_file, read_document
from harness.casefile.schema import SUITE_ITEM, BrokenCase, Case, CaseFile
from harness.casefile.search_spec import SEARCH_ITEM
from harness.core.config import CompareTo
from harness.core.errors import CaseFileError
from harness.core.paths import outside_root, suite_key
from harness.pytest_plugin.inventory import remember_case_file
from harness.pytest_plugin.items import (
    BaselineItem,
    BrokenItem,
    CaseFailure,
    CaseItem,
    GateItem,
    ParityItem,
    SearchItem,
)
from harness.pytest_plugin.session import ROBUSTNESS_MARKER, harness_run, mark_name
from harness.robustness.variants import make_variant


def case_file_collector(file_path: Path, parent: pytest.Collector) -> CaseFileCollector | None:
    """The collector of a YAML file, when it is a case file the run's ``harness_files`` patterns take."""
    patterns = harness_run(parent.config).settings.file_patterns
    if not any(fnmatch(file_path.name, pattern) for pattern in patterns):
        return None
    # Named on the command line, any YAML file is taken as a case file; found by recursion, one that names
    # `cases` is parsed in collect(), which tells (see harness/casefile/discover.py).
    named = parent.session.isinitpath(file_path)
    if named or may_be_case_file(file_path):
        return CaseFileCollector.from_parent(parent, path=file_path, named=named)
    return None


# pytest's own marks that act on an item; other plugins' marks are found in reserved_marks().
PYTEST_MARKS = frozenset(
    {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "tryfirst", "trylast"}
)
RESERVED_MARKS_KEY = pytest.StashKey[frozenset]()


def reserved_marks(config: pytest.Config) -> frozenset[str]:
    """Mark names a case-file tag may not take: pytest's own that act on an item, and every mark that
    pytest or a plugin registered (a plugin registers the marks it acts on, e.g. pytest-timeout's
    ``timeout``). Marks the project declares in its own ini are plain tags, and stay allowed."""
    if RESERVED_MARKS_KEY not in config.stash:
        run = harness_run(config)
        own = run.declared_marks | run.registered_tags | {ROBUSTNESS_MARKER}
        registered = {mark_name(line) for line in config.getini("markers")}
        config.stash[RESERVED_MARKS_KEY] = frozenset((registered - own) | PYTEST_MARKS)
    return config.stash[RESERVED_MARKS_KEY]


class CaseFileCollector(pytest.File):
    """One case file. A file that cannot be read yields a single error item, so other files still run."""

    def __init__(self, *, named: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.named = named  # on the command line: a case file whatever it holds

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        run = harness_run(self.config)
        settings = run.settings
        try:
            document = read_document(self.path, run.parse_cache, settings.max_case_file_mb)
            if not self.named and not is_case_document(document):
                return  # a YAML file of the project that is no case file
            case_file = load_case_file(
                self.path,
                document=document,
                defaults=settings.thresholds,
                check_model=not settings.model_override,
                parse_cache=run.parse_cache,
                # Replaced, or not used: --harness-model skips parity with the file's compare_to.
                check_compare_to=not (settings.compare_override or settings.model_override),
                # Images and masks outside the project are refused before they are opened.
                root=self._root,
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
            escape = self._escape(case_file.model) if case_file.model and not settings.model_override else None
            if escape:
                raise CaseFileError(self.path, escape, field="model")
            compare, skip_parity = self._compare_to(case_file)
        except CaseFileError as exc:
            yield BrokenItem.from_parent(self, name="[file]", error=exc)
            return
        # A case with a tag named like a mark that acts on a test is broken everywhere, suite gates included.
        reserved = {c.name: self._reserved_tag(c) for c in case_file.cases if isinstance(c, Case)}
        case_file = replace(
            case_file,
            cases=tuple(BrokenCase(c.name, reserved[c.name]) if reserved.get(c.name) else c for c in case_file.cases),
        )
        remember_case_file(self.config, case_file)
        # Suite metrics, gates and baselines count only cases a person wrote or reviewed.
        judged = replace(case_file, cases=tuple(c for c in case_file.cases if not getattr(c, "awaiting_review", False)))
        run.case_files[suite_key(self.config.rootpath, self.path)] = (judged, model)
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
        has_baseline = run.baseline is not None and run.baseline.suite(suite_key(self.config.rootpath, self.path))
        if case_file.gates or has_baseline:
            yield SuiteCollector.from_parent(self, name=SUITE_ITEM, case_file=judged, model_spec=model)

    def _reserved_tag(self, case: Case) -> CaseFileError | None:
        """A tag named like a mark that changes how pytest runs an item (``xfail``, ``skip``, a plugin's
        ``timeout``...) would turn into that mark: a failing case would show XFAIL or SKIPPED."""
        reserved = reserved_marks(self.config)
        for index, tag in enumerate(case.tags):
            if tag in reserved:
                return CaseFileError(
                    case.file,
                    f"{tag!r} is a pytest mark that changes how a test runs, not a tag: rename the tag",
                    case=case.name,
                    field=f"tags[{index}]",
                )
        return None

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

        item = ParityItem.from_parent(
            self, name=f"{case.name}[parity]", case=case, model_spec=model, compare=compare, skip=skip
        )
        return self._tagged(item, case.tags)

    def _search(self, case: Case, model: str) -> pytest.Item:
        """``CASE[search]``: the smallest perturbation within the case's ``search:`` ranges that breaks it."""

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
        escape = self._escape(compare.model)
        if escape:
            raise CaseFileError(self.path, escape, field="compare_to")
        if settings.model_override:
            return compare, (
                f"--harness-model replaces the model, and compare_to ({Path(compare.model).name}) is no export of "
                "it: give the candidate's export with --harness-compare-to"
            )
        return compare, None

    @property
    def _root(self) -> Path | None:
        """What the files a case file names must lie below (None: anywhere, harness_allow_outside_root)."""
        return None if harness_run(self.config).settings.allow_outside_root else self.config.rootpath

    def _escape(self, path: str) -> str | None:
        """Why a model file the case file names may not be used, when it lies outside the root."""
        return None if "://" in path else outside_root(Path(path), self._root)


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
        if run.baseline is not None and run.baseline.suite(suite_key(self.config.rootpath, self.case_file.path)):
            yield BaselineItem.from_parent(self, name="baseline")
