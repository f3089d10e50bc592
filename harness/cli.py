"""The ``vision-harness`` command line.

vision-harness compare cases/ --model A.pt --model B.pt   # per-suite and per-case deltas, no baseline needed
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import HarnessError, display_path
from .report import table

HEADLINE = ("map50_95", "map50", "map75", "precision", "recall", "f1")


def case_files(paths: Iterable[Path]) -> list[Path]:
    """Case files named, or found under the folders named (YAML files with a top-level ``cases:``)."""
    from .collect import is_case_file

    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml") and is_case_file(p))
        elif path.is_file():
            found.append(path)
        else:
            raise HarnessError(f"{path}: no such file or folder")
    return found


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _change(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{b - a:+.4f}"


def compare(paths: Sequence[Path], models: Sequence[str], device: str | None, out=None) -> int:
    """Print per-suite metrics and per-case worst IoU for two models; 2 when a suite could not run."""
    out = out or sys.stdout
    from .cases import load_case_file
    from .config import resolve_model
    from .errors import CaseFileError
    from .suites import Judge

    judge = Judge(device)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vision-harness",
        description="Golden-case tools for Ultralytics YOLO models. Run the cases themselves with pytest.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    comparing = commands.add_parser(
        "compare",
        help="compare two models on the same golden cases",
        description="Run two models over the same case files and print suite-metric and per-case deltas "
        "(second model minus first), worst first. No baseline file is needed.",
    )
    comparing.add_argument("paths", nargs="+", type=Path, help="case files, or folders to search for them")
    comparing.add_argument("--model", action="append", required=True, metavar="PATH", help="give exactly twice: A, B")
    comparing.add_argument("--device", help="inference device, e.g. cpu or cuda:0 (default: Ultralytics' choice)")
    args = parser.parse_args(argv)
    if len(args.model) != 2:
        parser.error(f"compare needs --model exactly twice, got {len(args.model)}")
    try:
        return compare(args.paths, args.model, args.device)
    except (HarnessError, FileNotFoundError) as exc:
        print(f"vision-harness: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
