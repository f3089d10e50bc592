"""`pytest cases/` against a plain loop of `model.predict` over the same images, same arguments.

    python bench/harness_vs_predict.py [--cases cases/] [--generated N] [--repeats 3]

Both sides are whole processes, timed from the shell's point of view, as a CI job pays them:
- plain: a Python script that loads each case file's model with Ultralytics and calls `predict`
  on each of its images with the file's predict arguments plus `retina_masks=True` (the harness
  computes masks at full resolution; so does the plain loop, or it would be doing less work);
- harness cold: `pytest` with an empty prediction cache (its own temporary cache_dir);
- harness warm: the same command again, everything answered from the cache.
Each is run --repeats times, interleaved, and the medians are compared. Also printed: the fixed
cost of starting pytest on an empty folder (with every plugin installed in this environment),
which no pytest plugin can go below; pytest only collecting the case files (first sight, what a cold
run pays before its first prediction); pytest running as many empty tests as the harness runs items
(the floor of any pytest plugin with that many tests); and what the cold run costs per image beyond
the plain loop.
--generated N runs a generated suite of N unique seg images (bench/generated_suite.py) instead,
where per-image costs dominate.

By default both sides leave out the transformed variants (`transforms:`): pytest runs with
`-m "not robustness"`, the plain loop predicts each case's own image. With --variants, pytest runs
every item, and the plain loop also predicts each variant's picture, made in memory with the same
transform (numpy arrays in BGR, as a plain script would hand them to Ultralytics).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

PLAIN_LOOP = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from ultralytics import YOLO
from harness.casefile.load import load_case_file
from harness.casefile.schema import Case

variants = sys.argv[1] == "variants"
for name in sys.argv[2:]:
    case_file = load_case_file(Path(name))
    model = YOLO(case_file.model)
    cases = [case for case in case_file.cases if isinstance(case, Case)]
    for image in dict.fromkeys(case.image for case in cases):
        model.predict(str(image), verbose=False, retina_masks=True, **case_file.predict)
    if variants:
        for case in cases:
            rgb = np.asarray(Image.open(case.image).convert("RGB"))
            for spec in case.variants:
                bgr = np.ascontiguousarray(spec.transform.apply_image(rgb)[..., ::-1])
                model.predict(bgr, verbose=False, retina_masks=True, **case_file.predict)
"""


def wall(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1, 5):  # 5: no tests collected (the empty folder)
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=ROOT / "cases")
    parser.add_argument("--generated", type=int, metavar="N", help="use a generated suite of N seg cases")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", action="store_true", help="include the transformed variants, both sides")
    parser.add_argument(
        "--pytest-args",
        default="",
        help="extra arguments for every pytest run, e.g. '-p no:hypothesispytest' to leave out a plugin that "
        "this project's test extras install and a user's CI may not have",
    )
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without bytecode caching every process compiles pytest, scipy... again: not what users see.
        print("(PYTHONDONTWRITEBYTECODE was set: unset for these runs, as on a developer machine)")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

    if args.generated:
        from generated_suite import write_suite

        folder = write_suite(Path(tempfile.gettempdir()) / "vision-harness-scale", args.generated)
    else:
        folder = args.cases.resolve()
    files = sorted(str(p) for p in folder.glob("*.yaml"))
    from harness.casefile.load import load_case_file
    from harness.casefile.schema import Case

    loaded = [[c for c in load_case_file(Path(f)).cases if isinstance(c, Case)] for f in files]
    images = sum(len({c.image for c in cases}) for cases in loaded)
    items = sum(len(cases) for cases in loaded)
    if args.variants:
        images += sum(len(c.variants) for cases in loaded for c in cases)
        items += sum(len(c.variants) for cases in loaded for c in cases)
    pytest = [sys.executable, "-m", "pytest", "-q", "-o", "harness_allow_outside_root=true"]
    if not args.variants:
        pytest += ["-m", "not robustness"]  # the plain loop predicts each case's own image only
    pytest += args.pytest_args.split()
    times: dict[str, list[float]] = {
        "plain loop": [],
        "harness cold": [],
        "harness warm": [],
        "bare pytest": [],
        "empty tests": [],
        "collect only": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "empty"
        empty.mkdir()
        floor = Path(scratch) / "floor"
        floor.mkdir()
        (floor / "test_floor.py").write_text(
            f"import pytest\n\n\n@pytest.mark.parametrize('i', range({items}))\ndef test_empty(i):\n    pass\n"
        )
        for repeat in range(args.repeats):
            cache = f"cache_dir={scratch}/cache-{repeat}"
            which = "variants" if args.variants else "plain"
            times["plain loop"].append(wall([sys.executable, "-c", PLAIN_LOOP, which, *files], ROOT))
            times["harness cold"].append(wall([*pytest, "-o", cache, *files], ROOT))
            times["harness warm"].append(wall([*pytest, "-o", cache, *files], ROOT))
            times["bare pytest"].append(wall([*pytest, "-p", "no:cacheprovider", str(empty)], ROOT))
            times["empty tests"].append(wall([*pytest, "-p", "no:cacheprovider", str(floor)], ROOT))
            times["collect only"].append(wall([*pytest, "-p", "no:cacheprovider", "--collect-only", *files], ROOT))

    median = {name: statistics.median(values) for name, values in times.items()}
    plain = median["plain loop"]
    kind = "images, transformed variants included" if args.variants else "images"
    print(f"{len(files)} case files, {images} {kind}, {args.repeats} runs each (median wall time, whole process)")
    print(f"  (empty tests: pytest running {items} tests that do nothing, as many as the harness runs items)")
    for name, seconds in median.items():
        print(f"  {name:<13} {seconds:7.2f} s   {seconds / plain:5.2f}x the plain loop")
    extra = (median["harness cold"] - plain) / images * 1000
    print(f"  harness cold costs {extra:+.1f} ms an image more than the plain loop, start-up included")
    start = median["collect only"] / images * 1000
    print(f"  of which starting pytest and collecting the case files (first sight) is {start:.1f} ms an image")
    beyond = median["harness warm"] - median["bare pytest"]
    print(f"  harness warm costs {beyond:.2f} s more than starting pytest on an empty folder")
    beyond = median["harness warm"] - median["empty tests"]
    print(f"  harness warm costs {beyond:.2f} s more than pytest running {items} empty tests")


if __name__ == "__main__":
    main()
