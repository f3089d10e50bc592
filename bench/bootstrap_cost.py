"""What the bootstrap of suite metrics adds to a warm run of the 1,000-case generated suite.

    python bench/bootstrap_cost.py [--cases 1000] [--repeats 3] [--resamples 1000]

The suite comes from bench/generated_suite.py (10 case files of 100 seg cases, so 10 suites and
one pooled folder, each with box and mask metrics). One run fills the prediction cache; then warm
runs take turns, whole pytest processes, and the script prints the median wall time of each and
its ratio to the run without the bootstrap (``--harness-bootstrap 0``):

- default: no option, so the bootstrap runs only where something uses it (nothing here);
- forced: ``--harness-bootstrap N``, intervals of every file's headline metrics in the summary,
  their resampled values read from the cache (harness/evaluation/bootstrap_store.py) as in every
  warm run: a run with the same verdicts already drew them;
- forced, drawing: the same with the cached values deleted first, so every resample is drawn
  (what the first run after a model, case or threshold change pays);
- with ``--harness-json``, which records every interval, against the same without the bootstrap.

The target (issue 19): a warm run with intervals under 1.10.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_suite import write_suite  # noqa: E402

PYTEST = [sys.executable, "-m", "pytest", "-q", "-o", "harness_allow_outside_root=true", "-p", "no:randomly"]


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: some generated cases fail, as they do in every run
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vision-harness-scale")
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without bytecode caching every process compiles pytest, scipy... again: not what users see.
        print("(PYTHONDONTWRITEBYTECODE was set: unset for these runs, as on a developer machine)")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    suite = write_suite(args.workdir, args.cases)
    variants = {
        "without": ["--harness-bootstrap", "0"],
        "default": [],
        "forced": ["--harness-bootstrap", str(args.resamples)],
        "forced, drawing": ["--harness-bootstrap", str(args.resamples)],
        "json, without": ["--harness-bootstrap", "0", "--harness-json", "run.json"],
        "json, default": ["--harness-json", "run.json"],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as drawing_cache:
        run = [*PYTEST, "-o", f"cache_dir={cache}", str(suite)]
        for name, extra in variants.items():
            if name != "forced, drawing":
                wall([*run, *extra])  # fills the prediction cache and the bootstrap's: every later run is warm
        # "forced, drawing" runs on a copy of the cache whose bootstrap entries are deleted before each run.
        shutil.copytree(cache, drawing_cache, dirs_exist_ok=True)
        drawing_run = [*PYTEST, "-o", f"cache_dir={drawing_cache}", str(suite)]
        for _ in range(args.repeats):
            for name, extra in variants.items():
                if name == "forced, drawing":
                    for entry in Path(drawing_cache).rglob("bootstrap-*"):
                        entry.unlink()
                    times[name].append(wall([*drawing_run, *extra]))
                else:
                    times[name].append(wall([*run, *extra]))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.cases} generated seg cases, warm, {args.repeats} runs each (median wall time, whole process)")
    for name, seconds in median.items():
        base = median["json, without"] if name.startswith("json") else median["without"]
        runs = ", ".join(f"{s:.2f}" for s in times[name])
        print(f"  {name:<14} {seconds:7.2f} s  ratio {seconds / base:5.3f}  ({runs})")
    print(f"  (forced: {args.resamples} resamples)")


if __name__ == "__main__":
    main()
