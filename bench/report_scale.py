"""The HTML report at scale: a real 2,000-case run, its report's size, and how fast Chromium shows it.

    python bench/report_scale.py                 # 2,000 cases, the weak seg model (most cases fail)
    python bench/report_scale.py --cases 200     # a quick run
    python bench/report_scale.py --model fixtures/models/shapes-seg.pt   # the good model: few failures

Writes a seg case file of that many distinct scenes from the shapes generator's "golden" split (its
ground truth, images written as PNG) into a temporary folder, runs pytest on it once with
``--harness-report`` and ``--harness-json`` (timed), then opens the report from disk in headless
Chromium (Debian's, driven by Playwright) and prints, from one run:

- the report's size in MB, how much of it is pictures, and the JSON record's size;
- Chromium's times from navigation start: DOMContentLoaded, the load event, the page script done
  (every row built), and the first rows' thumbnails decoded and visible;
- the time to filter the table to failing cases, and that thumbnails far down load only on scroll.

A screenshot of the opened report is saved beside the report; ``--keep DIR`` keeps the whole folder.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "fixtures"), str(ROOT / "tests" / "browser")]


def write_suite(folder: Path, count: int) -> Path:
    """A seg case file of ``count`` generated scenes, with their images, in ``folder``."""
    from make_cases import PREDICT, case_yaml
    from PIL import Image

    from shapes import make_scene, render

    images = folder / "images"
    images.mkdir(parents=True)
    blocks = []
    for index in range(count):
        scene = make_scene("golden", index)
        Image.fromarray(render(scene)).save(images / f"{index:04d}.png")
        blocks.append(case_yaml(index, scene, f"images/{index:04d}.png", with_masks=True))
    header = f"version: 1\ntask: segment\npredict: {PREDICT}\nthresholds: {{box_iou: 0.75, mask_iou: 0.70}}\ncases:\n"
    path = folder / "scale.yaml"
    path.write_text(header + "\n".join(blocks) + "\n")
    (folder / "pytest.ini").write_text("[pytest]\n")
    return path


def run_pytest(folder: Path, model: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "scale.yaml", f"--harness-model={model}", "-q", "-p", "no:cacheprovider",
         "--harness-no-cache", "--harness-report=report.html", "--harness-json=run.json", "--tb=no", "--no-header",
         "-rN"],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"pytest failed to run ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def measure_in_chromium(report: Path, screenshot: Path) -> dict[str, float]:
    from chromium import chromium, missing_browser

    reason = missing_browser()
    if reason:
        raise SystemExit(f"cannot measure the render time: {reason}")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        page.eval_on_selector("#cases-heading", "heading => heading.scrollIntoView()")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#cases tbody tr img.thumb')].slice(0, 3)"
            ".every(img => img.complete && img.naturalWidth > 0)"
        )
        times = page.evaluate(
            """() => {
                const nav = performance.getEntriesByType('navigation')[0];
                const ready = performance.getEntriesByName('harness-ready')[0];
                return {dom_content_loaded: nav.domContentLoadedEventEnd, load_event: nav.loadEventEnd,
                        script_done: ready.startTime, first_thumbnails: performance.now()};
            }"""
        )
        # first_thumbnails includes the scroll above; it is an upper bound on "first rows visible".
        times["filter_failed"] = page.evaluate(
            """() => {
                const select = document.getElementById('filter-status');
                const started = performance.now();
                select.value = 'failed';
                select.dispatchEvent(new Event('input'));
                return performance.now() - started;
            }"""
        )
        loaded = "() => [...document.querySelectorAll('#cases tbody tr img.thumb')].filter(i => i.src).length"
        times["thumbnails_decoded_before_scrolling"] = page.evaluate(loaded)
        page.screenshot(path=screenshot)
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(500)
        times["thumbnails_decoded_after_scrolling_to_the_end"] = page.evaluate(loaded)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--model", type=Path, default=ROOT / "fixtures" / "models" / "shapes-seg-weak.pt")
    parser.add_argument("--keep", type=Path, help="copy the run folder (cases, images, report) here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        write_suite(folder, args.cases)
        seconds, output = run_pytest(folder, args.model.resolve())
        report, record_path = folder / "report.html", folder / "run.json"
        record = json.loads(record_path.read_text())
        page = report.read_text()
        pictures = re.search(r'id="run-pictures">(.*?)</script>', page, re.S).group(1)
        totals = record["totals"]["cases"]
        print(f"cases: {len(record['cases'])} ({totals['failed']} failed, {totals['passed']} passed, "
              f"{totals['error']} errors), model {args.model.name}")  # fmt: skip
        print(f"pytest run with --harness-report and --harness-json: {seconds:.1f} s")
        timing = next((line for line in output.splitlines() if "images predicted in" in line), "")
        print(f"  of which predicting: {timing.split(': ', 1)[-1]}")
        print(f"report: {report.stat().st_size / 1e6:.1f} MB ({len(pictures) / 1e6:.1f} MB of it pictures), "
              f"JSON record: {record_path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        times = measure_in_chromium(report, folder / "report-screenshot.png")
        print("Chromium, ms from navigation start:")
        for name in ("dom_content_loaded", "load_event", "script_done", "first_thumbnails"):
            print(f"  {name.replace('_', ' ')}: {times[name]:.0f} ms")
        print(f"filter to failing cases: {times['filter_failed']:.1f} ms")
        print(f"thumbnails decoded: {times['thumbnails_decoded_before_scrolling']} before scrolling, "
              f"{times['thumbnails_decoded_after_scrolling_to_the_end']} after scrolling to the end")  # fmt: skip
        if args.keep:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
            print(f"kept in {args.keep} (report.html, report-screenshot.png, run.json)")


if __name__ == "__main__":
    main()
