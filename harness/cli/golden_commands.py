"""The subcommands that add and check golden cases: ``import``, ``export``, ``new``, ``review`` (and
``review --serve``, the review app)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from harness.cli.common import add_target_options, add_trust_option, command
from harness.core.config import resolve_model
from harness.core.errors import HarnessError, display_path


def run_import(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.golden.record import add_cases, target

    model, predict = target(args.out, args.model, dict(args.predict), trust_pickles=args.trust_pickles)
    if args.format == "coco":
        from harness.golden.coco import read_coco  # per format: pycocotools only for COCO

        cases = read_coco(args.source, args.images, model)
    elif args.format == "dota":
        from harness.golden.dota import read_dota  # per format

        cases = read_dota(args.source, args.images, model)
    elif args.format == "folder":
        from harness.golden.image_folder import read_image_folder  # per format

        cases = read_image_folder(args.source, args.split or None, model)
    else:
        from harness.golden.yolo import read_yolo  # per format

        cases = read_yolo(args.source, args.split, model)
    from harness.golden.keypoint_blocks import keypoint_block  # per command, as the readers

    keypoints = keypoint_block(args.source, args.format) if model.task == "pose" else None
    if args.tag:
        cases = [replace(case, tags=tuple(dict.fromkeys([*case.tags, *args.tag]))) for case in cases]
    header = f"Imported by vision-harness from {args.source.name} ({args.format}): a person's annotations."
    names = add_cases(args.out, cases, model=model, predict=predict, header=header, keypoints=keypoints)
    objects = sum(len(case.objects) for case in cases)
    print(f"{display_path(args.out)}: {len(names)} cases, {objects} objects imported from {args.source}", file=out)
    return 0


def run_export(args: argparse.Namespace, out) -> int:
    if args.format in ("dota", "folder"):
        return _export_folder(args, out)
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.casefile.load import load_case_file
    from harness.golden.coco import write_coco
    from harness.golden.record import ModelInfo

    model = load_case_file(args.case_file, check_model=False).model
    # The model's classes become the categories (class indices), in its order, where the model is at hand.
    names = ModelInfo.load(model, trust_pickles=args.trust_pickles).names if model and Path(model).is_file() else ()
    if args.format == "yolo":
        return _export_folder(args, out, names)
    target = args.out or args.case_file.with_suffix(".json")
    count = write_coco(args.case_file, target, images=args.images, class_names=names)
    print(f"{display_path(target)}: {count} images exported from {display_path(args.case_file)}", file=out)
    return 0


def _export_folder(args: argparse.Namespace, out, names=()) -> int:
    """``export dota``, ``folder`` and ``yolo``: a folder of pictures and their labels."""
    if args.format == "yolo":
        from harness.golden.yolo_export import write_yolo  # per format, as the readers

        exported = write_yolo(args.case_file, args.out, split=args.split, symlink=args.symlink, class_names=names)
    elif args.format == "dota":
        from harness.golden.dota_export import write_dota  # per format, as the readers

        exported = write_dota(args.case_file, args.out, symlink=args.symlink)
    else:
        from harness.golden.image_folder_export import write_image_folder  # per format, as the readers

        exported = write_image_folder(args.case_file, args.out, split=args.split, symlink=args.symlink)
    how = "linked" if args.symlink else "copied"
    source = display_path(args.case_file)
    print(f"{display_path(args.out)}: {len(exported.cases)} cases exported from {source}, images {how}", file=out)
    if exported.awaiting_review:
        names = ", ".join(exported.awaiting_review)
        print(f"left out, awaiting review (`vision-harness review {source}`): {names}", file=out)
    if exported.crowd:  # Ultralytics' labels have no crowd flag
        print(f"left out, crowd regions (YOLO labels have no crowd flag), of: {', '.join(exported.crowd)}", file=out)
    return 0


def run_new(args: argparse.Namespace, out) -> int:
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


def run_review(args: argparse.Namespace, out) -> int:
    if args.serve:
        return _serve(args, out)
    if len(args.case_files) > 1:
        raise HarnessError("give one case file (or --serve, to review several in the browser)")
    args.case_file = args.case_files[0]
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


def _serve(args: argparse.Namespace, out) -> int:
    """``review --serve``: the review app, if its server libraries (the ``review`` extra) are installed."""
    if args.mark_reviewed or args.all or args.case:
        raise HarnessError(
            "--serve opens the app, where cases are marked reviewed: leave out --mark-reviewed, --all, --case"
        )
    try:
        # Imported per subcommand: the server libraries are an optional extra, and slow to import.
        from harness.review_app.server import review_app
    except ModuleNotFoundError as exc:
        raise HarnessError(
            f"the review app needs {str(exc.name).split('.')[0]}, which is not installed: "
            "pip install 'vision-harness[review]'"
        ) from None
    missing = [str(path) for path in args.case_files if not path.is_file()]
    if missing or (args.record and not args.record.is_file()):
        raise HarnessError(f"no such file: {', '.join(missing or [str(args.record)])}")
    model = resolve_model(args.model, Path.cwd()) if args.model else None
    return review_app(
        list(args.case_files),
        port=args.port,
        open_browser=not args.no_browser,
        record=args.record,
        model=model,
        device=args.device,
        out=out,
    )


def add_serve_options(reviewing: argparse.ArgumentParser) -> None:
    serving = reviewing.add_argument_group("the review app (--serve; needs pip install 'vision-harness[review]')")
    serving.add_argument("--serve", action="store_true", help="open the review app in the browser")
    serving.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serving.add_argument("--no-browser", action="store_true", help="print the address, open no browser")
    serving.add_argument(
        "--record", type=Path, metavar="RUN.json", help="a --harness-json run record: its failing cases can be listed"
    )
    serving.add_argument(
        "--model", metavar="PATH", help="judge with this model instead of each file's, as --harness-model"
    )
    serving.add_argument("--device", help="inference device, e.g. cpu or cuda:0 (default: Ultralytics' choice)")


def add_import(commands) -> None:
    importing = command(
        commands,
        "import",
        "golden cases from COCO JSON or a YOLO dataset",
        "Write golden cases from annotations you already have, one case per image. Class names map by name to "
        "the model's. The cases are a person's annotations, so they run as golden at once.",
    )
    formats = importing.add_subparsers(dest="format", required=True, metavar="FORMAT")
    coco = command(
        formats,
        "coco",
        "COCO JSON (CVAT, Label Studio, COCO): boxes, polygons, RLE, iscrowd",
        "Import a COCO annotation file: bbox, segmentation polygons or RLE, iscrowd regions (crowd: true).",
        "example:\n  vision-harness import coco export.json --images frames/ --out cases/night.yaml --model best.pt "
        "--predict conf=0.25",
    )
    coco.add_argument("source", type=Path, metavar="ANNOTATIONS.json")
    coco.add_argument("--images", type=Path, required=True, metavar="DIR", help="the folder file_name is relative to")
    yolo = command(
        formats,
        "yolo",
        "an Ultralytics dataset (data.yaml with box or polygon labels)",
        "Import one split of an Ultralytics YOLO dataset: box rows (class cx cy w h) and polygon rows, normalised.",
        "example:\n  vision-harness import yolo data.yaml --split val --out cases/val.yaml --model best.pt",
    )
    yolo.add_argument("source", type=Path, metavar="data.yaml")
    yolo.add_argument("--split", default="val", choices=("train", "val", "test"), help="default: val")
    folder = command(
        formats,
        "folder",
        "an ImageFolder tree (SPLIT/CLASS/*.jpg) for a classify model",
        "Import one split of an ImageFolder tree, Ultralytics' classify layout: each image a case whose label is "
        "the name of its folder.",
        "example:\n  vision-harness import folder data/ --split val --out cases/labels.yaml --model best-cls.pt",
    )
    folder.add_argument("source", type=Path, metavar="ROOT")
    folder.add_argument("--split", default="val", help="the folder under ROOT holding the class folders ('' for ROOT)")
    dota = command(
        formats,
        "dota",
        "DOTA labels (x1 y1 ... x4 y4 category difficult, pixels) for an obb model",
        "Import a folder of DOTA label files, one per picture: oriented boxes in pixels; difficult objects "
        "become crowd regions (DOTA's evaluation ignores them).",
        "example:\n  vision-harness import dota labelTxt/ --images images/ --out cases/aerial.yaml --model best-obb.pt",
    )
    dota.add_argument("source", type=Path, metavar="LABELS_DIR")
    dota.add_argument("--images", type=Path, required=True, metavar="DIR", help="the folder holding the pictures")
    for sub in (coco, yolo, folder, dota):
        add_target_options(sub, "the imported cases")
        sub.add_argument(
            "--tag",
            action="append",
            default=[],
            metavar="TAG",
            help="tag every imported case (repeatable), to select them with pytest -m TAG",
        )


def add_export(commands) -> None:
    description = (
        "Write a case file's cases in the format that fits its task: COCO JSON (detect, segment, pose), DOTA "
        "labels (obb), an ImageFolder tree (classify) or an Ultralytics dataset (all but classify), for an annotation "
        "tool, another evaluator or training. "
        "Each format imports back with `vision-harness import` of the same name."
    )
    example = (
        "examples:\n  vision-harness export coco cases/night.yaml --out night.json\n"
        "  vision-harness export dota cases/shapes-obb.yaml --out exported/dota\n"
        "  vision-harness export folder cases/shapes-classify.yaml --out exported/tree\n"
        "  vision-harness export yolo cases/shapes-seg.yaml --out exported/yolo"
    )
    exporting = command(
        commands, "export", "a case file as COCO JSON, DOTA, an ImageFolder tree or YOLO labels", description, example
    )
    formats = exporting.add_subparsers(dest="format", required=True, metavar="FORMAT")
    _add_coco_export(formats)
    _add_folder_exports(formats)


def _add_coco_export(formats) -> None:
    description = (
        "Write a detect, segment or pose case file as COCO JSON, for an annotation tool or another evaluator. Case "
        "names, tags, thresholds and the review flag travel in a vision_harness key, so `import coco` gives the "
        "same cases back."
    )
    example = "example:\n  vision-harness export coco cases/night.yaml --out night.json"
    coco = command(formats, "coco", "COCO JSON, for detect, segment and pose case files", description, example)
    coco.add_argument("case_file", type=Path, metavar="CASES.yaml")
    coco.add_argument("--out", type=Path, metavar="FILE.json", help="default: the case file with .json")
    coco.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="make file_name relative to DIR (default: the deepest folder holding every image)",
    )
    add_trust_option(coco)


def _add_folder_exports(formats) -> None:
    dota = command(
        formats,
        "dota",
        "DOTA labels and their pictures, for obb case files",
        "Write an obb case file as DOTA: OUT/images/NAME.png and OUT/labelTxt/NAME.txt (x1 y1 ... x4 y4 category "
        "difficult, pixels) for each case, NAME its case name; a crowd object is difficult. Tags and thresholds "
        "are not exported. `import dota OUT/labelTxt --images OUT/images` gives the cases back.",
        "example:\n  vision-harness export dota cases/shapes-obb.yaml --out exported/dota",
    )
    folder = command(
        formats,
        "folder",
        "an ImageFolder tree (OUT/LABEL/NAME.png), for classify case files",
        "Write a classify case file as an ImageFolder tree, Ultralytics' classify layout: OUT[/SPLIT]/LABEL/NAME.png "
        "for each case, NAME its case name. A case with several accepted labels is refused; min_confidence, top_k "
        "and tags are not exported. `import folder OUT --split SPLIT` gives the cases back.",
        "example:\n  vision-harness export folder cases/shapes-classify.yaml --out exported/tree --split val",
    )
    folder.add_argument("--split", default="", help="write the class folders under OUT/SPLIT (default: under OUT)")
    yolo = command(
        formats,
        "yolo",
        "an Ultralytics dataset (data.yaml, images/, labels/), for detect, segment, pose and obb case files",
        "Write a case file as an Ultralytics YOLO dataset: OUT/data.yaml, OUT/images/SPLIT/NAME.png and "
        "OUT/labels/SPLIT/NAME.txt (normalised label lines) for each case, NAME its case name. Crowd regions are "
        "left out; RLE and PNG masks are refused. `import yolo OUT/data.yaml --split SPLIT` gives the cases back.",
        "example:\n  vision-harness export yolo cases/shapes-pose.yaml --out exported/yolo --split val",
    )
    yolo.add_argument("--split", default="val", choices=("train", "val", "test"), help="default: val")
    add_trust_option(yolo)
    for sub in (dota, folder, yolo):
        sub.add_argument("case_file", type=Path, metavar="CASES.yaml")
        sub.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new (or empty) folder")
        sub.add_argument("--symlink", action="store_true", help="link the pictures instead of copying them")
