"""What a ``pytest`` run of some case files will predict, known before it runs: each model's images
with their predict arguments, variants (``transforms:``) and export parity (``compare_to:``)
included, so that ``vision-harness predict`` can fill the prediction cache ahead of the run.

A search (``search:``) cannot be planned: which perturbed images it judges depends on the verdicts
it meets on the way, so a run with searches still predicts those images itself. Cases that cannot
run (broken, waiting for review) are left out, as the run leaves them out; a case whose classes the
model lacks is still planned (telling needs the model), which costs a prediction, never a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.casefile.load import load_case_file
from harness.casefile.schema import Case
from harness.core.errors import CaseFileError
from harness.evaluation.image_batches import Source
from harness.evaluation.predict_jobs import CacheTarget, PredictJob, predict_here
from harness.robustness.variants import make_variant


@dataclass
class Plan:
    """The jobs of a run, and what could not be planned (a line each)."""

    jobs: list[PredictJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def images(self) -> int:
        return sum(len(job.sources) for job in self.jobs)


def plan_predictions(
    paths: Iterable[Path],
    *,
    model_override: str | None = None,
    default_model: str | None = None,
    compare_override: str | None = None,
) -> Plan:
    """The predictions ``pytest PATHS`` (with ``--harness-model``, ``harness_model`` and
    ``--harness-compare-to`` as given here) would make, grouped by model and predict arguments."""
    plan = Plan()
    # (model, arguments as JSON) -> the arguments as the case file gave them, and the sources, in order
    groups: dict[tuple[str, str], tuple[Mapping[str, Any], dict[Source, None]]] = {}

    def add(model: str, case: Case, source: Source) -> None:
        arguments = json.dumps(dict(case.predict), sort_keys=True, default=str)  # as the cache keys them
        groups.setdefault((model, arguments), (case.predict, {}))[1][source] = None

    for path in paths:
        try:
            case_file = load_case_file(path, check_model=not model_override)
        except CaseFileError as exc:
            plan.notes.append(f"not planned: {exc}")
            continue
        model = model_override or case_file.model or default_model
        if model is None:
            plan.notes.append(f"not planned: {path}: no model (name one with --model)")
            continue
        # --harness-model without --harness-compare-to skips the file's parity, as the run does
        compare = compare_override or (
            case_file.compare_to.model if case_file.compare_to and not model_override else None
        )
        for case in case_file.cases:
            if not isinstance(case, Case):
                continue
            if compare:  # parity needs no reviewed expectations
                add(model, case, (case.image, None))
                add(compare, case, (case.image, None))
            if case.awaiting_review:
                continue
            add(model, case, (case.image, None))
            for spec in case.variants:
                try:
                    add(model, case, (case.image, make_variant(case, spec).transform))
                except CaseFileError:
                    continue  # the run reports it as a broken item
            if case.search is not None:
                plan.notes.append(
                    f"{path}::{case.name}[search]: a search chooses its images as it goes; it predicts them itself"
                )
    for (model, _), (arguments, sources) in groups.items():
        plan.jobs.append(PredictJob(model, arguments, tuple(sources)))
    return plan


def predict_ahead(
    paths: Iterable[Path], target: CacheTarget, *, model_override: str | None = None, ray: str | None = None
) -> list[str]:
    """Plan the run of ``paths`` and predict what the cache lacks, here or on the Ray cluster at
    ``ray``; the lines to print: what was not planned, then what each model did."""
    plan = plan_predictions(paths, model_override=model_override)
    if ray:
        from harness.evaluation.ray_predict import predict_on_ray  # Ray: an optional extra, and slow to import

        counts = predict_on_ray(plan.jobs, target, ray)
    else:
        counts = predict_here(plan.jobs, target)
    cache = target.cache().store.description
    return [*plan.notes, *counts.lines(), f"{plan.images} images planned, cache {cache}"]
