"""The prediction cache's stores without a model: a folder, an fsspec store (memory://), both layered,
and a store that fails. Runs against a real S3 server are tests/plugin/test_shared_cache.py."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from harness.core.sealed import seal, unseal
from harness.evaluation.cache_store import FolderStore, FsspecStore, LayeredStore, cache_store, shared_store
from harness.evaluation.prediction_cache import PredictionCache
from harness.evaluation.predictions import Predictions

from conftest import require_module

PREDICTIONS = Predictions(
    boxes=np.array([[1.5, 2.0, 30.25, 40.0]]),
    class_names=("circle",),
    scores=np.array([0.875]),
    masks=None,
    image_size=(64, 48),
)
KEY = "ab" * 32


@pytest.fixture
def memory_url() -> str:
    require_module("fsspec", "the shared cache")
    return f"memory://harness-{uuid.uuid4().hex}"  # fsspec's memory store is process-wide: one prefix a test


def test_a_prediction_round_trips_through_a_shared_store(memory_url):
    cache = PredictionCache(store=shared_store(memory_url))
    cache.put(KEY, PREDICTIONS, "cpu")
    predictions, device = cache.get(KEY)
    assert device == "cpu"
    assert predictions.boxes.tolist() == PREDICTIONS.boxes.tolist()
    assert predictions.class_names == ("circle",)
    assert cache.get("cd" * 32) is None


def test_a_damaged_shared_entry_is_a_miss(memory_url):
    store = shared_store(memory_url)
    cache = PredictionCache(store=store)
    cache.put(KEY, PREDICTIONS, "cpu")
    name = cache.prediction_name(KEY)
    entry = bytearray(store.read(name))
    entry[-3] ^= 1  # one flipped bit in the payload
    store.write(name, bytes(entry))
    assert cache.get(KEY) is None
    store.write(name, seal(b'{"image_size": [64, 48]}', "another key.json"))  # sealed, but for another name
    assert cache.get(KEY) is None


def test_layered_reads_local_first_keeps_a_shared_hit_locally_and_writes_both(tmp_path, memory_url):
    local, shared = FolderStore(tmp_path), shared_store(memory_url)
    layered = LayeredStore(local, shared)
    shared.write("predictions/ab/x.json", b"from the bucket")
    assert layered.read("predictions/ab/x.json") == b"from the bucket"
    assert (tmp_path / "predictions" / "ab" / "x.json").read_bytes() == b"from the bucket"
    local.write("predictions/ab/x.json", b"local")
    assert layered.read("predictions/ab/x.json") == b"local"  # the bucket is not asked again
    layered.write("predictions/cd/y.json", b"both")
    assert local.read("predictions/cd/y.json") == shared.read("predictions/cd/y.json") == b"both"


def test_a_shared_cache_fills_a_fresh_local_folder(tmp_path, memory_url):
    first = PredictionCache(store=cache_store(tmp_path / "one", memory_url))
    first.put(KEY, PREDICTIONS, "cpu")
    second = PredictionCache(store=cache_store(tmp_path / "two", memory_url))  # another checkout
    assert second.get(KEY) is not None
    assert (tmp_path / "two" / PredictionCache.prediction_name(KEY)).is_file()


class _Broken:
    """An fsspec file system whose every call fails, as an unreachable or forbidden bucket does."""

    calls = 0

    def cat_file(self, path):
        self.calls += 1
        raise PermissionError("Access Denied")

    pipe_file = cat_file


def test_a_failing_shared_store_is_reported_once_and_then_left_alone(tmp_path):
    reports: list[str] = []
    shared = FsspecStore("s3://forbidden/cache", on_error=reports.append)
    shared._fs = broken = _Broken()
    cache = PredictionCache(store=LayeredStore(FolderStore(tmp_path), shared))
    assert cache.get(KEY) is None
    cache.put(KEY, PREDICTIONS, "cpu")
    assert cache.get(KEY) is not None  # the local folder still works
    assert broken.calls == 1
    assert len(reports) == 1
    assert "s3://forbidden/cache failed to read (PermissionError: Access Denied)" in reports[0]
    assert "goes on without it" in reports[0]


def test_a_missing_library_says_what_to_install():
    reports: list[str] = []
    store = FsspecStore("nosuchprotocol-harness://bucket/x", on_error=reports.append)
    assert store.read("predictions/ab/x.json") is None
    assert len(reports) == 1
    assert "nosuchprotocol-harness://bucket/x failed to read" in reports[0]


def test_file_urls_are_folders_with_atomic_writes(tmp_path):
    store = shared_store((tmp_path / "shared cache").as_uri())
    assert isinstance(store, FolderStore)
    assert store.directory == tmp_path / "shared cache"
    store.write("predictions/ab/x.json", seal(b"{}", "x.json"))
    assert unseal(store.read("predictions/ab/x.json"), "x.json") is not None
    assert [p.name for p in (tmp_path / "shared cache" / "predictions" / "ab").iterdir()] == ["x.json"]


def test_a_url_without_a_scheme_is_refused():
    with pytest.raises(ValueError, match="no URL: give a scheme"):
        shared_store("bucket/prefix")


def test_no_folder_and_no_url_is_no_cache(tmp_path):
    assert cache_store(None, None) is None
    assert isinstance(cache_store(tmp_path, None), FolderStore)
