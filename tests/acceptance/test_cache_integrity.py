"""Cache entries cannot change a verdict: a flipped, cut or added byte anywhere in a real entry reads
as a miss (predicted or parsed again) or as exactly what was written, never as something else, and
never raises; entries the writer cannot have written (NaN, Infinity, wrong shapes) are misses too;
a hostile marshal payload is never decoded."""

from __future__ import annotations

import json
import marshal
import os
import random
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.casefile.load import load_case_file
from harness.casefile.yaml_parse import parse_cache_key, parse_yaml, read_parsed
from harness.core.sealed import HEADER, seal, unseal
from harness.evaluation.models import Model
from harness.evaluation.prediction_cache import PredictionCache
from harness.evaluation.predictions import Predictions
from harness.reports.picture_cache import PictureCache

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "fixtures" / "models"
IMAGES = [ROOT / "fixtures" / "images" / f"golden-00{i}.png" for i in (1, 2, 3)]
ARGUMENTS = {"imgsz": 256, "conf": 0.25}
FLIPS = 5000  # per cache, as the issue asks; about 1 s each here


def damage(data: bytes, rng: random.Random) -> bytes:
    """``data`` damaged once: one byte XORed with a non-zero value (most often), cut short, or
    with bytes added at its end."""
    kind = rng.random()
    if kind < 0.7:
        position = rng.randrange(len(data))
        return data[:position] + bytes([data[position] ^ rng.randrange(1, 256)]) + data[position + 1 :]
    if kind < 0.85:
        return data[: rng.randrange(len(data))]
    return data + rng.randbytes(rng.randrange(1, 17))


def overwrite(path: Path, data: bytes) -> None:
    """``path.write_bytes(data)`` without truncating to zero first, which makes ext4 flush (2 ms)."""
    handle = os.open(path, os.O_WRONLY)
    try:
        os.write(handle, data)
        os.ftruncate(handle, len(data))
    finally:
        os.close(handle)


def fuzz(entries: list[tuple[Path, Callable[[], Any], Any]], flips: int, same: Callable[[Any, Any], bool]) -> int:
    """Damage the entry files in turn, reading each back through its cache; returns the number of
    misses. ``entries``: (file, read it through the cache, the value first written)."""
    rng = random.Random(15)
    misses = 0
    originals = [path.read_bytes() for path, _, _ in entries]
    for flip in range(flips):
        path, read, written = entries[flip % len(entries)]
        overwrite(path, damage(originals[flip % len(entries)], rng))
        value = read()
        if value is None:
            misses += 1
        else:
            assert same(value, written), f"flip {flip} of {path.name} read back another value"
    for (path, _, _), original in zip(entries, originals, strict=True):
        overwrite(path, original)
    return misses


def same_predictions(a: tuple[Predictions, str], b: tuple[Predictions, str]) -> bool:
    (x, device_x), (y, device_y) = a, b
    return (
        device_x == device_y
        and np.array_equal(x.boxes, y.boxes)
        and np.array_equal(x.scores, y.scores)
        and x.class_names == y.class_names
        and x.image_size == y.image_size
        and x.masks == y.masks
    )


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[PredictionCache, list[tuple[str, Predictions]], list[str]]:
    """A prediction cache filled by the shipped detect and seg models on three golden images:
    the cache, (key, fresh predictions) of every entry, and the models' sha256."""
    cache = PredictionCache(tmp_path_factory.mktemp("cache"))
    entries, models = [], []
    for name in ("shapes-detect.pt", "shapes-seg.pt"):
        model = Model(str(MODELS / name), "cpu", cache=cache)
        models.append(model.sha256)
        for image in IMAGES:
            entries.append((cache.key(model.sha256, image, ARGUMENTS, "cpu"), model.predict(image, ARGUMENTS)))
        assert model.images_predicted == len(IMAGES)
    return cache, entries, models


def test_the_filled_cache_reads_back_what_the_models_predicted(filled):
    cache, entries, _ = filled
    assert any(predictions.masks for _, predictions in entries) and any(len(p) for _, p in entries)
    for key, predictions in entries:
        assert same_predictions(cache.get(key), (predictions, "cpu"))


