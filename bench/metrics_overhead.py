"""What suite metrics cost next to the inference they summarise, on the shipped golden suites.

    python bench/metrics_overhead.py [--repeat 5]

For each shipped suite: the time to predict every image (the model loaded beforehand, one warm-up
image not counted), and in the same process the time of ``suite_metrics``: "headline" is what
every run computes (mAP through faster-coco-eval, per class, precision/recall/F1); "all tags" adds
the per-tag metrics, which are computed only when a per-tag gate, a baseline or a report asks.
Prints both against inference; the target is under 1%. Metric times are medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="metric timings to take the median of")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from harness.casefile.load import load_case_file
    from harness.casefile.schema import Case
    from harness.evaluation.matching import match_objects
    from harness.evaluation.metrics import suite_metrics
    from harness.evaluation.models import Model

    header = ("suite", "cases", "inference s", "headline s", "ratio", "all tags s", "ratio")
    print("{:<20} {:>5} {:>11} {:>10} {:>7} {:>10} {:>7}".format(*header))
    totals = [0.0, 0.0, 0.0]
    for path in sorted((ROOT / "cases").glob("*.yaml")):
        case_file = load_case_file(path)
        cases = [c for c in case_file.cases if isinstance(c, Case)]
        model = Model(case_file.model, args.device)
        model.predict(cases[0].image, {**case_file.predict, "conf": 0.99})  # warm-up, not counted
        started = time.perf_counter()
        predictions = [model.predict(case.image, case.predict) for case in cases]
        inference = time.perf_counter() - started
        masks = model.task == "segment"
        verdicts = [match_objects(c, p, use_masks=masks) for c, p in zip(cases, predictions, strict=True)]
        headline, everything = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            metrics = suite_metrics(verdicts, with_masks=masks)
            headline.append(time.perf_counter() - started)
            metrics.flat()
            everything.append(time.perf_counter() - started)
        row = [inference, statistics.median(headline), statistics.median(everything)]
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print(_row(path.name, len(cases), *row))
    print(_row("all", sum(1 for _ in ()), *totals))


def _row(name: str, cases: int, inference: float, headline: float, everything: float) -> str:
    return (
        f"{name:<20} {cases or '':>5} {inference:>11.3f} {headline:>10.4f} {headline / inference:>7.2%} "
        f"{everything:>10.4f} {everything / inference:>7.2%}"
    )


if __name__ == "__main__":
    main()
