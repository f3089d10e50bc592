"""The pytest plugin: options, ini settings and hooks only; the work happens in the other modules."""

from __future__ import annotations

import os
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
    parser.addini("harness_model", "model for case files that name none (path relative to the ini file)")
    parser.addini("harness_device", "default inference device, e.g. cpu or cuda:0")
    parser.addini("harness_box_iou", "default minimum box IoU (built-in: 0.5)")
    parser.addini("harness_mask_iou", "default minimum mask IoU (built-in: 0.5)")
    parser.addini("harness_max_extra", "default number of unmatched predictions allowed per case (built-in: 0)")
    parser.addini("harness_files", "glob patterns of case-file names (default: *.yaml *.yml)", type="args")


def pytest_configure(config: pytest.Config) -> None:
    # Before anything imports Ultralytics: a test run must never download weights, fonts or packages.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from .session import harness_run

    harness_run(config)  # validates the options now, so a bad one stops the run before collection


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


def pytest_report_header(config: pytest.Config) -> list[str]:
    from .session import harness_run

    settings = harness_run(config).settings
    model = settings.model_override or "as each case file says"
    return [f"vision-harness: model {model}, device {settings.device or 'auto'}"]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    from .session import harness_run

    run = harness_run(config)
    if not run.verdicts and not run.models.loaded():
        return
    passed = sum(v.passed for v in run.verdicts.values())
    terminalreporter.section("vision-harness")
    terminalreporter.write_line(
        f"cases judged: {len(run.verdicts)}, passed {passed}, failed {len(run.verdicts) - passed}"
    )
    for model in run.models.loaded():
        rate = model.images_predicted / model.seconds_predicting if model.seconds_predicting else 0.0
        terminalreporter.write_line(
            f"model {model.spec} ({model.task}, device {model.device or 'auto'}): "
            f"{model.images_predicted} images predicted in {model.seconds_predicting:.1f} s ({rate:.1f} images/s)"
        )
