"""pytest-xdist workers spread over a machine's GPUs: worker gwI on visible GPU I mod count
(harness/core/gpus.py). Checked on CPUs only here: no GPU was lent to the session that wrote it."""

from __future__ import annotations

import pytest

from harness.core.gpus import visible_gpus, worker_gpu


@pytest.mark.parametrize(
    ("worker", "expected"), [("gw0", "0"), ("gw1", "1"), ("gw2", "2"), ("gw3", "0"), ("gw7", "1"), ("gw12", "0")]
)
def test_worker_i_takes_gpu_i_mod_count(worker, expected):
    assert worker_gpu(worker, None, ["0", "1", "2"]) == expected


def test_the_visible_list_is_what_a_worker_picks_from():
    visible = visible_gpus("4,6")
    assert [worker_gpu(f"gw{i}", "cuda", visible) for i in range(4)] == ["4", "6", "4", "6"]
    uuids = visible_gpus("GPU-aa, GPU-bb")
    assert worker_gpu("gw1", None, uuids) == "GPU-bb"


@pytest.mark.parametrize("device", ["cpu", "cuda:1", "mps", "0"])
def test_a_device_the_user_pinned_is_kept(device):
    assert worker_gpu("gw1", device, ["0", "1"]) is None


@pytest.mark.parametrize(("worker", "visible"), [(None, ["0", "1"]), ("main", ["0", "1"]), ("gw1", ["0"]), ("gw1", [])])
def test_no_worker_or_fewer_than_two_gpus_changes_nothing(worker, visible):
    assert worker_gpu(worker, None, visible) is None


def test_visible_gpus_follows_cuda_rules():
    assert visible_gpus(None, device_nodes=3) == ["0", "1", "2"]
    assert visible_gpus(None, device_nodes=0) == []
    assert visible_gpus("") == []
    assert visible_gpus("-1") == []
    assert visible_gpus("2,-1,3") == ["2"]  # CUDA stops at the first invalid entry
    assert visible_gpus("1,0") == ["1", "0"]
