"""Layer 1, core: what every other layer stands on and that knows nothing of case files or models.

Errors, configuration values (thresholds, gates, parity tolerances), atomic writes, geometry (IoU,
COCO RLE, polygons), reading images, image transforms with their exact geometry, paths and text
helpers. Imports nothing of the harness outside ``core``.
"""
