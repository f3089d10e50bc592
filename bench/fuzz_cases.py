"""Long fuzz run of the case-file loader: random and mutated case files, hostile YAML.

    python bench/fuzz_cases.py [--examples 10000]

Runs tests/unit/case_strategies.py's two strategies for --examples each (hypothesis, no example
database) and prints how the inputs ended: loaded, loaded with broken cases, or a file error. Any
crash, multi-line error or wrongly typed case stops the run with hypothesis' minimal example.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "unit"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10_000, help="examples per strategy")
    args = parser.parse_args()

    from case_strategies import check, mutated_documents, prepare, raw_documents

    path = prepare(Path(tempfile.mkdtemp(prefix="fuzz-cases-")))
    for name, strategy in (("mutated case files", mutated_documents()), ("raw and hostile YAML", raw_documents())):
        fuzz(name, strategy, args.examples, path, check)


def fuzz(name: str, strategy, examples: int, path: Path, check) -> None:
    """Run ``check`` on ``examples`` drawn from ``strategy`` and print what they came to."""
    from hypothesis import HealthCheck, given, settings

    outcomes: Counter[str] = Counter()
    slowest = 0.0

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(text: str) -> None:
        nonlocal slowest
        started = time.perf_counter()
        outcomes[check(path, text)] += 1
        slowest = max(slowest, time.perf_counter() - started)

    started = time.perf_counter()
    run()
    print(
        f"{name}: {sum(outcomes.values())} examples in {time.perf_counter() - started:.0f} s, "
        f"slowest {slowest * 1000:.0f} ms; "
        + ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
        + "; crashes 0"
    )


if __name__ == "__main__":
    main()
