"""A shared prediction cache on a real S3-protocol server (moto's server mode, on 127.0.0.1): a
second checkout predicts nothing and writes the same run record, a damaged object is predicted
again, concurrent runs leave valid entries, and a store that refuses is a warning, not a failure.
The stores without a run are tests/unit/test_cache_store.py."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness.core.sealed import unseal
from harness.evaluation.prediction_cache import PredictionCache

from conftest import ALLOW_OUTSIDE_ROOT, require_module

TORCH_PROBE = """
import sys

def pytest_unconfigure(config):  # the very end: after the summary too
    print("torch imported:", "torch" in sys.modules)
"""


@pytest.fixture(scope="module")
def s3_endpoint():
    """An S3 server for this module's tests, on a free port."""
    server_module = require_module("moto.server", "the shared-cache tests (an S3 server)")
    require_module("s3fs", "the shared-cache tests")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> str:
    """A fresh bucket, reachable as every S3 client finds one: credentials and endpoint in the environment."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import fsspec

    name = f"harness-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(name)
    return name


def _s3():
    import fsspec

    return fsspec.filesystem("s3", skip_instance_cache=True)  # the environment of this test, not an earlier one


def checkout(pytester, name: str, suite: str, url: str) -> Path:
    """A project folder of its own (its own pytest cache), naming the shared cache in its ini."""
    folder = pytester.mkdir(name)
    (folder / "pytest.ini").write_text(f"{ALLOW_OUTSIDE_ROOT}harness_cache_url = {url}\n")
    (folder / "shapes.yaml").write_text(suite)
    (folder / "conftest.py").write_text(TORCH_PROBE)
    return folder


def run_in(pytester, folder: Path, monkeypatch, *args: str):
    with monkeypatch.context() as m:
        m.chdir(folder)
        return pytester.runpytest_subprocess("--harness-json=record.json", "-W", "default", *args)


def record(folder: Path) -> dict:
    """The run record without what differs between two runs of the same verdicts: when, where, how long."""
    data = json.loads((folder / "record.json").read_text())
    del data["created"], data["invocation"]["rootdir"]
    # pytester gives each run a --basetemp of its own
    data["invocation"]["args"] = [arg for arg in data["invocation"]["args"] if not arg.startswith("--basetemp")]
    for model in data["models"]:
        for field in ("images_predicted", "images_from_cache", "seconds_predicting"):
            del model[field]
    return data


def model_line(result) -> str:
    return next(line for line in result.outlines if line.startswith("model "))


def entries(bucket: str) -> dict[str, bytes]:
    s3 = _s3()
    return {path: s3.cat_file(path) for path in s3.find(f"{bucket}/cache")}


def test_a_second_checkout_predicts_nothing_and_writes_the_same_record(pytester, detect_suite, bucket, monkeypatch):
    count = detect_suite.count("- name:")
    first = checkout(pytester, "first", detect_suite, f"s3://{bucket}/cache")
    cold = run_in(pytester, first, monkeypatch)
    cold.assert_outcomes(passed=count)
    assert f"{count} images predicted" in model_line(cold)
    predictions = [path for path in entries(bucket) if "/predictions/" in path]
    assert len(predictions) == count

    second = checkout(pytester, "second", detect_suite, f"s3://{bucket}/cache")
    warm = run_in(pytester, second, monkeypatch)
    warm.assert_outcomes(passed=count)
    assert f"0 images predicted in 0.0 s, {count} from the cache" in model_line(warm)
    warm.stdout.fnmatch_lines(["*torch imported: False"])
    assert record(second) == record(first)


def test_a_damaged_object_is_predicted_again_and_repaired(pytester, detect_suite, bucket, monkeypatch):
    count = detect_suite.count("- name:")
    first = checkout(pytester, "first", detect_suite, f"s3://{bucket}/cache")
    run_in(pytester, first, monkeypatch).assert_outcomes(passed=count)
    s3 = _s3()
    damaged = sorted(path for path in entries(bucket) if "/predictions/" in path)[0]
    original = s3.cat_file(damaged)
    entry = bytearray(original)
    entry[-5] ^= 0x01  # one bit in a number of the payload: still JSON, a different box or score
    s3.pipe_file(damaged, bytes(entry))

    second = checkout(pytester, "second", detect_suite, f"s3://{bucket}/cache")
    result = run_in(pytester, second, monkeypatch)
    result.assert_outcomes(passed=count)
    assert "1 image predicted" in model_line(result) and f"{count - 1} from the cache" in model_line(result)
    assert record(second) == record(first)  # the same verdicts: the damaged entry was never used
    assert _s3().cat_file(damaged) == original  # and the bucket holds the right entry again


def test_two_concurrent_runs_pass_and_leave_valid_entries(pytester, detect_suite, bucket):
    count = detect_suite.count("- name:")
    folders = [checkout(pytester, name, detect_suite, f"s3://{bucket}/cache") for name in ("a", "b")]
    runs = [
        pytester.popen(
            [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q"],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for folder in folders
    ]
    outputs = [run.communicate(timeout=300)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all(f"{count} passed" in output for output in outputs), outputs
    stored = entries(bucket)
    predictions = {path: data for path, data in stored.items() if "/predictions/" in path}
    assert len(predictions) == count
    for path, data in stored.items():
        assert unseal(data, PredictionCache.context(path)) is not None, path


def test_a_store_that_refuses_is_a_warning_and_the_verdicts_stand(pytester, detect_suite, bucket, monkeypatch):
    count = detect_suite.count("- name:")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the discard port: nothing listens there
    folder = checkout(pytester, "offline", detect_suite, f"s3://{bucket}/cache")
    result = run_in(pytester, folder, monkeypatch)
    result.assert_outcomes(passed=count)
    result.stdout.fnmatch_lines([f"*PytestCacheWarning: vision-harness: the shared cache s3://{bucket}/cache failed*"])
    assert result.stdout.str().count("vision-harness: the shared cache") == 1  # once, not once an image
    again = run_in(pytester, folder, monkeypatch)  # the local cache was written all the same
    assert f"0 images predicted in 0.0 s, {count} from the cache" in model_line(again)


def test_a_cache_url_without_a_scheme_is_a_usage_error(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest("--harness-cache-url=bucket/prefix")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*harness cache URL 'bucket/prefix': give an fsspec URL with a scheme*"])
