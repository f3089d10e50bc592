"""Cache entries that carry a sha256 of themselves: a flipped byte, a torn write or a cut-off file is
told apart from what the harness wrote, before anything decodes the entry.

An entry is ``HEADER + sha256 hex + "\\n" + payload``. The digest covers the header, the entry's name
(its cache key, given by the reader, not stored) and the payload, so a changed byte anywhere in the
file (header, digest, payload), bytes cut off or added, or an entry copied under another key, all
fail the check and read as a miss. The digest defends against accidents and damage, not against
someone who can write the cache folder: they can write a valid entry (see docs/security.md).
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from harness.core.atomic import write_bytes_atomically

# Bump when the layout or the hash changes: entries of another scheme then read as misses.
HEADER = b"vision-harness sealed-1 sha256 "
SCHEME = HEADER.decode("ascii").strip()  # for cache keys, so that a new scheme also gets new names
_DIGEST_LENGTH = 64  # hex characters
_PAYLOAD_START = len(HEADER) + _DIGEST_LENGTH + 1


def _digest(context: str, payload: bytes | memoryview) -> bytes:
    digest = hashlib.sha256(HEADER)
    digest.update(context.encode("utf-8") + b"\0")  # NUL: the key and the payload cannot trade bytes
    digest.update(payload)
    return digest.hexdigest().encode("ascii")


def seal(payload: bytes, context: str) -> bytes:
    """The entry to store for ``payload`` under the name ``context``."""
    return HEADER + _digest(context, payload) + b"\n" + payload


def unseal(entry: bytes, context: str) -> memoryview | None:
    """The payload of an entry ``seal`` wrote for ``context``, or None for anything else."""
    if len(entry) < _PAYLOAD_START or not entry.startswith(HEADER) or entry[_PAYLOAD_START - 1] != ord("\n"):
        return None
    payload = memoryview(entry)[_PAYLOAD_START:]  # a view: a big entry is not copied to be hashed
    if _digest(context, payload) != entry[len(HEADER) : _PAYLOAD_START - 1]:
        return None
    return payload


def read_sealed(path: Path, context: str) -> memoryview | None:
    """The verified payload stored at ``path``, or None when it is missing, unreadable or not intact."""
    try:
        entry = path.read_bytes()
    except OSError:
        return None
    return unseal(entry, context)


def write_sealed(path: Path, payload: bytes, context: str) -> None:
    """Store ``payload`` at ``path`` atomically; a read-only or full disk costs speed, never a result."""
    with contextlib.suppress(OSError):
        write_bytes_atomically(path, seal(payload, context))
