"""Time the review app on a 1,000-case file: from starting the server to the first case shown in
Chromium, then paging through cases (each must come without a full page load).

    python bench/review_app_open.py [--cases 1000] [--pages 20] [--out /tmp/review-bench]

The suite comes from bench/generated_suite.py (one file, seg cases with polygon masks), written to
--out and reused. The app runs as `vision-harness review FILE --serve --no-browser`, the clock
starting before the process does; "cold" is its first start (no parse cache), "warm" the second
(the parse cache in .pytest_cache, as after a pytest run). A case counts as shown when its image
has loaded with the expected objects drawn (the page's #stage[data-shown]); its verdict comes later.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "bench"))

from generated_suite import write_suite  # noqa: E402

from chromium import chromium  # noqa: E402

TARGET_S = 2.0


def first_case_seconds(browser, case_file: Path) -> float:
    """Seconds from starting the app to its first case on screen."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLO_OFFLINE": "1"}
    command = [sys.executable, "-m", "harness.cli", "review", str(case_file), "--serve", "--no-browser"]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=case_file.parent, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split()[2]
        page.goto(url)
        page.wait_for_selector("#stage[data-shown]", timeout=120_000)
        return time.perf_counter() - started
    finally:
        page.close()
        process.terminate()
        process.wait(timeout=30)


def paging(browser, case_file: Path, pages: int) -> list[float]:
    """Seconds per step to the next case (the down arrow key), checking the page never reloads."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLO_OFFLINE": "1"}
    command = [sys.executable, "-m", "harness.cli", "review", str(case_file), "--serve", "--no-browser"]
    process = subprocess.Popen(command, cwd=case_file.parent, env=env, stdout=subprocess.PIPE, text=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(process.stdout.readline().split()[2])
        page.wait_for_selector("#stage[data-shown]", timeout=120_000)
        page.evaluate("() => { window.stillTheSamePage = true; }")
        names = page.evaluate(f"() => state.shown.slice(0, {pages + 1})")
        times = []
        for name in names[1:]:
            started = time.perf_counter()
            page.keyboard.press("ArrowDown")
            page.wait_for_selector(f"#stage[data-shown='{name}']", timeout=60_000)
            times.append(time.perf_counter() - started)
        assert page.evaluate("() => window.stillTheSamePage === true"), "paging reloaded the page"
        return times
    finally:
        page.close()
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("/tmp/review-bench"))
    args = parser.parse_args()
    case_file = write_suite(args.out, args.cases, files=1) / "part-00.yaml"
    project = case_file.parent.parent  # cases/ and images/: the root the app serves holds both
    (project / "pytest.ini").write_text("[pytest]\nharness_allow_outside_root = true\n")
    cache = project / ".pytest_cache"
    if cache.exists():
        subprocess.run(["rm", "-rf", str(cache)], check=True)
    with chromium() as browser:
        cold = first_case_seconds(browser, case_file)
        warm = first_case_seconds(browser, case_file)
        steps = paging(browser, case_file, args.pages)
    print(f"{case_file} ({args.cases} cases, {case_file.stat().st_size / 1e6:.1f} MB)")
    print(f"first case shown, cold (no parse cache): {cold:.2f} s")
    print(f"first case shown, warm (parse cache):    {warm:.2f} s  (target < {TARGET_S:g} s)")
    print(
        f"paging, {len(steps)} cases by the down arrow, no page load: median {statistics.median(steps) * 1000:.0f} ms, "
        f"slowest {max(steps) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
