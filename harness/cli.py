"""The ``vision-harness`` command line.

vision-harness compare cases/ --model A.pt --model B.pt   # per-suite and per-case deltas, no baseline needed
vision-harness import coco|yolo ... / export coco / new / review   # adding golden cases: docs/adding-cases.md
vision-harness predict cases/ [--ray local|ADDRESS] [--cache-url s3://...]   # fill the cache ahead: docs/scale.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from harness.core.config import resolve_model
from harness.core.errors import CaseFileError, HarnessError, display_path
from harness.core.text import table

HEADLINE = ("map50_95", "map50", "map75", "precision", "recall", "f1")


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
    _add_trust_option(parser)


def _add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-pickles",
        action="store_true",
        help="load .pt models as plain pickles, which run any code they hold; by default they are loaded with "
        "Ultralytics' safe loading, which refuses anything but a model checkpoint (see docs/security.md)",
    )


def _import(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.golden.record import add_cases, target

    model, predict = target(args.out, args.model, dict(args.predict), trust_pickles=args.trust_pickles)
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
    names = ModelInfo.load(model, trust_pickles=args.trust_pickles).names if model and Path(model).is_file() else ()
    count = write_coco(args.case_file, target, images=args.images, class_names=names)
    print(f"{display_path(target)}: {count} images exported from {display_path(args.case_file)}", file=out)
    return 0


def _new(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.golden.record import record, target

    model, predict = target(args.out, args.model, dict(args.predict), trust_pickles=args.trust_pickles)
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


def _predict(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.evaluation.predict_jobs import CacheTarget
    from harness.robustness.plan import predict_ahead

    folder = None if args.no_local_cache else args.cache_dir / "d" / "vision-harness"  # where pytest keeps it
    target = CacheTarget(folder, args.cache_url, args.device, args.half, args.batch, trust_pickles=args.trust_pickles)
    model = resolve_model(args.model, Path.cwd()) if args.model else None
    print(*predict_ahead(case_files(args.paths), target, model_override=model, ray=args.ray), sep="\n", file=out)
    return 0


def _add_predict(commands) -> None:
    predicting = _command(
        commands,
        "predict",
        "fill the prediction cache ahead of a pytest run, here or on Ray",
        "Predict the images `pytest PATHS` needs (variants and parity too; not searches) that the cache lacks, into "
        "pytest's cache folder and/or a shared cache, for the run to judge from (docs/scale.md).",
        "examples:\n  vision-harness predict cases/                  # a CI warm-up step\n"
        "  vision-harness predict cases/ --ray ray://head:10001 --cache-url s3://ci-cache/harness",
    )
    predicting.add_argument("paths", nargs="+", type=Path, help="case files, or folders to search for them")
    predicting.add_argument("--ray", metavar="ADDRESS", help="run on Ray: 'local' starts one here, else a cluster")
    predicting.add_argument("--cache-dir", type=Path, default=Path(".pytest_cache"), help="pytest's cache_dir")
    predicting.add_argument("--no-local-cache", action="store_true", help="write the shared cache only")
    for name, kind in (("model", str), ("cache-url", str), ("device", str), ("batch", int), ("half", bool)):
        extra = {"action": "store_true"} if kind is bool else {"type": kind}
        predicting.add_argument(f"--{name}", help=f"as pytest's --harness-{name} (the cache keys match)", **extra)
    _add_trust_option(predicting)


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
        "(second model minus first), worst first. No baseline file is needed.",
    )
    comparing.add_argument("paths", nargs="+", type=Path, help="case files, or folders to search for them")
    comparing.add_argument("--model", action="append", required=True, metavar="PATH", help="give exactly twice: A, B")
    comparing.add_argument("--device", help="inference device, e.g. cpu or cuda:0 (default: Ultralytics' choice)")
    _add_trust_option(comparing)
    _add_import(commands)
    _add_export(commands)
    _add_predict(commands)
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
    _add_trust_option(coco)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "compare" and len(args.model) != 2:
        parser.error(f"compare needs --model exactly twice, got {len(args.model)}")
    run = {"compare": None, "import": _import, "export": _export, "new": _new, "review": _review, "predict": _predict}[
        args.command
    ]
    try:
        if run is None:
            return compare(args.paths, args.model, args.device, trust_pickles=args.trust_pickles)
        return run(args, sys.stdout)
    except (HarnessError, FileNotFoundError) as exc:
        print(f"vision-harness: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