def test_a_damaged_prediction_entry_is_a_miss_or_the_original(filled):
    cache, entries, models = filled
    targets = [(cache.prediction_path(key), lambda key=key: cache.get(key), cache.get(key)) for key, _ in entries]
    # Every damage changes the bytes the digest covers, so none can read back even as the original.
    assert fuzz(targets, FLIPS, same_predictions) == FLIPS
    for sha256 in models:  # the models' task and class names are entries too
        path = cache.directory / "models"
        (facts_file,) = path.glob(f"{sha256}-*.json")
        facts = cache.model_facts(sha256)
        assert facts["names"] and facts["task"] in ("detect", "segment")
        assert fuzz([(facts_file, lambda s=sha256: cache.model_facts(s), facts)], 500, lambda a, b: a == b) == 500
        assert cache.model_facts(sha256) == facts


def test_re_sealed_payload_damage_never_raises_and_never_gives_impossible_values(filled):
    # Past the digest (as if the damage were sealed again): the decoder alone must still refuse.
    cache, entries, _ = filled
    rng = random.Random(15)
    for flip in range(2000):
        key, _ = entries[flip % len(entries)]
        path = cache.prediction_path(key)
        payload = bytes(unseal(path.read_bytes(), cache.context(path)))
        overwrite(path, seal(damage(payload, rng), cache.context(path)))
        found = cache.get(key)
        overwrite(path, seal(payload, cache.context(path)))
        if found is not None:
            predictions, _ = found
            assert np.isfinite(predictions.boxes).all() and predictions.boxes.shape == (len(predictions), 4)
            assert ((predictions.scores >= 0) & (predictions.scores <= 1)).all()
            assert min(predictions.image_size) > 0


IMPOSSIBLE = {
    "an infinite width": ("image_size", [float("inf"), 64]),
    "a huge number": ("image_size", [10**400, 64]),
    "a negative height": ("image_size", [64, -3]),
    "a bool as a size": ("image_size", [True, 64]),
    "NaN in a box": ("boxes", [[float("nan"), 1.0, 2.0, 3.0]]),
    "an infinite box": ("boxes", [[float("inf"), 1.0, 2.0, 3.0]]),
    "a flat box list": ("boxes", [1.0, 2.0, 3.0, 4.0]),
    "a short box": ("boxes", [[1.0, 2.0, 3.0]]),
    "a string coordinate": ("boxes", [["1", 2.0, 3.0, 4.0]]),
    "a score above 1": ("scores", [1.5]),
    "a NaN score": ("scores", [float("nan")]),
    "a number as a class": ("class_names", [7]),
    "a mask that is no RLE": ("masks", ["~~~"]),  # above "o": no character of compressed counts
    "a device that is a number": ("device", 0),
}


@pytest.mark.parametrize(("field", "value"), IMPOSSIBLE.values(), ids=IMPOSSIBLE.keys())
def test_a_validly_sealed_entry_the_writer_cannot_have_written_is_a_miss(tmp_path, field, value):
    cache = PredictionCache(tmp_path)
    good = Predictions(np.array([[1.0, 2.0, 3.0, 4.0]]), ("circle",), np.array([0.5]), None, (8, 8))
    cache.put("ab" * 32, good, "cpu")
    path = cache.prediction_path("ab" * 32)
    entry = json.loads(bytes(unseal(path.read_bytes(), cache.context(path))))
    assert cache.get("ab" * 32) is not None
    # json.dumps writes inf and NaN as Infinity and NaN, which json.loads reads back
    path.write_bytes(seal(json.dumps({**entry, field: value}).encode(), cache.context(path)))
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, good, "cpu")  # the next write replaces it
    assert cache.get("ab" * 32) is not None


def test_model_facts_with_impossible_class_ids_are_a_miss(tmp_path):
    cache = PredictionCache(tmp_path)
    cache.put_model_facts("cd" * 32, "detect", {0: "circle"})
    (path,) = (tmp_path / "models").glob("*.json")
    for names in ({"Infinity": "circle"}, {"-1": "circle"}, {"01": "circle"}, {"0": 3}, ["circle"]):
        path.write_bytes(seal(json.dumps({"task": "detect", "names": names}).encode(), cache.context(path)))
        assert cache.model_facts("cd" * 32) is None, names


