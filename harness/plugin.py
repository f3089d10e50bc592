"""The pytest plugin: options, ini settings and hooks only; the work happens in the other modules."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vision-harness", "vision-harness: golden cases for YOLO models")
    group.addoption(
        "--harness-model",
        metavar="PATH",
        help="run every case file against this model instead of the one it names (the CI regression gate)",
    )
    group.addoption(
        "--harness-device",
        metavar="DEVICE",
        help="device for inference, e.g. cpu or cuda:0 (default: harness_device ini, else Ultralytics' choice)",
    )
    group.addoption(
        "--harness-half",
        action="store_true",
        help="FP16 inference (Ultralytics quantize=16; GPU only, the CPU stays FP32; cached apart from FP32)",
    )
    group.addoption(
        "--harness-batch",
        metavar="N",
        type=int,
        help="images per forward pass, among images of one size (default: 32 on CUDA, 1 on CPU, where "
        "batching does not pay)",
    )
    group.addoption(
        "--harness-no-cache",
        action="store_true",
        help="predict every image, neither reading nor writing the prediction cache in pytest's cache "
        "directory (--cache-clear empties it)",
    )
    group.addoption(
        "--harness-save-baseline",
        metavar="FILE",
        help="write every suite metric and per-object IoU of the fully run case files to FILE (JSON)",
    )
    group.addoption(
        "--harness-baseline",
        metavar="FILE",
        help="fail any case IoU or suite metric that dropped below FILE's by more than --harness-max-drop",
    )
    group.addoption(
        "--harness-max-drop",
        metavar="X",
        type=float,
        default=0.01,
        help="allowed drop against --harness-baseline, absolute (default: 0.01)",
    )
    group.addoption(
        "--harness-update",
        action="store_true",
        help="rewrite the expected objects of the selected failing cases from the model's predictions; they "
        "still fail, and are skipped as recorded-not-reviewed until checked with `vision-harness review`",
    )
    group.addoption(
        "--harness-search-examples",
        metavar="N",
        type=int,
        default=25,  # harness/search.py's DEFAULT_EXAMPLES, not imported here: it would import numpy for --help
        help="images each search (search: in case files) judges looking for a break; shrinking a break "
        "judges at most 4N more (default: 25)",
    )
    group.addoption(
        "--harness-compare-to",
        metavar="PATH",
        help="export parity: add a CASE[parity] item to every case, failing unless this model (e.g. a fresh "
        "`yolo export format=onnx dynamic=True` of the same weights) predicts the same objects as the model, "
        "pair by pair; replaces the case files' compare_to, keeping their tolerances (see README, Export parity)",
    )
    _add_output_options(group)
    parser.addini("harness_model", "model for case files that name none (path relative to the ini file)")
    parser.addini("harness_device", "default inference device, e.g. cpu or cuda:0")
    parser.addini("harness_box_iou", "default minimum box IoU (built-in: 0.5)")
    parser.addini("harness_mask_iou", "default minimum mask IoU (built-in: 0.5)")
    parser.addini("harness_max_extra", "default number of unmatched predictions allowed per case (built-in: 0)")
    parser.addini(
        "harness_allow_outside_root",
        "let case files name images and models outside pytest's rootdir (default: false)",
        type="bool",
        default=False,
    )
    parser.addini("harness_files", "glob patterns of case-file names (default: *.yaml *.yml)", type="args")


def _add_output_options(group) -> None:
    """Overlay pictures and reports (harness/outputs.py)."""
    from .outputs import OVERLAY_MODES  # stdlib and pytest only: cheap to import here

    group.addoption(
        "--harness-overlays",
        choices=OVERLAY_MODES,
        default="failed",
        help="draw an overlay PNG (expected objects and predictions) for failing cases, all cases, or none "
        "(default: failed)",
    )
    group.addoption(
        "--harness-overlays-dir",
        metavar="DIR",
        help="folder for the overlay PNGs, one per case at DIR/<case file>/<case>.png; pictures left there by "
        "an earlier run are removed (default: harness-overlays/ in the rootdir)",
    )
    group.addoption(
        "--harness-report",
        metavar="PATH.html",
        help="write one self-contained HTML report (run identity, suite metrics and gates, every case with "
        "its overlay) that opens from disk without network",
    )
    group.addoption(
        "--harness-json",
        metavar="PATH",
        help="write every number of the run (per object, case and suite) as JSON, schema in docs/json-report.md",
    )


def _configure_outputs(config: pytest.Config) -> None:
    from .outputs import OUTPUTS_KEY, OutputSettings, ReportHooks, RunOutputs, is_xdist_worker

    outputs = config.stash[OUTPUTS_KEY] = RunOutputs(OutputSettings.from_config(config))
    if not is_xdist_worker(config) and not config.option.collectonly:
        outputs.remove_old_overlays()
    config.pluginmanager.register(ReportHooks(config), "vision-harness-outputs")


def pytest_configure(config: pytest.Config) -> None:
    from .errors import HarnessError
    from .session import harness_run

    run = harness_run(config)  # validates the options now, so a bad one stops the run before collection
    config.addinivalue_line(
        "markers",
        "robustness: a transformed variant or a search of a golden case (transforms: and search: in case files)",
    )
    if config.getoption("harness_update") and (getattr(config.option, "numprocesses", None) or 0):
        # Workers would each rewrite the same case files: one update's cases would be lost.
        raise pytest.UsageError("--harness-update writes case files: run it without -n (pytest-xdist)")
    try:
        run.baseline  # noqa: B018 - reads the baseline file now, for the same reason
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    _configure_outputs(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    from .collect import CaseFileCollector, is_case_file
    from .session import harness_run

    patterns = harness_run(parent.config).settings.file_patterns
    if not any(fnmatch(file_path.name, pattern) for pattern in patterns):
        return None
    # Named on the command line, any YAML file is taken as a case file; found by recursion, only one with `cases:`.
    if parent.session.isinitpath(file_path) or is_case_file(file_path):
        return CaseFileCollector.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    from .inventory import remember_selection
    from .session import RUN_KEY

    run = session.config.stash.get(RUN_KEY, None)
    if run is not None:
        run.selected = list(session.items)  # after -k/-m deselection: what predictions are planned for

    remember_selection(session)
    if session.config.getoption("harness_update"):
        from .update import updater

        updater(session.config).select(session.items)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from .session import harness_run

    settings = harness_run(config).settings
    model = settings.model_override or "as each case file says"
    return [f"vision-harness: model {model}, device {settings.device or 'auto'}"]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist controller: tell each worker how items are handed out (it sees dist "no")."""
    node.workerinput["harness_dist"] = node.config.getoption("dist")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist controller: take in a finished worker's verdicts and model usage."""
    from .distributed import WORKER_OUTPUT_KEY, merge_worker_payload
    from .session import harness_run

    payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if payload:
        merge_worker_payload(harness_run(node.config), payload)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from .session import RUN_KEY

    run = session.config.stash.get(RUN_KEY, None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if run is not None and workeroutput is not None:
        from .distributed import WORKER_OUTPUT_KEY, worker_payload
        from .inventory import golden_summary

        # The controller summarises and saves; it collects nothing itself, so it gets the golden lines too.
        workeroutput[WORKER_OUTPUT_KEY] = worker_payload(run, golden_summary(session.config))
        return
    if run is None or run.settings.save_baseline is None:
        return
    from .baseline import suite_record, write_baseline

    suites = {}
    for key, result in run.complete_suites.items():
        if isinstance(result, str):
            run.baseline_skipped.append(f"{key}: {result}")
        else:
            suites[key] = suite_record(result)
    directories = {key: metrics.flat() for key, metrics in run.directory_metrics.items()}
    write_baseline(run.settings.save_baseline, suites, directories)
    run.baseline_saved = sorted(suites)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    from .session import RUN_KEY

    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    from .inventory import golden_summary

    lines = golden_summary(config) or run.worker_golden_lines
    if lines:
        terminalreporter.section("vision-harness golden cases")
        for line in lines:
            terminalreporter.write_line(line)
    if run.parity:
        from .parity import parity_summary

        terminalreporter.section("vision-harness export parity")
        for line in parity_summary(run):
            terminalreporter.write_line(line)
    if not run.verdicts:
        return
    from .report import format_suite_metrics, summarize_verdict, worst_cases
    from .search import is_search_node
    from .suites import SuiteResult

    write = terminalreporter.write_line
    terminalreporter.section("vision-harness")
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
    if run.settings.save_baseline is not None:
        write(f"baseline written to {run.settings.save_baseline}: {len(run.baseline_saved)} suites")
        for line in run.baseline_skipped:
            write(f"  not in the baseline: {line}")
    # The summary ends with what matters most: the suite metrics, then the worst five cases.
    for key, result in run.complete_suites.items():
        if isinstance(result, SuiteResult):
            write(f"{key}: {format_suite_metrics(result.metrics)}")
    for key, metrics in run.directory_metrics.items():
        write(f"{key}: {format_suite_metrics(metrics)}")
    worst = [v for v in worst_cases(list(run.verdicts.values())) if v.worst_iou is not None]
    if worst:
        write("worst cases: " + "; ".join(f"{v.case.name} {summarize_verdict(v)}" for v in worst))
