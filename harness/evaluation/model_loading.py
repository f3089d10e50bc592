"""Loading a model file without running code hidden in it.

A ``.pt`` file is a Python pickle: unpickling it may call any function, so a model from a pull
request could run code on the CI machine. By default the harness loads models with Ultralytics'
safe loading (``weights_only`` unpickling against an allow-list of Ultralytics and torch model
classes), which loads real Ultralytics checkpoints and refuses anything else. Trusting a file
(``--harness-trust-pickles``, ``harness_trust_pickles = true``, ``vision-harness ... --trust-pickles``)
loads it the ordinary way. See docs/security.md.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

from harness.core.errors import ModelError

TRUST_SWITCHES = "--harness-trust-pickles (ini: harness_trust_pickles = true; vision-harness: --trust-pickles)"


def load_yolo(spec: str, *, trust_pickles: bool) -> Any:
    """``ultralytics.YOLO(spec)``; unless ``trust_pickles``, with safe loading on for this load only.

    Raises:
        ModelError: safe loading refused the file (one line naming it and the switch), or it is unavailable.
    """
    from ultralytics import YOLO  # here, not at the top: importing Ultralytics imports torch

    if trust_pickles:
        return YOLO(spec)
    with _safe_loading(spec):
        try:
            return YOLO(spec)
        except Exception as exc:
            if _refused(exc):
                raise ModelError(
                    f"cannot load model {spec}: safe loading refused it (it holds Python objects beyond an "
                    f"Ultralytics checkpoint's, which unpickling would run); only if you trust the file, pass "
                    f"{TRUST_SWITCHES}"
                ) from None
            raise


@contextlib.contextmanager
def _safe_loading(spec: str) -> Iterator[None]:
    """Ultralytics' own safe-loading switch, on around one load and restored after.

    Ultralytics reads ULTRALYTICS_SAFE_LOAD once, into ``ultralytics.nn.tasks.SAFE_LOAD``, when it is
    imported; ``torch_safe_load`` and model building read that name at each call, so setting it is
    how the setting reaches them, without changing the environment of the rest of the process.
    """
    from ultralytics.nn import tasks  # here: importing it imports torch

    safe_load = getattr(tasks, "_SafeLoad", None)
    if not hasattr(tasks, "SAFE_LOAD") or not getattr(safe_load, "SUPPORTED", False):
        # Without torch's weights_only scan Ultralytics silently falls back to a plain unpickle: refuse instead.
        raise ModelError(
            f"cannot load model {spec} safely: this torch or Ultralytics has no safe loading (torch 2.6 or later "
            f"is needed); upgrade them, or only if you trust the file, pass {TRUST_SWITCHES}"
        )
    saved = tasks.SAFE_LOAD
    tasks.SAFE_LOAD = True
    try:
        yield
    finally:
        tasks.SAFE_LOAD = saved


def _refused(exc: BaseException) -> bool:
    """Whether safe loading, not a damaged or missing file, stopped the load."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, pickle.UnpicklingError) or "outside the supported Ultralytics checkpoint" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
