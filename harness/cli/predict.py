"""``vision-harness predict``: fill the prediction cache ahead of a pytest run, here or on Ray."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import add_trust_option, case_files, command
from harness.core.config import resolve_model


def run_predict(args: argparse.Namespace, out) -> int:
    # Imported per subcommand: `vision-harness --help` stays free of numpy and the models.
    from harness.evaluation.predict_jobs import CacheTarget
    from harness.robustness.plan import predict_ahead

    folder = None if args.no_local_cache else args.cache_dir / "d" / "vision-harness"  # where pytest keeps it
    target = CacheTarget(folder, args.cache_url, args.device, args.half, args.batch, trust_pickles=args.trust_pickles)
    model = resolve_model(args.model, Path.cwd()) if args.model else None
    print(*predict_ahead(case_files(args.paths), target, model_override=model, ray=args.ray), sep="\n", file=out)
    return 0


def add_predict(commands) -> None:
    predicting = command(
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
    add_trust_option(predicting)
