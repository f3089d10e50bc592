"""``search:`` in case files: the smallest perturbation within given ranges that breaks a case.

Each searched parameter is a whole number of grid steps away from its identity value (``GRID``), so
hypothesis' integer shrinking (towards 0, the identity) means "a smaller perturbation", and a rerun
asks for exactly the images the first run judged: the prediction cache answers all of them. The
chosen steps are composed into one ``Transform`` in ``SEARCH_KINDS`` order (geometric steps first,
then photometric ones), the case is made into a variant of that image (harness/robustness/variants.py) and
judged with the search's thresholds.

hypothesis is imported only when a search runs, derandomised and without its example database, so
a search gives the same answer on every run and machine (for one hypothesis version)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from harness.casefile.schema import VariantSpec
from harness.casefile.search_spec import DEFAULT_EXAMPLES, SEARCH_ITEM, Point, SearchRange, SearchSpec
from harness.core.transforms import Transform
from harness.evaluation.suites import check_model_fits, check_model_pin
from harness.evaluation.task_verdicts import judge_predictions
from harness.robustness.variants import make_variant

if TYPE_CHECKING:
    from harness.casefile.schema import Case
    from harness.evaluation.matching import CaseVerdict
    from harness.evaluation.suites import Judge


SHRINK_FACTOR = 4  # after the first break, a search judges at most this many times as many more images


@dataclass
class Exploration:
    """What a search did: the smallest break found (``point``), or none; every verdict it reached."""

    ranges: tuple[SearchRange, ...]
    point: Point | None = None  # the shrunk break
    first: Point | None = None  # the first break found, before shrinking
    verdicts: dict[Point, Any] = field(default_factory=dict)  # in the order judged
    limited: bool = False  # shrinking stopped at its budget of images
    budget: int = 0  # the most images judged after the first break
    out_of_time: bool = False  # hypothesis stopped shrinking after its time limit: another run may differ

    @property
    def broke(self) -> bool:
        return self.point is not None

    @property
    def images(self) -> int:
        return len(self.verdicts)


def explore(
    ranges: tuple[SearchRange, ...],
    judge: Callable[[Point], Any],
    *,
    examples: int = DEFAULT_EXAMPLES,
    shrink_images: int | None = None,
) -> Exploration:
    """Look for a point whose verdict fails (``judge(point).passed`` is false) and shrink it.

    hypothesis generates up to ``examples`` points; once one breaks, it shrinks it, judging at most
    ``shrink_images`` (default ``SHRINK_FACTOR * examples``) further points: beyond that, a point not
    judged yet counts as holding. Each point is judged once. A last pass moves each parameter one
    step towards the identity while the case still breaks, so that in the result no single parameter
    one step closer breaks it (among points judged within the budget).
    """
    # hypothesis only when a search runs (~0.3 s to import).
    from hypothesis import find
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample

    budget = SHRINK_FACTOR * examples if shrink_images is None else shrink_images
    out = Exploration(ranges, budget=budget)
    breaks = _BudgetedJudge(out, judge, budget)
    strategy = st.tuples(*(st.integers(r.low, r.high) for r in ranges))
    try:
        point = find(strategy, breaks, settings=_search_settings(examples))
    except NoSuchExample:
        point = None
    breaks.raise_failure()
    if point is not None:
        out.out_of_time = time.monotonic() - breaks.shrink_started > _shrink_time_limit()
        out.point = _descend(ranges, tuple(point), breaks)
        breaks.raise_failure()
    return out


class _BudgetedJudge:
    """``breaks(point)`` for hypothesis: judges each point once, records the verdicts in ``out``, and
    once a break is found, judges at most ``budget`` further points (a point beyond it holds)."""

    def __init__(self, out: Exploration, judge: Callable[[Point], Any], budget: int):
        self.out, self.judge, self.budget = out, judge, budget
        self.shrunk = 0
        self.shrink_started = 0.0
        self.failure: BaseException | None = None

    def __call__(self, point: Point) -> bool:
        out = self.out
        point = tuple(point)
        if point not in out.verdicts:
            if self.failure is not None:
                return False  # the search is over: its error is raised by explore()
            if out.first is not None:
                if self.shrunk >= self.budget:
                    out.limited = True
                    return False
                self.shrunk += 1
            try:
                out.verdicts[point] = self.judge(point)
            except Exception as exc:  # hypothesis would shrink an error like a failure: stop instead
                self.failure = exc
                return False
        broke = not out.verdicts[point].passed
        if broke and out.first is None:
            out.first, self.shrink_started = point, time.monotonic()
        return broke

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


def _search_settings(examples: int):
    """hypothesis settings for a search: deterministic, no database, no time limits, quiet."""
    from hypothesis import HealthCheck, Phase, Verbosity, settings  # see explore()

    return settings(
        settings.get_profile("default"),  # not a profile the user's own tests loaded
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),  # no explain phase: it would judge more images
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )


def _descend(ranges: tuple[SearchRange, ...], point: Point, breaks: Callable[[Point], bool]) -> Point:
    """Move one parameter at a time one step towards the identity while the case still breaks."""
    moved = True
    while moved:
        moved = False
        for index, r in enumerate(ranges):
            k = point[index]
            if k == r.nearest:
                continue
            closer = (*point[:index], k - 1 if k > r.nearest else k + 1, *point[index + 1 :])
            if breaks(closer):
                point, moved = closer, True
                break
    return point


def _shrink_time_limit() -> float:
    """hypothesis' limit on shrinking one failure (an internal constant: 300 s in 6.x)."""
    try:
        from hypothesis.internal.conjecture.engine import MAX_SHRINKING_SECONDS  # see explore()
    except ImportError:
        return 300.0
    return float(MAX_SHRINKING_SECONDS)


