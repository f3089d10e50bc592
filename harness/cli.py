"""The ``vision-harness`` command line.

vision-harness compare cases/ --model A.pt --model B.pt   # per-suite and per-case deltas, no baseline needed
vision-harness compare --records cpu.json cuda.json      # two runs' metrics and the cases whose verdict flips
vision-harness import coco|yolo ... / export coco / new / review   # adding golden cases: docs/adding-cases.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from harness.core.config import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, check_confidence, resolve_model
from harness.core.errors import CaseFileError, HarnessError, display_path


def case_files(paths: Iterable[Path]) -> list[Path]:
    """Case files named, or found under the folders named (YAML files with a top-level ``cases:``)."""
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.casefile.discover import is_case_file

    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml") and is_case_file(p))
        elif path.is_file():
            found.append(path)
        else:
            raise HarnessError(f"{path}: no such file or folder")
    return found


def compare(
    paths: Sequence[Path],
    models: Sequence[str],
    device: str | None,
    out=None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    max_drop: float = 0.01,
) -> int:
    """Print per-suite metrics with the paired change, what each suite can detect, and per-case
    verdicts for two models (harness/reports/comparison.py); 2 when a suite could not run."""
    out = out or sys.stdout
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.casefile.load import load_case_file
    from harness.evaluation.suites import Judge
    from harness.reports.comparison import model_comparison

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
        lines = model_comparison(a, b, names, resamples=resamples, confidence=confidence, max_drop=max_drop)
        print("\n".join(lines), file=out)
    return status


def compare_records(records: Sequence[Path], out=None) -> int:
    """Two run records (--harness-json) of the same cases: metric changes and verdict flips."""
    import json

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


class _Help(argparse.HelpFormatter):
    """Descriptions wrapped as usual; epilog lines indented by two spaces (the examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            indent + line if line.startswith("  ") else super(_Help, self)._fill_text(line, width, indent)
            for line in text.split("\n")
        )


