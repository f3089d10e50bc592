"""How many images a search needs, on synthetic judges (no model): what --harness-search-examples buys.

    python bench/search_budget.py [--trials 40] [--seed 1]

Runs ``harness.robustness.search.explore`` (the search the plugin runs, hypothesis and all) on random setups of
searched parameters drawn from typical ranges (brightness [0.4, 1.6], noise [0, 30], blur
[0, 4], jpeg [10, 100], scale [0.5, 1.5]), with a judge that fails only in a region of the space:

- found: the share of setups (1 to 3 parameters) where the search found a break, when only the outer 15% or the outer
  5% of one parameter's range breaks the case (a break that narrow is what a small budget misses);
- shrinking (1 to 4 parameters): with a break over a weighted sum of all parameters' distances from identity (about
  half the space breaks), the images judged in all (generation and shrinking: each is one
  prediction on a cold cache), and how often shrinking stopped at its budget of 4N images.
"""

from __future__ import annotations

import argparse
import random
import statistics

from harness.casefile.search_spec import SearchRange
from harness.robustness.search import explore

TYPICAL = [
    SearchRange("brightness", -12, 12),
    SearchRange("noise", 0, 30),
    SearchRange("blur", 0, 16),
    SearchRange("jpeg", 0, 18),
    SearchRange("scale", -10, 10),
]


class Verdict:
    def __init__(self, passed: bool):
        self.passed = passed


def setup(rng: random.Random, count: int) -> tuple[SearchRange, ...]:
    return tuple(rng.sample(TYPICAL, count))


def far_end(r: SearchRange) -> int:
    return r.high if abs(r.high) >= abs(r.low) else r.low


def narrow_break(rng: random.Random, ranges: tuple[SearchRange, ...], share: float):
    index = rng.randrange(len(ranges))
    end = far_end(ranges[index])
    edge = end * (1 - share)
    return lambda point: Verdict(not (point[index] >= edge if end > 0 else point[index] <= edge))


def wide_break(rng: random.Random, ranges: tuple[SearchRange, ...]):
    weights = [rng.uniform(0.2, 1.0) for _ in ranges]
    worst = sum(w * abs(far_end(r)) for w, r in zip(weights, ranges, strict=True))
    limit = rng.uniform(0.3, 0.7) * worst
    return lambda point: Verdict(sum(w * abs(k) for w, k in zip(weights, point, strict=True)) < limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40, help="random setups per row")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print("found a break (share of setups), 1-3 parameters")
    print(f"{'examples':>8} {'outer 15%':>10} {'outer 5%':>9}")
    for examples in (10, 25, 50, 100):
        shares = []
        for share in (0.15, 0.05):
            rng = random.Random(args.seed)
            found = 0
            for _ in range(args.trials):
                ranges = setup(rng, rng.randint(1, 3))
                found += explore(ranges, narrow_break(rng, ranges, share), examples=examples).broke
            shares.append(found / args.trials)
        print(f"{examples:>8} {shares[0]:>10.2f} {shares[1]:>9.2f}")

    print("\nimages judged to find and shrink a wide break, examples 25 (shrink budget 100)")
    print(f"{'parameters':>10} {'median':>7} {'p90':>5} {'max':>5} {'budget hit':>10}")
    for count in (1, 2, 3, 4):
        rng = random.Random(args.seed)
        images, limited = [], 0
        for _ in range(args.trials):
            ranges = setup(rng, count)
            found = explore(ranges, wide_break(rng, ranges), examples=25)
            if found.broke:
                images.append(found.images)
                limited += found.limited
        images.sort()
        p90 = images[int(0.9 * (len(images) - 1))]
        print(f"{count:>10} {statistics.median(images):>7.0f} {p90:>5} {images[-1]:>5} {limited:>6}/{len(images)}")


if __name__ == "__main__":
    main()
