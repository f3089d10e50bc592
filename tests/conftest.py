"""Shared paths and helpers for the project's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MODELS = FIXTURES / "models"
CASES = ROOT / "cases"


def shipped_suite(name: str) -> str:
    """A shipped case file's text with its relative fixture paths made absolute, to run elsewhere."""
    return (CASES / name).read_text().replace("../fixtures/", f"{FIXTURES}/")


@pytest.fixture
def seg_suite() -> str:
    return shipped_suite("shapes-seg.yaml")


@pytest.fixture
def detect_suite() -> str:
    return shipped_suite("shapes-detect.yaml")
