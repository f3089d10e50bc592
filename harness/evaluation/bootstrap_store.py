"""Bootstrap results kept between runs. Resampling a suite is a pure function of its COCO inputs
(expected objects and predictions of every case), its per-case counts, its tags, the resample count
and the seed, so a run whose verdicts did not change reads the values it drew last time instead of
drawing them again (as long as the rest of a warm run of 1,000 cases, at 1,000 resamples: docs/gates.md).

The key covers all of those inputs plus this module's and the resampling code's own source, so a
changed case, prediction, threshold or algorithm draws afresh. Entries live in the prediction
cache's store (the local folder, and the shared one with --harness-cache-url, so that CI runners
share them too) and are sealed (core/sealed.py): a damaged one is a miss. Values keep their dtypes,
so intervals read back are bit for bit the ones computed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.sealed import SCHEME, seal, unseal
from harness.evaluation import bootstrap, resampled_map
from harness.evaluation.cache_store import Store

FORMAT = "bootstrap-values-1"


@functools.cache
def _code_digest() -> str:
    """The resampling code's own source: entries from other code are never read."""
    digest = hashlib.sha256()
    for module in (bootstrap, resampled_map):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def inputs_digest(*parts: Any) -> str:
    """A digest of JSON-able inputs (COCO dicts, counts, tags); bytes (RLE counts) as text."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-able in a bootstrap key: {type(value).__name__}")


class BootstrapStore:
    """Resampled values in a cache store, one sealed entry per (inputs, resamples, seed, scope)."""

    def __init__(self, store: Store):
        self.store = store

    def key(self, inputs: str, resamples: int, seed: int, scope: str) -> str:
        text = f"{FORMAT} {SCHEME} {_code_digest()} numpy-{np.__version__} {inputs} {resamples} {seed} {scope}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        entry = self.store.read(f"bootstrap-{key}")
        payload = None if entry is None else unseal(entry, key)
        return None if payload is None else _decode(payload)

    def put(self, key: str, values: dict[str, np.ndarray]) -> None:
        self.store.write(f"bootstrap-{key}", seal(_encode(values), key))


def _encode(values: dict[str, np.ndarray]) -> bytes:
    """A JSON header line naming each array's dtype and length, then the arrays' bytes in order."""
    names = sorted(values)
    header = [[name, values[name].dtype.str, int(values[name].size)] for name in names]
    arrays = b"".join(np.ascontiguousarray(values[name]).tobytes() for name in names)
    return json.dumps(header).encode("utf-8") + b"\n" + arrays


def _decode(payload: memoryview) -> dict[str, np.ndarray] | None:
    data = bytes(payload)
    line_end = data.find(b"\n")
    try:
        header = json.loads(data[:line_end])
        out, offset = {}, line_end + 1
        for name, dtype, size in header:
            array = np.frombuffer(data, dtype=np.dtype(dtype), count=size, offset=offset)
            out[name] = array.copy()  # writable, and free of the entry's buffer
            offset += array.nbytes
    except (ValueError, TypeError):  # unreachable for what put() wrote (the seal held); a miss all the same
        return None
    return out if offset == len(data) else None