def test_an_entry_copied_under_another_key_or_from_an_older_layout_is_a_miss(tmp_path):
    cache = PredictionCache(tmp_path)
    one = Predictions(np.array([[1.0, 2.0, 3.0, 4.0]]), ("circle",), np.array([0.5]), None, (8, 8))
    cache.put("ab" * 32, one, "cpu")
    cache.prediction_path("cd" * 32).parent.mkdir(parents=True)
    shutil.copy(cache.prediction_path("ab" * 32), cache.prediction_path("cd" * 32))
    assert cache.get("cd" * 32) is None
    old = b'{"image_size":[Infinity,8],"boxes":[],"class_names":[],"scores":[],"masks":null,"device":"cpu"}'
    cache.prediction_path("ab" * 32).write_bytes(old)  # the unsealed layout that raised OverflowError
    assert cache.get("ab" * 32) is None


CASES = ROOT / "cases" / "shapes-seg.yaml"


def test_a_damaged_parse_cache_entry_is_a_miss_or_the_original(tmp_path):
    text = CASES.read_text()
    document = parse_yaml(text, tmp_path)
    key = parse_cache_key(text)
    entry = tmp_path / f"{key}.marshal"
    assert read_parsed(entry, key) == (document,)
    assert fuzz([(entry, lambda: read_parsed(entry, key), (document,))], FLIPS, lambda a, b: a == b) == FLIPS
    assert read_parsed(entry, key) == (document,)


def test_a_damaged_parse_cache_entry_never_changes_the_loaded_case_file(tmp_path):
    path = tmp_path / "cases" / "seg.yaml"
    path.parent.mkdir()
    path.write_text(CASES.read_text().replace("../fixtures/", f"{ROOT}/fixtures/"))
    cache = tmp_path / "parsed"
    uncached = load_case_file(path)
    assert load_case_file(path, parse_cache=cache) == uncached
    (entry,) = cache.iterdir()
    written = entry.read_bytes()
    rng = random.Random(15)
    for _ in range(60):  # each miss parses the YAML again (30 ms)
        overwrite(entry, damage(written, rng))
        assert load_case_file(path, parse_cache=cache) == uncached
        assert entry.read_bytes() == written  # the miss wrote the entry again, as a fresh parse does


def hostile_marshal() -> bytes:
    """A real entry's payload with one byte changed: its outer tuple length grows to about 1.7e9,
    which ``marshal.loads`` would allocate (13 GB) before finding the data missing."""
    payload = marshal.dumps(tuple(range(300)))
    assert payload[1:5] == (300).to_bytes(4, "little")  # after the type byte: the length, little-endian
    return payload[:4] + b"\x66" + payload[5:]


@pytest.mark.parametrize("layout", ["bare, as the old cache stored it", "sealed, digest of the original"])
def test_a_hostile_marshal_payload_is_never_decoded(tmp_path, layout):
    key = "ef" * 32
    entry = tmp_path / f"{key}.marshal"
    hostile = hostile_marshal()
    assert int.from_bytes(hostile[1:5], "little") > 1.7e9
    if layout.startswith("sealed"):
        sealed = seal(marshal.dumps(tuple(range(300))), key)
        hostile = sealed[: -len(hostile)] + hostile
        assert hostile.startswith(HEADER) and len(hostile) == len(sealed)
    entry.write_bytes(hostile)
    tracemalloc.start()
    try:
        assert read_parsed(entry, key) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, peak


def test_a_damaged_picture_is_drawn_again_not_copied(tmp_path):
    pictures = PictureCache(tmp_path)
    drawn = {"png": b"\x89PNG picture", "thumbnail.webp": b"RIFF thumbnail"}
    pictures.put("12" * 32, drawn)
    assert pictures.get("12" * 32, tuple(drawn)) == drawn
    path = pictures._path("12" * 32, "png")
    stored = path.read_bytes()
    assert fuzz([(path, lambda: pictures.get("12" * 32, tuple(drawn)), drawn)], 500, lambda a, b: a == b) == 500
    assert path.read_bytes() == stored
