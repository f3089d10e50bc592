"""The case-file form of the significance rule (``metrics: {confidence: 0.95}``) and how a gate is decided."""

from __future__ import annotations

import pytest

from harness.casefile.load import load_case_file
from harness.core.config import Gate
from harness.core.errors import CaseFileError
from harness.evaluation.gates import GateVerdict


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("1.5", "expected a confidence in [0.5, 1), e.g. 0.95, got 1.5 (or leave it out for the point rule)"),
        ("0.2", "expected a confidence in [0.5, 1), e.g. 0.95, got 0.2"),
        ("1", "expected a confidence in [0.5, 1)"),
        ("yes", "expected a finite number, got bool True"),
    ],
)
def test_a_bad_confidence_names_the_field(tmp_path, value, phrase):
    path = tmp_path / "cases.yaml"
    path.write_text(f"model: m.pt\nmetrics: {{confidence: {value}, box.map50: 0.5}}\ncases: []\n")
    with pytest.raises(CaseFileError) as info:
        load_case_file(path, check_model=False)
    message = str(info.value)
    assert "cases.yaml" in message and "metrics.confidence" in message and phrase in message


def test_the_confidence_applies_to_every_gate_of_the_file(tmp_path):
    path = tmp_path / "cases.yaml"
    path.write_text(
        "model: m.pt\nmetrics: {confidence: 0.9, box.map50: 0.5, per_tag: {night: {box.recall: 0.8}}}\ncases: []\n"
    )
    gates = load_case_file(path, check_model=False).gates
    assert {(g.path, g.confidence) for g in gates} == {("box.map50", 0.9), ("per_tag.night.box.recall", 0.9)}
    path.write_text("model: m.pt\nmetrics: {box.map50: 0.5}\ncases: []\n")
    assert load_case_file(path, check_model=False).gates[0].confidence is None


@pytest.mark.parametrize(
    ("value", "confidence", "bound", "passed"),
    [
        (0.85, None, None, True),  # at or above the minimum: passes under either rule
        (0.79, None, None, False),  # the point rule
        (0.79, 0.95, 0.83, True),  # below, but not with 95% confidence
        (0.70, 0.95, 0.78, False),  # below with 95% confidence
        (0.79, 0.95, None, False),  # too few defined resamples: the point rule decides
        (None, 0.95, None, False),  # undefined fails
    ],
)
def test_gate_verdicts(value, confidence, bound, passed):
    assert GateVerdict(Gate("box.map50", 0.8, confidence), value, confidence, bound).passed is passed
