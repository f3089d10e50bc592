"""The pytest item of a case's ``search:`` (``CASE[search]``); the search itself is harness/search.py."""

from __future__ import annotations

import pytest

from .cases import Case
from .collect import CaseFailure, HarnessItem
from .errors import HarnessError
from .report import format_verdict, summarize_verdict


class SearchItem(HarnessItem):
    """``CASE[search]``: the smallest perturbation within the case's ``search:`` ranges that breaks it
    (harness/search.py). Setup searches (a broken image or model is an ERROR); the call fails with the
    smallest break, its variant's table and overlay, or passes."""

    def __init__(self, *, case: Case, model_spec: str, **kwargs):
        super().__init__(**kwargs)
        self.case = case  # the case searched, as collected
        self.model_spec = model_spec
        self.result = None

    def setup(self) -> None:
        if self.case.awaiting_review:
            from .review import skip_reason

            raise pytest.skip.Exception(skip_reason(self.case), _use_item_location=True)
        from .search import search_case

        try:
            self.run.prefetch(self.case, self.model_spec)  # the case's own image is the search's identity
            self.result = search_case(
                self.run.judge, self.case, self.model_spec, examples=self.run.settings.search_examples
            )
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)

    def runtest(self) -> None:
        from .search import search_user_properties

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
