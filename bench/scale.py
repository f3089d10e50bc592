"""Collection time and peak memory of big generated suites (1,000 and 10,000 seg cases).

    python bench/scale.py [--sizes 1000 10000] [--run 10000] [--workdir /tmp/vision-harness-scale]

For each size, a suite from bench/generated_suite.py (a unique image per case, polygon masks) is
collected with `pytest --collect-only` three times: without the parse cache (first sight of the
files) and twice with it (the second is what every later run pays). Each line gives pytest's own
collection time, the process' wall time and its peak RSS (from wait4, so the whole process).
With --first-sight N, first sight is measured N times more and the median printed.
With --split-run, the same cold run as `vision-harness predict` then `pytest`, each process measured.
With --run, the suite of that size is also run in full, cold (no prediction cache), to measure
peak RSS while every case is judged: masks stay RLE beyond the case being evaluated.
The targets: collection under 5 s at 10,000 cases; a full cold run peaking at 1 GB at most.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_suite import write_suite

PYTEST = [sys.executable, "-m", "pytest", "-o", "harness_allow_outside_root=true", "-p", "no:randomly"]


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and output of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return wall, usage.ru_maxrss / 1024, output


def pytest_seconds(output: str) -> str:
    found = re.search(r"in ([\d.]+)s", output)
    return f"{float(found.group(1)):6.2f} s" if found else "   ? s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--first-sight", type=int, default=1, metavar="N", help="N runs of first sight, median")
    parser.add_argument(
        "--split-run", type=int, nargs="*", default=[], metavar="SIZE", help="also run these sizes predict-then-pytest"
    )
    parser.add_argument("--run", type=int, nargs="*", default=[], metavar="SIZE", help="also run these sizes")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vision-harness-scale")
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without bytecode caching every process compiles pytest, scipy... again: not what users see.
        print("(PYTHONDONTWRITEBYTECODE was set: unset for these runs, as on a developer machine)")

    for size in args.sizes:
        suite = write_suite(args.workdir, size)
        with tempfile.TemporaryDirectory() as cache:
            collect = [*PYTEST, "-o", f"cache_dir={cache}", "--collect-only", "-q", str(suite)]
            runs = (("--harness-no-cache", ["--harness-no-cache"]), ("cache cold", []), ("cache warm", []))
            for label, extra in runs:
                wall, rss, output = timed(collect + extra)
                count = re.search(r"(\d+) tests? collected", output)
                print(
                    f"{size:>6} cases, collect ({label:>14}): pytest {pytest_seconds(output)}, wall {wall:6.2f} s, "
                    f"peak RSS {rss:7.1f} MB, {count.group(1) if count else '?'} items"
                )
        if args.first_sight > 1:
            # This machine's timings wander by a third from one run to the next: a median of several.
            seconds = []
            for _ in range(args.first_sight):
                _, _, output = timed([*PYTEST, "-p", "no:cacheprovider", "--collect-only", "-q", str(suite)])
                seconds.append(float(re.search(r"in ([\d.]+)s", output).group(1)))
            print(
                f"{size:>6} cases, first sight, {len(seconds)} runs: pytest median {statistics.median(seconds):.2f} s, "
                f"{min(seconds):.2f}-{max(seconds):.2f} s"
            )
        if size in args.run:
            wall, rss, output = timed([*PYTEST, "-q", "--harness-no-cache", "-p", "no:cacheprovider", str(suite)])
            outcome = output.strip().splitlines()[-1]
            print(f"{size:>6} cases, full cold run: wall {wall:7.1f} s, peak RSS {rss:7.1f} MB ({outcome.strip('= ')})")
        if size in args.split_run:
            split_run(suite, size)


def split_run(suite: Path, size: int) -> None:
    """The same cold run in two processes: `vision-harness predict` fills an empty cache (it keeps no
    predictions), then `pytest` judges from it (it never imports torch)."""
    with tempfile.TemporaryDirectory() as cache:
        predict = [sys.executable, "-m", "harness.cli", "predict", str(suite), "--cache-dir", cache]
        wall, rss, output = timed(predict)
        print(f"{size:>6} cases, split cold run, predict: wall {wall:7.1f} s, peak RSS {rss:7.1f} MB")
        wall, rss, output = timed([*PYTEST, "-q", "-o", f"cache_dir={cache}", str(suite)])
        predicted = re.search(r"(\d+) images? predicted", output)
        print(
            f"{size:>6} cases, split cold run, pytest:  wall {wall:7.1f} s, peak RSS {rss:7.1f} MB "
            f"({predicted.group(1) if predicted else '?'} images predicted)"
        )


if __name__ == "__main__":
    main()
