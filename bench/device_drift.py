"""The shipped suites on two devices: throughput on each, and how far per-object IoUs drift.

    python bench/device_drift.py --devices cpu cuda:0
    python bench/device_drift.py --devices cuda:0 cuda:0 --half   # FP32 against FP16 on one GPU

Each device gets its own model instance; every case of every shipped suite is judged on each (one
warm-up image first, not timed). Prints images per second per device, then per suite the largest
absolute difference in any object's box or mask IoU between the devices, and any case whose verdict
differs. This tells how much tolerance golden thresholds need when CI and development machines
differ.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", nargs=2, default=["cpu", "cuda:0"], metavar="DEVICE")
    parser.add_argument("--half", action="store_true", help="run the second device in FP16 (--harness-half)")
    args = parser.parse_args()

    from harness.casefile.load import load_case_file
    from harness.casefile.schema import Case
    from harness.evaluation.models import ModelPool
    from harness.evaluation.suites import Judge

    suites = [load_case_file(path) for path in sorted((ROOT / "cases").glob("*.yaml"))]
    verdicts: dict[int, dict] = {}
    for run, device in enumerate(args.devices):
        half = args.half and run == 1
        judge = Judge(device, models=ModelPool(device, half=half))
        images = seconds = 0
        for case_file in suites:
            cases = [c for c in case_file.cases if isinstance(c, Case)]
            judge.model(case_file.model).predict(cases[0].image, {**case_file.predict, "conf": 0.99})  # warm-up
            started = time.perf_counter()
            for case in cases:
                verdicts.setdefault(run, {})[(case_file.path.name, case.name)] = judge.verdict(case, case_file.model)
            seconds += time.perf_counter() - started
            images += len(cases)
        used = sorted({model.device_used for model in judge.models.used()})
        label = f"{device}{' fp16' if half else ''}"
        rate = f"{images} images in {seconds:.2f} s, {images / seconds:.1f} images/s"
        print(f"{label} (ran on {', '.join(used)}): {rate}")

    first, second = args.devices[0], args.devices[1] + (" fp16" if args.half else "")
    for case_file in suites:
        drift, flipped = 0.0, []
        for key, a in verdicts[0].items():
            if key[0] != case_file.path.name:
                continue
            b = verdicts[1][key]
            for x, y in zip(a.objects, b.objects, strict=True):
                for u, v in ((x.box_iou, y.box_iou), (x.mask_iou, y.mask_iou)):
                    if u is not None and v is not None:
                        drift = max(drift, abs(u - v))
            if a.passed != b.passed:
                flipped.append(key[1])
        differ = ", ".join(flipped) or "none"
        print(f"{case_file.path.name}: max IoU drift {first} vs {second} {drift:.4f}; verdicts differ: {differ}")


if __name__ == "__main__":
    main()