@dataclass
class CaseSearch:
    """A case's search against one model: the exploration, and the verdict to show (the smallest
    break, or when nothing broke the variant that came closest to failing)."""

    spec: SearchSpec
    exploration: Exploration
    verdict: CaseVerdict
    predicted: int  # images the model predicted for it (the others came from the cache or memory)

    @property
    def broke(self) -> bool:
        return self.exploration.broke

    def headline(self) -> str:
        """``breaks at brightness=0.55, noise=0 (shrunk from brightness=0.4, noise=23; 31 images judged)``."""
        found = self.exploration
        if not found.broke:
            return f"held on {found.images} images ({self.spec.describe(_closest_point(found))} came closest)"
        notes = []
        if found.first != found.point:
            notes.append(f"shrunk from {self.spec.describe(found.first)}")
        else:
            notes.append("the first break found, not shrunk further")
        if found.limited:
            notes.append(f"shrinking stopped at its limit of {found.budget} images")
        if found.out_of_time:
            notes.append("hypothesis stopped shrinking at its time limit, so another run may shrink differently")
        notes.append(f"{found.images} images judged, {self.predicted} predicted")
        return f"breaks at {self.spec.describe(found.point)} ({'; '.join(notes)})"


def _closest_point(found: Exploration) -> Point:
    """The held point with the lowest worst IoU (the first judged among equals)."""
    return min(found.verdicts, key=lambda p: _closeness(found.verdicts[p]))


def _closeness(verdict: Any) -> tuple[float, int]:
    worst = getattr(verdict, "worst_iou", None)
    return (2.0 if worst is None else worst, -len(getattr(verdict, "extras", ())))


def search_case(judge: Judge, case: Case, model_spec: str, *, examples: int = DEFAULT_EXAMPLES) -> CaseSearch:
    """Search ``case.search`` against the model: each point's image predicted (or read from the
    prediction cache) and judged as a variant named ``CASE[search][TRANSFORM]`` (``CASE[search]`` at
    the identity).

    Raises:
        HarnessError: the case cannot run against this model, or an image cannot be predicted.
    """

    spec = case.search
    if spec is None:
        raise ValueError(f"case {case.name!r} has no search")
    check_model_pin(case, model_spec)
    model = judge.model(model_spec)
    check_model_fits(case, model)
    use_masks = model.task == "segment"
    plain = replace(case, search=None, variants=())
    predicted_before = model.images_predicted

    def judge_point(point: Point) -> CaseVerdict:
        transform = spec.transform(point)
        variant_spec = VariantSpec(transform or Transform(()), spec.where, spec.box_iou, spec.mask_iou, spec.max_extra)
        # At the identity the variant is the case's own image: its prediction is the case's.
        name = f"{case.name}[{SEARCH_ITEM}]" + (f"[{transform.id}]" if transform else "")  # the overlay's title
        variant = replace(make_variant(plain, variant_spec), name=name, transform=transform)
        return judge_predictions(variant, model.predict(case.image, case.predict, transform), use_masks=use_masks)

    found = explore(spec.ranges, judge_point, examples=examples)
    point = found.point if found.broke else _closest_point(found)
    return CaseSearch(spec, found, found.verdicts[point], model.images_predicted - predicted_before)


def search_user_properties(result: CaseSearch) -> list[tuple[str, Any]]:
    """What a search item records for --junitxml (pytest's user properties)."""
    return [("search_images", result.exploration.images), ("search_result", result.headline())]
