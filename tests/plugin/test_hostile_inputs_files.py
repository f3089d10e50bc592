"""Hostile files a case file can name, run through the plugin: a model whose unpickling runs code,
an image outside the project, case files whose cases share objects through a YAML alias, and
case files with Windows line endings and a byte-order mark."""

from __future__ import annotations

import pathlib

import pytest
import torch

from conftest import FIXTURES, MODELS

IMAGE = FIXTURES / "images" / "golden-001.png"
# Two cases on one image, both wrong about it: B shares A's objects through an alias.
SHARED = f"""# two cases, one list of objects
version: 1
task: detect
predict: {{imgsz: 256, conf: 0.25, agnostic_nms: true}}
cases:
  - name: case-a
    image: {IMAGE}
    objects: &shared
      - class: circle
        box: [1, 1, 20, 20]
  - name: case-b
    image: {IMAGE}
    objects: *shared
"""


class _RunsCode:
    """Pickles as a call of ``Path.touch``: unpickling it creates the marker file."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def malicious_model(folder: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    """The shipped detect model, working as before, plus an object whose unpickling runs code."""
    checkpoint = torch.load(MODELS / "shapes-detect.pt", map_location="cpu", weights_only=False)
    checkpoint["payload"] = _RunsCode(marker)
    path = folder / "candidate.pt"
    torch.save(checkpoint, path)
    return path


@pytest.fixture
def marker(tmp_path) -> pathlib.Path:
    return tmp_path / "code-ran"


def test_a_model_that_runs_code_is_refused_by_default(pytester, detect_suite, marker, tmp_path):
    model = malicious_model(tmp_path, marker)
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest(f"--harness-model={model}", "--harness-no-cache", "shapes.yaml::scene-001")
    result.assert_outcomes(errors=1)
    assert not marker.exists(), "unpickling ran the model file's code"
    text = result.stdout.str()
    assert f"cannot load model {model}: safe loading refused it" in text
    assert "--harness-trust-pickles" in text
    assert "During handling of the above exception" not in text
    # Once in the report (the short summary line repeats it, cut or not as the terminal's width allows).
    reported = [line for line in result.outlines if "safe loading refused it" in line and not line.startswith("ERROR ")]
    assert len(reported) == 1, reported


@pytest.mark.parametrize("switch", [["--harness-trust-pickles"], ["-o", "harness_trust_pickles=true"]])
def test_trusting_pickles_loads_the_model_and_runs_its_code(pytester, detect_suite, marker, tmp_path, switch):
    model = malicious_model(tmp_path, marker)
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest(f"--harness-model={model}", "--harness-no-cache", *switch, "shapes.yaml::scene-001")
    result.assert_outcomes(passed=1)
    assert marker.exists()  # the opt-out really is a plain unpickle


def test_shipped_models_load_and_pass_under_safe_loading(pytester, detect_suite, seg_suite):
    pytester.makefile(".yaml", detect=detect_suite, seg=seg_suite)
    result = pytester.runpytest("--harness-no-cache", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 40 and "errors" not in outcomes and "failed" not in outcomes, outcomes


def test_vision_harness_new_refuses_a_model_that_runs_code(marker, tmp_path, capsys):
    from harness.cli import main

    model = malicious_model(tmp_path, marker)
    out = tmp_path / "new.yaml"
    assert main(["new", str(IMAGE), "--model", str(model), "--out", str(out)]) == 2
    assert not marker.exists() and not out.exists()
    assert "safe loading refused it" in capsys.readouterr().err
    assert main(["new", str(IMAGE), "--model", str(model), "--out", str(out), "--trust-pickles"]) == 0
    assert marker.exists() and out.exists()


def test_an_image_outside_the_root_is_refused_before_it_is_opened(pytester, monkeypatch, tmp_path):
    from PIL import Image

    outside = tmp_path / "elsewhere" / "secret.png"
    outside.parent.mkdir()
    Image.new("RGB", (40, 30)).save(outside)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    pytester.makeini("[pytest]\n")  # the project root rule in force
    pytester.makefile(".yaml", cases=f"cases:\n  - name: c\n    image: {outside}\n    objects: []\n")
    result = pytester.runpytest(f"--harness-model={MODELS / 'shapes-detect.pt'}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*case 'c': image: *secret.png is outside the project root*allow_outside_root*"])
    assert str(outside) not in opened


def test_updating_a_case_leaves_a_case_sharing_its_objects_alone(pytester):
    path = pytester.makefile(".yaml", shared=SHARED)
    model = [f"--harness-model={MODELS / 'shapes-detect.pt'}"]
    pytester.runpytest(*model, "--harness-update", "shared.yaml::case-a").assert_outcomes(failed=1)
    again = pytester.runpytest(*model, "-rfs")
    again.assert_outcomes(skipped=1, failed=1)  # A recorded, waiting for review; B still as wrong as before
    again.stdout.fnmatch_lines(["FAILED shared.yaml::case-b*"])
    text = path.read_text()
    assert text.count("box: [1, 1, 20, 20]") == 1 and "recorded:" in text


def test_update_keeps_crlf_line_endings_and_the_byte_order_mark(pytester):
    path = pytester.path / "windows.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SHARED.replace("*shared", "[]").replace("\n", "\r\n").encode())
    result = pytester.runpytest(
        f"--harness-model={MODELS / 'shapes-detect.pt'}", "--harness-update", "windows.yaml::case-a"
    )
    result.assert_outcomes(failed=1)
    data = path.read_bytes()
    assert b"recorded:" in data
    assert data.startswith(b"\xef\xbb\xbf") and not data.startswith(b"\xef\xbb\xbf\xef\xbb\xbf")
    assert data.count(b"\n") == data.count(b"\r\n") > 10


def test_marking_one_case_reviewed_leaves_a_case_sharing_its_recorded_alone(tmp_path):
    from harness.casefile.load import load_case_file
    from harness.golden.review import mark_reviewed

    path = tmp_path / "recorded.yaml"
    path.write_text(
        f"cases:\n  - name: a\n    image: {IMAGE}\n"
        "    recorded: &rec {model: m.pt, reviewed: false}\n    objects: []\n"
        f"  - name: b\n    image: {IMAGE}\n    recorded: *rec\n    objects: []\n"
    )
    assert mark_reviewed(path, ["a"]) == ["a"]
    a, b = load_case_file(path, check_model=False).cases
    assert (a.recorded.reviewed, b.recorded.reviewed) == (True, False)
