"""Where prediction-cache entries live: a local folder, a shared store named by an fsspec URL
(``s3://bucket/prefix``, ``gs://...``, ``file:///mnt/shared/...``, ``memory://`` in tests), or both.

A store only moves bytes by name (``predictions/ab/<key>.json``); what an entry means and whether it
is intact is the prediction cache's business (``harness.core.sealed``), so a damaged or foreign
object in a shared bucket is a miss exactly like a damaged local file. Entries are immutable and
content-addressed: concurrent writers of one name write the same bytes, and each write is atomic
(a rename on a folder, one PUT on an object store), so no reader sees half an entry.

A shared store that fails (no network, no permission, no such bucket) is reported once through
``on_error`` and then left alone for the rest of the run: the run goes on with the local folder,
slower perhaps, never with a different verdict. Credentials and endpoints come from the usual
environment of the store's library (for S3: AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL...),
never from a case file.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from harness.core.atomic import write_bytes_atomically

ErrorReporter = Callable[[str], None]

# Network calls to a shared store give up after this long, so that a store that does not answer
# costs a run seconds, not the S3 client's default minutes of retries.
TIMEOUT_S = 10
RETRIES = 2


class Store(Protocol):
    """Bytes by name. ``read`` is None for a missing or unreadable entry; ``write`` never raises."""

    description: str

    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes) -> None: ...


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


class FolderStore:
    """Entries as files under a folder; a write goes to a temporary file renamed over the entry."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.description = str(self.directory)

    def path(self, name: str) -> Path:
        return self.directory / name

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except OSError:
            return None

    def write(self, name: str, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a read-only or full disk costs speed, never a result
            write_bytes_atomically(self.path(name), data)


class FsspecStore:
    """Entries as objects under an fsspec URL. The first failure other than a missing entry turns
    the store off for the rest of the run, with one report."""

    def __init__(self, url: str, on_error: ErrorReporter = _warn):
        self.description = url
        self.on_error = on_error
        self._fs: Any = None
        self._root = ""
        self.failed = False

    def _filesystem(self) -> Any:
        if self._fs is None:
            # fsspec (and s3fs, gcsfs) only when a shared cache is configured: the base install lacks them.
            import fsspec

            protocol = urlparse(self.description).scheme
            self._fs, self._root = fsspec.url_to_fs(self.description, **_options(protocol))
            self._root = self._root.rstrip("/")
        return self._fs

    def _name(self, name: str) -> str:
        return f"{self._root}/{name}"

    def read(self, name: str) -> bytes | None:
        if self.failed:
            return None
        try:
            return self._filesystem().cat_file(self._name(name))
        except FileNotFoundError:
            return None
        except Exception as exc:  # every library and transport has its own errors; all mean "not usable"
            self._fail("read", exc)
            return None

    def write(self, name: str, data: bytes) -> None:
        if self.failed:
            return
        try:
            # One PUT: an object store replaces an object whole, so readers see the old or the new entry.
            self._filesystem().pipe_file(self._name(name), data)
        except Exception as exc:  # as in read(): a store that cannot take the entry is turned off
            self._fail("write", exc)

    def _fail(self, action: str, exc: BaseException) -> None:
        self.failed = True
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
        remedy = (
            "install its library: pip install 'vision-harness[s3]' (or gcsfs for gs://)"
            if isinstance(exc, ImportError)
            else "check the URL, the network and the credentials in the environment"
        )
        self.on_error(
            f"vision-harness: the shared cache {self.description} failed to {action} ({reason}); "
            f"this run goes on without it: {remedy}"
        )


def _options(protocol: str) -> dict[str, Any]:
    """Connection settings that keep a failing store from stalling the run (credentials are not here)."""
    if protocol in ("s3", "s3a"):
        config = {"connect_timeout": TIMEOUT_S, "read_timeout": TIMEOUT_S, "retries": {"max_attempts": RETRIES}}
        return {"config_kwargs": config}
    return {}


class LayeredStore:
    """The local folder first, then the shared store; a shared hit is kept locally; writes go to both."""

    def __init__(self, local: Store, shared: Store):
        self.local = local
        self.shared = shared
        self.description = f"{local.description} + {shared.description}"

    def read(self, name: str) -> bytes | None:
        data = self.local.read(name)
        if data is not None:
            return data
        data = self.shared.read(name)
        if data is not None:
            self.local.write(name, data)  # unverified here: a damaged copy misses locally, then is read again
        return data

    def write(self, name: str, data: bytes) -> None:
        self.local.write(name, data)
        self.shared.write(name, data)


def shared_store(url: str, on_error: ErrorReporter = _warn) -> Store:
    """The store a cache URL names: a plain folder for ``file://`` (renames make its writes atomic on
    a shared file system too), fsspec for everything else."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FolderStore(Path(unquote(parsed.path)))
    if not parsed.scheme:
        raise ValueError(f"{url!r} is no URL: give a scheme, e.g. s3://bucket/prefix or file:///mnt/shared/cache")
    return FsspecStore(url, on_error)


def cache_store(local: Path | None, url: str | None, on_error: ErrorReporter = _warn) -> Store | None:
    """The store of a run: the local folder, the shared URL, both (layered), or None for no cache."""
    shared = shared_store(url, on_error) if url else None
    if local is None:
        return shared
    folder = FolderStore(local)
    return folder if shared is None else LayeredStore(folder, shared)
