"""``vision-harness compare``: two models on the same case files, suite by suite and case by case."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli.common import case_files
from harness.core.config import resolve_model
from harness.core.errors import CaseFileError, HarnessError, display_path
from harness.core.text import table

HEADLINE = ("map50_95", "map50", "map75", "precision", "recall", "f1")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _change(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{b - a:+.4f}"


def compare(
    paths: Sequence[Path], models: Sequence[str], device: str | None, out=None, *, trust_pickles: bool = False
) -> int:
    """Print per-suite metrics and per-case worst IoU for two models; 2 when a suite could not run."""
    out = out or sys.stdout
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.casefile.load import load_case_file
    from harness.evaluation.models import ModelPool
    from harness.evaluation.suites import Judge

    judge = Judge(device, models=ModelPool(device, trust_pickles=trust_pickles))
    specs = [resolve_model(m, Path.cwd()) for m in models]
    names = [Path(spec).name for spec in specs]
    status = 0
    for path in case_files(paths):
        try:
            case_file = load_case_file(path, check_model=False)
            results = [judge.suite(case_file, spec) for spec in specs]
        except (CaseFileError, HarnessError) as exc:
            print(f"{display_path(path)}: cannot compare: {exc}", file=out)
            status = 2
            continue
        a, b = results
        print(f"\n{display_path(path)} ({len(a.verdicts)} cases): {names[0]} -> {names[1]}", file=out)
        rows = [["metric", names[0], names[1], "change"]]
        for kind in ("box", "mask"):
            for name in HEADLINE:
                key = f"{kind}.{name}"
                va, vb = a.metrics.values.get(key), b.metrics.values.get(key)
                if va is not None or vb is not None:
                    rows.append([key, _number(va), _number(vb), _change(va, vb)])
        print("\n".join(table(rows[0], rows[1:])), file=out)
        pairs = sorted(
            zip(a.verdicts, b.verdicts, strict=True),
            key=lambda pair: (pair[1].worst_iou or 0.0) - (pair[0].worst_iou or 0.0) if pair[0].objects else 1.0,
        )
        rows = [["case", f"worst IoU {names[0]}", f"worst IoU {names[1]}", "change", "verdicts"]]
        for va, vb in pairs:
            verdicts = f"{'pass' if va.passed else 'FAIL'} -> {'pass' if vb.passed else 'FAIL'}"
            rows.append(
                [
                    va.case.name,
                    _number(va.worst_iou),
                    _number(vb.worst_iou),
                    _change(va.worst_iou, vb.worst_iou),
                    verdicts,
                ]
            )
        print("\n".join(table(rows[0], rows[1:])), file=out)
    return status