def _predict_argument(text: str) -> tuple[str, object]:
    """``--predict imgsz=256``: a name and a YAML value (``true``, ``0.25``, ``[640, 480]``)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, e.g. imgsz=640, got {text!r}")
    return name, yaml.safe_load(value)


def _add_target_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="CASES.yaml",
        help=f"case file to write {what} to: "
        "a new file, or an existing one to append to (its model and predict arguments are kept)",
    )
    parser.add_argument(
        "--model",
        metavar="PATH",
        help="the model the cases are for; required for a new file. Class names must be the model's",
    )
    parser.add_argument(
        "--predict",
        action="append",
        type=_predict_argument,
        default=[],
        metavar="NAME=VALUE",
        help="Ultralytics predict argument for a new file, repeatable, e.g. --predict imgsz=640 --predict conf=0.25",
    )


def _import(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.golden.record import add_cases, target

    model, predict = target(args.out, args.model, dict(args.predict))
    if args.format == "coco":
        from harness.golden.coco import read_coco  # per format: pycocotools only for COCO

        cases = read_coco(args.source, args.images, model)
    else:
        from harness.golden.yolo import read_yolo  # per format

        cases = read_yolo(args.source, args.split, model)
    if args.tag:
        cases = [replace(case, tags=tuple(dict.fromkeys([*case.tags, *args.tag]))) for case in cases]
    header = f"Imported by vision-harness from {args.source.name} ({args.format}): a person's annotations."
    names = add_cases(args.out, cases, model=model, predict=predict, header=header)
    objects = sum(len(case.objects) for case in cases)
    print(f"{display_path(args.out)}: {len(names)} cases, {objects} objects imported from {args.source}", file=out)
    return 0


def _export(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.casefile.load import load_case_file
    from harness.golden.coco import write_coco
    from harness.golden.record import ModelInfo

    target = args.out or args.case_file.with_suffix(".json")
    model = load_case_file(args.case_file, check_model=False).model
    # The model's classes become the categories, in its order, where the model is at hand.
    names = ModelInfo.load(model).names if model and Path(model).is_file() else ()
    count = write_coco(args.case_file, target, images=args.images, class_names=names)
    print(f"{display_path(target)}: {count} images exported from {display_path(args.case_file)}", file=out)
    return 0


def _new(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.golden.record import record, target

    model, predict = target(args.out, args.model, dict(args.predict))
    missing = [str(image) for image in args.images if not image.is_file()]
    if missing:
        raise HarnessError(f"no such image: {', '.join(missing)}")
    names = record(args.images, args.out, model=model, predict=predict, device=args.device)
    print(f"{display_path(args.out)}: recorded {len(names)} cases from {model.name}: {', '.join(names)}", file=out)
    print(f"not reviewed yet, so pytest skips them: check them with `vision-harness review {args.out}`", file=out)
    return 0


def _review(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.golden.review import mark_reviewed, write_overlays

    if args.mark_reviewed:
        names = mark_reviewed(args.case_file, args.case or None)
        print(f"{display_path(args.case_file)}: marked reviewed: {', '.join(names) or 'none waiting'}", file=out)
        return 0
    written = write_overlays(args.case_file, args.out, args.case or None, everything=args.all)
    for name, path in written:
        print(f"{name}: {display_path(path)}", file=out)
    if not written:
        print(f"{display_path(args.case_file)}: no case waits for review (--all draws every case)", file=out)
    else:
        print(f"check each picture, then: vision-harness review {args.case_file} --mark-reviewed", file=out)
    return 0


def _command(commands, name: str, help: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose description is wrapped and whose examples (the epilog) are kept as written."""
    return commands.add_parser(name, help=help, description=description, epilog=epilog, formatter_class=_Help)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vision-harness",
        description="Golden-case tools for Ultralytics YOLO models: add cases (import, new), check them "
        "(review), export them, compare models. Run the cases themselves with pytest.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    comparing = _command(
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
    _add_import(commands)
    _add_export(commands)
    recording = _command(
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
    _add_target_options(recording, "the recorded cases")
    recording.add_argument("--device", help="inference device, e.g. cpu or cuda:0 (default: Ultralytics' choice)")
    reviewing = _command(
        commands,
        "review",
        "draw recorded cases for checking; --mark-reviewed once checked",
        "Write a picture per case that waits for review, its expected objects drawn on the image. Check them; "
        "correct the case file where the model was wrong; then run again with --mark-reviewed.",
        "examples:\n  vision-harness review cases/new.yaml                  # review/new/<case>.png\n"
        "  vision-harness review cases/new.yaml --mark-reviewed",
    )
    reviewing.add_argument("case_file", type=Path, metavar="CASES.yaml")
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
    return parser


def _add_import(commands) -> None:
    importing = _command(
        commands,
        "import",
        "golden cases from COCO JSON or a YOLO dataset",
        "Write golden cases from annotations you already have, one case per image. Class names map by name to "
        "the model's. The cases are a person's annotations, so they run as golden at once.",
    )
    formats = importing.add_subparsers(dest="format", required=True, metavar="FORMAT")
    coco = _command(
        formats,
        "coco",
        "COCO JSON (CVAT, Label Studio, COCO): boxes, polygons, RLE, iscrowd",
        "Import a COCO annotation file: bbox, segmentation polygons or RLE, iscrowd regions (crowd: true).",
        "example:\n  vision-harness import coco export.json --images frames/ --out cases/night.yaml --model best.pt "
        "--predict conf=0.25",
    )
    coco.add_argument("source", type=Path, metavar="ANNOTATIONS.json")
    coco.add_argument("--images", type=Path, required=True, metavar="DIR", help="the folder file_name is relative to")
    yolo = _command(
        formats,
        "yolo",
        "an Ultralytics dataset (data.yaml with box or polygon labels)",
        "Import one split of an Ultralytics YOLO dataset: box rows (class cx cy w h) and polygon rows, normalised.",
        "example:\n  vision-harness import yolo data.yaml --split val --out cases/val.yaml --model best.pt",
    )
    yolo.add_argument("source", type=Path, metavar="data.yaml")
    yolo.add_argument("--split", default="val", choices=("train", "val", "test"), help="default: val")
    for sub in (coco, yolo):
        _add_target_options(sub, "the imported cases")
        sub.add_argument(
            "--tag",
            action="append",
            default=[],
            metavar="TAG",
            help="tag every imported case (repeatable), to select them with pytest -m TAG",
        )


def _add_export(commands) -> None:
    description = (
        "Write a case file's cases as COCO JSON, for an annotation tool or another evaluator. Case names, tags, "
        "thresholds and the review flag travel in a vision_harness key, so `import coco` gives the same cases back."
    )
    example = "example:\n  vision-harness export coco cases/night.yaml --out night.json"
    exporting = _command(
        commands, "export", "a case file as COCO JSON (import it back unchanged)", description, example
    )
    formats = exporting.add_subparsers(dest="format", required=True, metavar="FORMAT")
    coco = _command(formats, "coco", "COCO JSON", description, example)
    coco.add_argument("case_file", type=Path, metavar="CASES.yaml")
    coco.add_argument("--out", type=Path, metavar="FILE.json", help="default: the case file with .json")
    coco.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="make file_name relative to DIR (default: the deepest folder holding every image)",
    )


def _check_compare(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.records and (args.paths or args.model):
        parser.error("compare takes either --records A.json B.json, or case files and --model twice")
    if not args.records and (len(args.model) != 2 or not args.paths):
        parser.error(f"compare needs case files and --model exactly twice, got {len(args.model)} --model")
    problem = check_confidence(args.confidence)
    if problem:
        parser.error(f"--confidence: {problem}")
    if args.bootstrap != 0 and args.bootstrap < 100:
        parser.error(f"--bootstrap {args.bootstrap}: use 0 (no intervals) or 100 or more resamples")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "compare":
        _check_compare(parser, args)
    run = {"compare": None, "import": _import, "export": _export, "new": _new, "review": _review}[args.command]
    try:
        if run is None and args.records:
            return compare_records(args.records)
        if run is None:
            return compare(
                args.paths,
                args.model,
                args.device,
                resamples=args.bootstrap,
                confidence=args.confidence,
                max_drop=args.max_drop,
            )
        return run(args, sys.stdout)
    except (HarnessError, FileNotFoundError) as exc:
        print(f"vision-harness: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
