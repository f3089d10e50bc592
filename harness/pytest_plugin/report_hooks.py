"""The pytest hooks that gather outcomes and pictures while a session runs and write the reports
(JSON record, HTML report, CI step summary) when it finishes.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest

from harness.core.errors import display_path
from harness.core.paths import suite_key
from harness.pytest_plugin.session import RUN_KEY
from harness.reports.run_outputs import (
    DEFAULT_OVERLAYS_DIR,
    XFAIL_MESSAGE,
    ItemInfo,
    Outcome,
    OutputSettings,
    RunOutputs,
)

WORKER_OUTPUT_KEY = "vision_harness_outputs"  # in pytest-xdist's workeroutput
# An item's kind as the run record counts it: a search and a broken case are cases there.
RECORD_KINDS = {"case": "case", "search": "case", "broken": "case", "parity": "parity", "suite": "suite"}


def output_settings(config: pytest.Config) -> OutputSettings:
    """Where the run's pictures and reports go, from the command line (validated)."""
    overlays_dir = config.getoption("harness_overlays_dir")
    overlays_dir = Path(overlays_dir) if overlays_dir else config.rootpath / DEFAULT_OVERLAYS_DIR
    if overlays_dir.exists() and not overlays_dir.is_dir():
        raise pytest.UsageError(f"--harness-overlays-dir {overlays_dir}: exists and is not a folder")
    paths = {}
    for option in ("harness_report", "harness_json"):
        value = config.getoption(option)
        if value and Path(value).is_dir():
            raise pytest.UsageError(f"--{option.replace('_', '-')} {value}: is a folder; give a file name")
        paths[option] = Path(value) if value else None
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    return OutputSettings(
        overlays=config.getoption("harness_overlays"),
        overlays_dir=overlays_dir,
        report=paths["harness_report"],
        json=paths["harness_json"],
        step_summary=Path(summary) if summary else None,
    )


OUTPUTS_KEY = pytest.StashKey[RunOutputs]()


def configure_outputs(config: pytest.Config) -> None:
    """Read the output options and register the report hooks; empty the overlay folder of an earlier run."""
    outputs = config.stash[OUTPUTS_KEY] = RunOutputs(output_settings(config))
    if not is_xdist_worker(config) and not config.option.collectonly:
        outputs.remove_old_overlays()
    config.pluginmanager.register(ReportHooks(config), "vision-harness-outputs")


def run_outputs(config: pytest.Config) -> RunOutputs | None:
    """This session's outputs, or None where the plugin did not configure them (e.g. no harness)."""
    return config.stash.get(OUTPUTS_KEY, None)


def is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class ReportHooks:
    """pytest hooks that collect outcomes and write the reports; registered by ``hooks.py``."""

    def __init__(self, config: pytest.Config):
        self.config = config

    @property
    def outputs(self) -> RunOutputs:
        return self.config.stash[OUTPUTS_KEY]

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        kind = getattr(item, "harness_kind", None)  # set by every item class of harness/pytest_plugin/items.py
        if kind is None:
            return  # another plugin's item, or a plain test
        record_kind = RECORD_KINDS[kind]
        key = suite_key(item.config.rootpath, item.path)
        case, model = getattr(item, "case", None), getattr(item, "model_spec", None)
        self.outputs.items[item.nodeid] = ItemInfo(key, item.name, record_kind, case, model)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every item's outcome is kept: under pytest-xdist the controller learns which items are the
        # harness' only when the workers finish (pytest_testnodedown), after their reports arrived.
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
            self.outputs.outcomes[report.nodeid] = Outcome(outcome, _first_line(report.longreprtext))
        elif report.when == "call" and report.passed:
            self.outputs.outcomes.setdefault(report.nodeid, Outcome("passed"))
        elif report.skipped:
            reason = getattr(report, "wasxfail", None)  # pytest reports an expected failure as skipped
            message = f"{XFAIL_MESSAGE}{reason}" if reason else _first_line(report.longreprtext)
            self.outputs.outcomes[report.nodeid] = Outcome("skipped", message)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        run = session.config.stash.get(RUN_KEY, None)
        settings = self.outputs.settings
        summary = settings.step_summary if self.outputs.items else None  # CI runs other pytest sessions too
        if is_xdist_worker(session.config):
            # What the controller needs for the reports; xdist carries only plain values, so pickled.
            state = {"items": self.outputs.items, "pictures": self.outputs.pictures}
            session.config.workeroutput[WORKER_OUTPUT_KEY] = pickle.dumps(state)
            return
        if run is None:
            return
        if settings.json is None and settings.report is None and summary is None:
            return
        # The record's stack (numpy, the metrics) only for a run that writes a record, not at start-up.
        from harness.reports.run_record import Invocation, run_record, write_json

        config = session.config
        invocation = Invocation(
            args=[str(arg) for arg in config.invocation_params.args],
            rootdir=config.rootpath,
            pytest_version=pytest.__version__,
            model_override=run.settings.model_override,
            device_requested=run.settings.device,
        )
        record = run_record(run, self.outputs, invocation, exit_status=int(exitstatus))
        for label, path, write in (
            ("JSON record", settings.json, write_json),
            ("HTML report", settings.report, self._write_report),
            ("step summary", summary, self._append_summary),
        ):
            if path is None:
                continue
            try:
                write(record, path)
            except OSError as exc:  # an unwritable path is reported, and must not hide the run's outcome
                self.outputs.written.append(f"{label} not written: {exc}")
            else:
                if label == "step summary":
                    self.outputs.written.append(f"{label} appended to {path}")
                else:
                    self.outputs.written.append(f"{label}: {_shown(path)} ({path.stat().st_size / 1e6:.1f} MB)")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """pytest-xdist, on the controller: fold in a finished worker's items and pictures."""
        payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        if payload is None:
            return
        state = pickle.loads(payload)  # written by this session's own workers, so trusted
        for nodeid, info in state["items"].items():  # every worker collected them all, in the same order
            self.outputs.items.setdefault(nodeid, info)
        self.outputs.pictures.update(state["pictures"])

    def _write_report(self, record: dict, path: Path) -> None:
        from harness.reports.html_report import write_html_report  # only when a report is asked for

        write_html_report(record, self.outputs.pictures, path)

    @staticmethod
    def _append_summary(record: dict, path: Path) -> None:
        from harness.reports.ci_summary import append_step_summary  # only under GitHub Actions

        append_step_summary(record, path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        settings = self.outputs.settings
        written = [p for p in self.outputs.pictures.values() if p.overlay is not None]
        lines = []
        if written:
            pictures = "1 picture" if len(written) == 1 else f"{len(written)} pictures"
            lines.append(f"overlays: {pictures} in {_shown(settings.overlays_dir)}")
        lines += self.outputs.written
        if lines:
            terminalreporter.section("vision-harness outputs")
            for line in lines:
                terminalreporter.write_line(line)


def _shown(path: Path) -> str:
    return display_path(path)


def _first_line(text: str) -> str:
    """The first line of a report that says something (not xdist's "[gw0] linux -- Python ..." header)."""
    for line in text.splitlines():
        line = line.strip()
        if line and not re.match(r"\[gw\d+\] ", line):
            return line.removeprefix("Failed: ")
    return ""
