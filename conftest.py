"""Project-wide pytest setup: offline Ultralytics, and pytester for the plugin's integration tests."""

import os

# Set before anything imports Ultralytics: no update checks, no downloads, no telemetry.
os.environ.setdefault("YOLO_OFFLINE", "1")

pytest_plugins = ["pytester"]
