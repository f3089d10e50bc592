"""The ``vision-harness`` command line: the parser of every subcommand, and ``main``.

vision-harness compare cases/ --model A.pt --model B.pt   # per-suite and per-case deltas, no baseline needed
vision-harness compare --records cpu.json cuda.json      # two runs' metrics and the cases whose verdict flips
vision-harness import coco|yolo ... / export coco / new / review   # adding golden cases: docs/adding-cases.md
vision-harness predict cases/ [--ray local|ADDRESS] [--cache-url s3://...]   # fill the cache ahead: docs/scale.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli.common import add_target_options, add_trust_option, command
from harness.cli.compare import add_compare, check_compare, compare, compare_records
from harness.cli.golden_commands import (
    add_export,
    add_import,
    add_serve_options,
    run_export,
    run_import,
    run_new,
    run_review,
)
from harness.cli.predict import add_predict, run_predict
from harness.core.errors import HarnessError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vision-harness",
        description="Golden-case tools for Ultralytics YOLO models: add cases (import, new), check them "
        "(review), export them, compare models. Run the cases themselves with pytest.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_trust_option(add_compare(commands))
    add_import(commands)
    add_export(commands)
    add_predict(commands)
    recording = command(
        commands,
        "new",
        "record cases from a model's predictions (to review before they count)",
        "Write one case per image from the model's predictions: boxes, and the exact predicted masks as RLE. "
        "The cases are marked `recorded: {reviewed: false}`: pytest skips them until you check them "
        "(vision-harness review) and mark them reviewed.",
        "examples:\n  vision-harness new shots/*.png --model best.pt --out cases/new.yaml --predict conf=0.4\n"
        "  vision-harness new shots/0413.png --out cases/new.yaml      # add to it: its model, its predict arguments",
    )
    recording.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    add_target_options(recording, "the recorded cases")
    recording.add_argument("--device", help="inference device, e.g. cpu or cuda:0 (default: Ultralytics' choice)")
    reviewing = command(
        commands,
        "review",
        "check recorded cases: pictures, or the review app (--serve); --mark-reviewed once checked",
        "Write a picture per case that waits for review, its expected objects drawn on the image. Check them; "
        "correct the case file where the model was wrong; then run again with --mark-reviewed. "
        "With --serve, open the review app instead: a local web page to correct the cases on their pictures "
        "and mark them reviewed (docs/review-app.md).",
        "examples:\n  vision-harness review cases/new.yaml                  # review/new/<case>.png\n"
        "  vision-harness review cases/new.yaml --mark-reviewed\n"
        "  vision-harness review cases/*.yaml --serve --record run.json   # the app; failing cases from a run",
    )
    reviewing.add_argument("case_files", nargs="+", type=Path, metavar="CASES.yaml")
    reviewing.add_argument(
        "--out",
        type=Path,
        default=Path("review"),
        metavar="DIR",
        help="folder for the pictures (default: ./review), one subfolder per case file",
    )
    reviewing.add_argument("--case", action="append", default=[], metavar="NAME", help="only this case (repeatable)")
    reviewing.add_argument("--all", action="store_true", help="draw every case, reviewed or not")
    reviewing.add_argument(
        "--mark-reviewed",
        action="store_true",
        help="set reviewed: true on the cases waiting for review (or those given with --case); draws nothing",
    )
    add_serve_options(reviewing)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "compare":
        check_compare(parser, args)
    run = {
        "compare": None,
        "import": run_import,
        "export": run_export,
        "new": run_new,
        "review": run_review,
        "predict": run_predict,
    }[args.command]
    try:
        if run is None and args.records:
            return compare_records(args.records)
        if run is None:
            return compare(
                args.paths,
                args.model,
                args.device,
                trust_pickles=args.trust_pickles,
                resamples=args.bootstrap,
                confidence=args.confidence,
                max_drop=args.max_drop,
            )
        return run(args, sys.stdout)
    except (HarnessError, FileNotFoundError) as exc:
        print(f"vision-harness: {exc}", file=sys.stderr)
        return 2
