"""``vision-harness compare``: two models on the same case files, suite by suite and case by case."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli.common import case_files, command
from harness.core.config import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, check_confidence, resolve_model
from harness.core.errors import CaseFileError, HarnessError, display_path


def compare(
    paths: Sequence[Path],
    models: Sequence[str],
    device: str | None,
    out=None,
    *,
    trust_pickles: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    max_drop: float = 0.01,
) -> int:
    """Print per-suite metrics with the paired change, what each suite can detect, and per-case
    verdicts for two models (harness/reports/comparison.py); 2 when a suite could not run."""
    out = out or sys.stdout
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.casefile.load import load_case_file
    from harness.evaluation.models import ModelPool
    from harness.evaluation.suites import Judge
    from harness.reports.comparison import model_comparison

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
        lines = model_comparison(a, b, names, resamples=resamples, confidence=confidence, max_drop=max_drop)
        print("\n".join(lines), file=out)
    return status


def compare_records(records: Sequence[Path], out=None) -> int:
    """Two run records (--harness-json) of the same cases: metric changes and verdict flips."""
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.reports.comparison import record_comparison

    out = out or sys.stdout
    documents = []
    for path in records:
        try:
            documents.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise HarnessError(f"{path}: cannot read it as a run record (--harness-json): {exc}") from None
        if not isinstance(documents[-1], dict) or documents[-1].get("schema") != "vision-harness/run-record":
            raise HarnessError(f"{path}: not a vision-harness run record (write one with pytest --harness-json)")
    try:
        lines = record_comparison(*documents, [p.name for p in records])
    except (KeyError, TypeError, IndexError) as exc:
        raise HarnessError(
            f"{records[0]} or {records[1]}: not a complete run record ({exc!r} missing or malformed)"
        ) from None
    print("\n".join(lines), file=out)
    return 0


def add_compare(commands) -> argparse.ArgumentParser:
    """The ``compare`` subcommand's parser."""
    comparing = command(
        commands,
        "compare",
        "compare two models on the same golden cases",
        "Run two models over the same case files and print suite-metric and per-case deltas "
        "(second model minus first), each change with its paired bootstrap interval, what each suite can "
        "detect, and the cases whose verdict flips. No baseline file is needed. Or, with --records, compare "
        "two run records (pytest --harness-json) of the same cases, e.g. CPU and CUDA, FP32 and FP16.",
    )
    comparing.add_argument("paths", nargs="*", type=Path, help="case files, or folders to search for them")
    comparing.add_argument("--model", action="append", default=[], metavar="PATH", help="give exactly twice: A, B")
    comparing.add_argument(
        "--records", nargs=2, type=Path, metavar=("A.json", "B.json"), help="compare two run records instead"
    )
    comparing.add_argument(
        "--confidence", type=float, default=DEFAULT_CONFIDENCE, help="of the intervals and the rule (default: 0.95)"
    )
    comparing.add_argument("--max-drop", type=float, default=0.01, help="allowed drop (default: 0.01)")
    comparing.add_argument(
        "--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N", help="resamples; 0: no intervals"
    )
    comparing.add_argument("--device", help="inference device, e.g. cpu or cuda:0 (default: Ultralytics' choice)")
    return comparing


def check_compare(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.records and (args.paths or args.model):
        parser.error("compare takes either --records A.json B.json, or case files and --model twice")
    if not args.records and (len(args.model) != 2 or not args.paths):
        parser.error(f"compare needs case files and --model exactly twice, got {len(args.model)} --model")
    problem = check_confidence(args.confidence)
    if problem:
        parser.error(f"--confidence: {problem}")
    if args.bootstrap != 0 and args.bootstrap < 100:
        parser.error(f"--bootstrap {args.bootstrap}: use 0 (no intervals) or 100 or more resamples")
