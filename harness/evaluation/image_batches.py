"""The pictures a model is given: decoded, transformed for a variant, in BGR as Ultralytics takes
numpy input; read a chunk at a time on the reader thread while the model runs on the last one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.core.errors import HarnessError
from harness.core.images import load_image

if TYPE_CHECKING:
    from harness.core.transforms import Transform

# An image and the transform a variant applies to it (None: the case's own picture).
Source = tuple[Path, "Transform | None"]


def bgr(source: Source, rgb: np.ndarray | None = None) -> np.ndarray:
    """The image as Ultralytics takes numpy input: BGR, like cv2.imread (transformed, for a variant).
    ``rgb``: the source file already decoded."""
    path, transform = source
    if rgb is None:
        rgb = load_image(path)
    if transform is not None:
        rgb = transform.apply_image(rgb)
    return np.ascontiguousarray(rgb[..., ::-1])


class ChunkReader:
    """Reads the images of one chunk after another (on the reader thread), decoding a file once for
    consecutive sources of it: a case's transformed variants follow the case, so its image is decoded
    once per image size instead of once per variant (2.7 ms a PNG here)."""

    def __init__(self) -> None:
        self._last: tuple[Path, np.ndarray] | None = None

    def __call__(self, sources: list[Source]) -> list[tuple[Source, np.ndarray]]:
        """The images that can be read; the others are left for ``predict`` to report."""
        chunk = []
        for source in sources:
            path = source[0]
            try:
                if self._last is None or self._last[0] != path:
                    self._last = (path, load_image(path))
                chunk.append((source, bgr(source, self._last[1])))
            except HarnessError:
                continue
        return chunk
