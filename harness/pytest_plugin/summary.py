"""The terminal summary: the golden-case lines, export parity, counts, models, metrics, worst cases."""

from __future__ import annotations

import pytest

from harness.casefile.search_spec import is_search_node
from harness.evaluation.bootstrap import METHOD
from harness.evaluation.suites import SuiteResult
from harness.evaluation.verdict_text import format_suite_metrics, summarize_verdict, worst_cases
from harness.pytest_plugin.inventory import golden_summary
from harness.pytest_plugin.session import HarnessRun
from harness.robustness.parity import parity_summary


def write_summary(terminalreporter, run: HarnessRun, config: pytest.Config) -> None:
    """The harness's sections of pytest's terminal summary."""

    lines = golden_summary(config) or run.worker_golden_lines
    if lines:
        terminalreporter.section("vision-harness golden cases")
        for line in lines:
            terminalreporter.write_line(line)
    if run.parity:
        terminalreporter.section("vision-harness export parity")
        for line in parity_summary(run.parity):
            terminalreporter.write_line(line)
    if run.notes:
        terminalreporter.section("vision-harness notes")
        for note in run.notes:
            terminalreporter.write_line(f"note: {note}")
    if not run.verdicts:
        return

    write = terminalreporter.write_line
    terminalreporter.section("vision-harness")
    _counts_and_models(write, run)
    if run.settings.save_baseline is not None:
        write(f"baseline written to {run.settings.save_baseline}: {len(run.baseline_saved)} suites")
        for line in run.baseline_skipped:
            write(f"  not in the baseline: {line}")
    # The summary ends with what matters most: the suite metrics, then the worst five cases.
    settings = run.settings
    suites = {key: r.metrics for key, r in run.complete_suites.items() if isinstance(r, SuiteResult)}
    # Drawing the bootstrap costs about a warm run of cached predictions (once per set of verdicts: later
    # runs read the values back, bootstrap_store.py): the summary shows intervals
    # when --harness-bootstrap asks, or when the run made them anyway (record, report, the rule).
    intervals = {key: run.intervals(metrics, needed=False) for key, metrics in suites.items()}
    if any(intervals.values()):
        write(
            f"intervals: {settings.interval_confidence:.0%} {METHOD} bootstrap over cases, "
            f"{settings.resamples} resamples (--harness-bootstrap)"
        )
    for key, metrics in suites.items():
        write(f"{key}: {format_suite_metrics(metrics, intervals[key])}")
    # A folder's pooled metrics are for the record: their intervals (as costly as all its files') are
    # in the JSON record and the report, not here.
    for key, metrics in run.directory_metrics.items():
        write(f"{key}: {format_suite_metrics(metrics)}")
    worst = [v for v in worst_cases(list(run.verdicts.values())) if v.worst_iou is not None]
    if worst:
        write("worst cases: " + "; ".join(f"{v.case.name} {summarize_verdict(v)}" for v in worst))


def _counts_and_models(write, run: HarnessRun) -> None:
    """Cases, variants and searches judged, and what each model predicted."""
    # A search item's verdict is its smallest break, or the variant that came closest: counted apart.
    judged = [v for nodeid, v in run.verdicts.items() if not is_search_node(nodeid)]
    searches = [v for nodeid, v in run.verdicts.items() if is_search_node(nodeid)]
    for what, verdicts in (
        ("cases judged", [v for v in judged if v.case.transform is None]),
        ("transformed variants judged", [v for v in judged if v.case.transform is not None]),
    ):
        if verdicts or what == "cases judged":
            passed = sum(v.passed for v in verdicts)
            known = sum(not v.passed and v.case.xfail is not None for v in verdicts)
            known_note = f" ({known} known: xfail)" if known else ""
            write(f"{what}: {len(verdicts)}, passed {passed}, failed {len(verdicts) - passed}{known_note}")
    if searches:
        held = sum(v.passed for v in searches)
        write(f"searches: {len(searches)}, held {held}, broke {len(searches) - held}")
    for model in sorted(run.judge.models.used(), key=lambda m: m.spec):
        count, seconds = model.images_predicted, model.seconds_predicting
        rate = f" ({count / seconds:.1f} images/s, batch {model.batch_size})" if seconds else ""
        images = f"{count} image" + ("" if count == 1 else "s")
        cached = f", {model.images_from_cache} from the cache" if model.images_from_cache else ""
        write(
            f"model {model.spec} ({model.task}, device {model.device_used}): "
            f"{images} predicted in {seconds:.1f} s{rate}{cached}"
        )
