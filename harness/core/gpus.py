"""Several GPUs on one machine under pytest-xdist: worker ``gwI`` gets visible GPU ``I mod count``.

A worker's GPU is chosen by narrowing its CUDA_VISIBLE_DEVICES to one GPU before anything in it
starts CUDA, so that torch and Ultralytics' automatic choice (``cuda:0``) land on that GPU. The
prediction cache's key is unchanged (``auto:cuda``): entries made by one worker are hits for every
other. Told without importing torch: the NVIDIA device nodes, or CUDA_VISIBLE_DEVICES when set.
"""

from __future__ import annotations

import re
from glob import glob

# Devices a worker may be moved off: unset (Ultralytics' choice) or CUDA without an index. An
# explicit GPU (cuda:1) or another kind (cpu, mps) is the user's pin and is kept.
SPREADABLE = (None, "", "cuda", "auto")


def visible_gpus(cuda_visible_devices: str | None, device_nodes: int | None = None) -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries (indices or UUIDs)."""
    if cuda_visible_devices is not None:
        entries = [entry.strip() for entry in cuda_visible_devices.split(",")]
        visible = []
        for entry in entries:
            if not entry or entry.startswith("-"):
                break  # CUDA ignores an invalid entry and every one after it
            visible.append(entry)
        return visible
    count = len(glob("/dev/nvidia[0-9]*")) if device_nodes is None else device_nodes
    return [str(index) for index in range(count)]


def worker_gpu(worker_id: str | None, device: str | None, visible: list[str]) -> str | None:
    """The CUDA_VISIBLE_DEVICES value for pytest-xdist worker ``worker_id`` (``gw0``, ``gw1``...):
    GPU ``index mod len(visible)``; None to leave the worker as it is (not a worker, fewer than two
    GPUs, or a device the user pinned)."""
    match = re.fullmatch(r"gw(\d+)", worker_id or "")
    if match is None or len(visible) < 2 or (device.strip().lower() if device else device) not in SPREADABLE:
        return None
    return visible[int(match.group(1)) % len(visible)]
