"""The pytest item of export parity (``CASE[parity]``); the comparison itself is harness/parity.py."""

from __future__ import annotations

import pytest

from .cases import Case
from .collect import CaseFailure, HarnessItem
from .config import CompareTo
from .errors import HarnessError


class ParityItem(HarnessItem):
    """``CASE[parity]``: the case's image predicted by the model and by its ``compare_to`` model (an
    export of the same weights), whose predictions must match one-to-one (see harness/parity.py).

    It needs no expected objects, so it runs for cases that wait for review too."""

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
        from .parity import judge_parity

        try:
            self.run.prefetch(self.case, self.model_spec)
            self.run.prefetch(self.case, self.compare.model)
            self.result = judge_parity(self.run.judge, self.case, self.model_spec, self.compare)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)

    def runtest(self) -> None:
        from .parity import format_parity, summarize_parity

        self.run.parity[self.nodeid] = self.result
        if not self.result.passed:
            raise CaseFailure(format_parity(self.result), summarize_parity(self.result))
