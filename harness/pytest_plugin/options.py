"""The plugin's command-line options and ini settings (``pytest --help``, section vision-harness)."""

from __future__ import annotations

import pytest

from harness.core.config import DEFAULT_RESAMPLES
from harness.reports.run_outputs import OVERLAY_MODES


def add_options(parser: pytest.Parser) -> None:
    """Every option and ini setting of the plugin, in pytest's vision-harness section."""
    group = parser.getgroup("vision-harness", "vision-harness: golden cases for YOLO models")
    _add_model_options(group)
    _add_baseline_options(group)
    _add_case_options(group)
    _add_output_options(group)
    _add_ini(parser)


def _add_model_options(group) -> None:
    """Which model runs, where, and how its predictions are kept."""
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
        "directory nor the shared one (--cache-clear empties the local one)",
    )
    group.addoption(
        "--harness-cache-url",
        metavar="URL",
        help="a shared prediction cache beside the local one, as an fsspec URL: s3://bucket/prefix, gs://..., "
        "file:///mnt/shared/cache (default: harness_cache_url ini; credentials from the environment; docs/scale.md)",
    )
    group.addoption(
        "--harness-trust-pickles",
        action="store_true",
        help="load .pt models as plain pickles, which run any code they hold; by default they are loaded with "
        "Ultralytics' safe loading, which refuses anything but a model checkpoint (see docs/security.md)",
    )


def _add_baseline_options(group) -> None:
    """Comparing a run with a saved one (the regression gate's memory)."""
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


def _add_case_options(group) -> None:
    """Rewriting cases, and what the case files' search: and compare_to: do."""
    group.addoption(
        "--harness-confidence",
        metavar="C",
        type=float,
        help="significance rule (e.g. 0.95): fail a baseline drop only when it exceeds --harness-max-drop with "
        "confidence C, and a metric gate only when the metric is below its minimum with confidence C; "
        "default: the point rule (see docs/gates.md)",
    )
    group.addoption(
        "--harness-bootstrap",
        metavar="N",
        type=int,
        help=f"resamples of the cases for confidence intervals of suite metrics, shown in the summary; 0 turns "
        f"them off (default: harness_bootstrap ini, else {DEFAULT_RESAMPLES} where something uses them: the JSON "
        "record, the HTML report, --harness-confidence, a gate's confidence)",
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
        default=25,  # casefile/search_spec.py's DEFAULT_EXAMPLES, not imported here: it would import numpy for --help
        help="images each search (search: in case files) judges looking for a break; shrinking a break "
        "judges at most 4N more (default: 25)",
    )
    group.addoption(
        "--harness-compare-to",
        metavar="PATH",
        help="export parity: add a CASE[parity] item to every case, failing unless this model (e.g. a fresh "
        "`yolo export format=onnx dynamic=True` of the same weights) predicts the same objects as the model, "
        "pair by pair; replaces the case files' compare_to, keeping their tolerances (see docs/robustness.md)",
    )


def _add_ini(parser: pytest.Parser) -> None:
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
    parser.addini(
        "harness_trust_pickles",
        "load .pt models as plain pickles, which run any code they hold (default: false, safe loading)",
        type="bool",
        default=False,
    )
    parser.addini(
        "harness_cache_url", "a shared prediction cache: an fsspec URL, e.g. s3://bucket/prefix (docs/scale.md)"
    )
    parser.addini(
        "harness_bootstrap",
        f"resamples for confidence intervals, in every summary; 0: none (default: {DEFAULT_RESAMPLES}, when used)",
    )
    parser.addini("harness_files", "glob patterns of case-file names (default: *.yaml *.yml)", type="args")
    parser.addini(
        "harness_max_case_file_mb",
        "case files bigger than this are refused unread (default: 4; parsing takes about 100x the file in memory)",
    )


def _add_output_options(group) -> None:
    """Overlay pictures and reports (harness/reports/run_outputs.py)."""
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
