"""Through pytest: a damaged cache entry gives the verdicts of an uncached run, and the next write
puts back exactly the entry a fresh run writes; an entry holding Infinity is a miss, not an error."""

from __future__ import annotations

import json
import random
from pathlib import Path

from harness.casefile.load import load_case_file
from harness.casefile.schema import Case
from harness.core.sealed import seal, unseal
from harness.evaluation.matching import match_objects
from harness.evaluation.models import file_sha256
from harness.evaluation.prediction_cache import PredictionCache, predictions_from_json

MODELS = Path(__file__).resolve().parents[2] / "fixtures" / "models"


def cache_of(pytester) -> PredictionCache:
    return PredictionCache(pytester.path / ".pytest_cache" / "d" / "vision-harness")


def cache_files(pytester) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in cache_of(pytester).directory.rglob("*") if path.is_file()}


def verdict_lines(result) -> list[str]:
    """Outcomes, failures and suite metrics: all of the run but its timings and model line."""
    keep = ("FAILED ", "PASSED ", "cases judged:", "shapes.yaml:", "worst cases:")
    return sorted(line for line in result.outlines if line.startswith(keep))


def predicted(result) -> str:
    return next(line for line in result.outlines if line.startswith("model ")).split(": ", 1)[1]


def passes(case: Case, payload: bytes) -> bool:
    """Whether ``case`` passes on the predictions ``payload`` holds, read as the unsealed cache read it."""
    return match_objects(case, predictions_from_json(json.loads(payload)), use_masks=False).passed


def forged_flip(pytester, cache: PredictionCache, model: Path) -> tuple[str, Path, bytes]:
    """A passing case, its entry, and that entry with ONE payload byte changed (a digit of a box)
    so that, read without the digest as the old cache did, the case would fail.

    (No one-byte change turns a failing case of the weak model into a pass, so the verdict flipped
    here is a pass into a fail: what the digest must stop is the same.)"""
    case_file = load_case_file(pytester.path / "shapes.yaml")
    for case in (c for c in case_file.cases if isinstance(c, Case) and c.objects):
        path = cache.prediction_path(cache.key(file_sha256(str(model)), case.image, case.predict, None))
        entry = path.read_bytes()
        payload = bytes(unseal(entry, cache.context(path)))
        header = entry[: len(entry) - len(payload)]
        if not passes(case, payload):
            continue
        position = payload.index(b'"boxes":[[') + len(b'"boxes":[[')  # the first coordinate's leading digit
        for digit in b"123456789":  # the box moves, and the JSON stays valid
            changed = payload[:position] + bytes([digit]) + payload[position + 1 :]
            if changed != payload and not passes(case, changed):
                return case.name, path, header + changed
    raise AssertionError("no passing case fails with one digit changed")


def flip_one_byte_in_each(files: dict[Path, bytes], seed: int) -> None:
    """Each file with one byte (header, digest or payload) XORed with a non-zero value."""
    rng = random.Random(seed)
    for path, data in files.items():
        position = rng.randrange(len(data))
        path.write_bytes(data[:position] + bytes([data[position] ^ rng.randrange(1, 256)]) + data[position + 1 :])


def test_a_flipped_byte_in_every_entry_leaves_every_failure_failing_and_is_written_again(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    weak = f"--harness-model={MODELS / 'shapes-detect-weak.pt'}"
    cold = pytester.runpytest(weak, "-rA")
    assert cold.parseoutcomes()["failed"] > 10
    fresh = cache_files(pytester)
    flip_one_byte_in_each({p: b for p, b in fresh.items() if "pictures" not in p.parts}, seed=15)  # predictions, facts
    warm = pytester.runpytest(weak, "-rA")
    assert verdict_lines(warm) == verdict_lines(cold)  # the same FAILED cases, failures and metrics
    assert predicted(warm).startswith(f"{detect_suite.count('- name:')} images predicted")  # all misses
    assert cache_files(pytester) == fresh  # every entry written again, byte for byte as a fresh run writes it


def test_a_flipped_byte_that_would_fail_a_passing_case_changes_nothing_and_is_written_again(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    cold = pytester.runpytest("-rA")
    cold.assert_outcomes(passed=detect_suite.count("- name:"))
    fresh = cache_files(pytester)
    name, path, flipped = forged_flip(pytester, cache_of(pytester), MODELS / "shapes-detect.pt")
    assert sum(a != b for a, b in zip(flipped, fresh[path], strict=True)) == 1  # one byte of the file
    path.write_bytes(flipped)
    warm = pytester.runpytest("-rA")
    assert f"PASSED shapes.yaml::{name}" in verdict_lines(warm)
    assert verdict_lines(warm) == verdict_lines(cold)
    assert predicted(warm).startswith("1 image predicted")
    assert cache_files(pytester) == fresh


def test_an_entry_holding_infinity_is_a_miss_and_is_written_again(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    cold = pytester.runpytest("-rA")
    fresh = cache_files(pytester)
    cache = cache_of(pytester)
    path = min(p for p in fresh if "predictions" in p.parts)
    entry = json.loads(bytes(unseal(fresh[path], cache.context(path))))
    entry["image_size"][0] = float("inf")  # written out as Infinity; int(inf) raised OverflowError
    path.write_bytes(seal(json.dumps(entry).encode(), cache.context(path)))  # a valid digest: only the decoder refuses
    warm = pytester.runpytest("-rA")
    assert "OverflowError" not in "\n".join(warm.outlines)
    assert verdict_lines(warm) == verdict_lines(cold)
    assert predicted(warm).startswith("1 image predicted")
    assert cache_files(pytester) == fresh
    assert predicted(pytester.runpytest()).startswith("0 images predicted")  # and read from then on
