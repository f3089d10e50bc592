"""Harness throughput against raw batched `model.predict` on the same images, on one device.

    python bench/gpu_throughput.py --device cuda:0 [--images 1024] [--batch 32]

Uses a generated seg suite of N unique images (bench/generated_suite.py) and the shipped seg
model. After a warm-up on images outside the timed set, in this order, twice:
- raw: `model.predict(list_of_paths, retina_masks=True, ...)` in batches of --batch, the images
  grouped by size as the harness groups them (a mixed-size batch is letterboxed to a full square,
  which gives other predictions); Ultralytics reads the files itself;
- raw, mixed: the same in file order, sizes mixed, for reference;
- harness: what the pytest plugin does for the whole suite: `Judge.prefetch` (read and hash the
  images, batched predict, masks to RLE), then every case's verdict (matching, IoUs) and the
  suite metrics (COCO mAP and the rest).
Prints images per second for each and the harness/raw ratio (the target: >= 0.9 on a GPU).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "vision-harness-scale")
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")

    from generated_suite import write_suite
    from ultralytics import YOLO

    from harness.casefile.load import load_case_file
    from harness.casefile.schema import Case
    from harness.evaluation.metrics import suite_metrics
    from harness.evaluation.models import ModelPool
    from harness.evaluation.suites import Judge

    warmup = 64  # fixed, so that every batch size uses the same generated suite
    folder = write_suite(args.workdir, args.images + warmup, files=1)
    case_file = load_case_file(next(folder.glob("*.yaml")))
    cases = [c for c in case_file.cases if isinstance(c, Case)]
    warm_cases, timed_cases = cases[:warmup], cases[warmup:]
    arguments = {**case_file.predict, "device": args.device, "verbose": False, "retina_masks": True}

    def by_size(chosen: list[Case]) -> list[list[str]]:
        groups: dict[tuple[int, int], list[str]] = {}
        for case in chosen:
            groups.setdefault(case.image_size, []).append(str(case.image))
        return [g[i : i + args.batch] for g in groups.values() for i in range(0, len(g), args.batch)]

    def in_order(chosen: list[Case]) -> list[list[str]]:
        paths = [str(c.image) for c in chosen]
        return [paths[i : i + args.batch] for i in range(0, len(paths), args.batch)]

    raw = YOLO(case_file.model)
    for batch in by_size(warm_cases):
        raw.predict(batch, batch=len(batch), **arguments)

    def time_raw(batches: list[list[str]]) -> float:
        started = time.perf_counter()
        for batch in batches:
            results = raw.predict(batch, batch=len(batch), **arguments)  # a list of paths: batch= sets the batch
            for result in results:  # wait for the GPU, as reading the results would
                result.boxes.xyxy.cpu()
        return time.perf_counter() - started

    def time_harness() -> float:
        judge = Judge(args.device, models=ModelPool(args.device, batch=args.batch))
        judge.prefetch(warm_cases, case_file.model)  # loads the model, warms the kernels: not timed
        started = time.perf_counter()
        judge.prefetch(timed_cases, case_file.model)
        verdicts = [judge.verdict(case, case_file.model) for case in timed_cases]
        suite_metrics(verdicts, with_masks=True)
        seconds = time.perf_counter() - started
        passed = sum(v.passed for v in verdicts)
        print(f"  harness judged {len(verdicts)} cases ({passed} passed) on {judge.model(case_file.model).device_used}")
        return seconds

    n = len(timed_cases)
    print(f"{n} timed images (+{warmup} warm-up), batch {args.batch}, device {args.device}")
    for attempt in (1, 2):
        raw_seconds = time_raw(by_size(timed_cases))
        mixed_seconds = time_raw(in_order(timed_cases))
        harness_seconds = time_harness()
        print(
            f"run {attempt}: raw {n / raw_seconds:7.1f} images/s, raw mixed sizes {n / mixed_seconds:7.1f} images/s, "
            f"harness {n / harness_seconds:7.1f} images/s: harness/raw = {raw_seconds / harness_seconds:.2f}"
        )


if __name__ == "__main__":
    main()
