"""What the subcommands share: finding case files, the help layout, options several commands take."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

import yaml

from harness.core.errors import HarnessError


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


def add_target_options(parser: argparse.ArgumentParser, what: str) -> None:
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
    add_trust_option(parser)


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-pickles",
        action="store_true",
        help="load .pt models as plain pickles, which run any code they hold; by default they are loaded with "
        "Ultralytics' safe loading, which refuses anything but a model checkpoint (see docs/security.md)",
    )


def command(commands, name: str, help: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose description is wrapped and whose examples (the epilog) are kept as written."""
    return commands.add_parser(name, help=help, description=description, epilog=epilog, formatter_class=_Help)
