"""Front door, ``vision-harness``: the command line (``app.main``) and its subcommands, one module each
kind: adding and checking golden cases, comparing models, filling the prediction cache ahead."""

from harness.cli.app import main

__all__ = ["main"]
