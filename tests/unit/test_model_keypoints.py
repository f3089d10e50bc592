"""A pose file's ``keypoints:`` block made from what a model keeps (kpt_names, kpt_oks_sigmas, a
flip_idx where a checkpoint has one): each part written only when usable, the rest said in comments,
and the block loads as the case file's KeypointSpec."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.casefile.edit import new_document
from harness.casefile.load import load_case_file
from harness.golden.model_keypoints import keypoints_block, model_keypoints

NAMES = ["tip", "left_barb", "right_barb", "notch"]


def fake_model(**network) -> SimpleNamespace:
    """An Ultralytics model as far as the block reads it: attributes of its network (``.model``)."""
    return SimpleNamespace(model=SimpleNamespace(**network), predictor=None)


def written_spec(tmp_path, block):
    document = new_document(tmp_path / "p.yaml", model="m.pt", task="pose", predict={}, header="h", keypoints=block)
    document.save()
    return load_case_file(tmp_path / "p.yaml", check_model=False).keypoints, document.path.read_text()


def test_a_model_with_names_sigmas_and_flip_idx_gives_all_three(tmp_path):
    model = fake_model(
        kpt_names={0: NAMES}, kpt_oks_sigmas=[0.15, 0.15, 0.15, 0.1], flip_idx=[0, 2, 1, 3], args={"data": "d.yaml"}
    )
    spec, text = written_spec(tmp_path, keypoints_block(model_keypoints(model, 4), "m.pt"))
    assert spec.names == tuple(NAMES)
    assert spec.flip_idx == (0, 2, 1, 3)
    assert spec.sigmas == pytest.approx((0.15, 0.15, 0.15, 0.1)) and spec.sigmas_source == "the file"
    assert "# m.pt's own (kpt_names)" in text and "not in m.pt" not in text and "left out" not in text


def test_ultralytics_stand_in_names_become_k0_with_comments_for_what_is_missing(tmp_path):
    # Ultralytics names the keypoints "0", "1", ... when the data names none; sigmas None then.
    model = fake_model(kpt_names={0: ["0", "1", "2"], 1: ["0", "1", "2"]}, kpt_oks_sigmas=None, args={"data": "d.yaml"})
    spec, text = written_spec(tmp_path, keypoints_block(model_keypoints(model, 3), "m.pt"))
    assert spec.names == ("k0", "k1", "k2") and spec.flip_idx is None
    assert spec.sigmas == pytest.approx((1 / 3,) * 3) and spec.sigmas_source != "the file"
    assert "names: [k0, k1, k2]  # stand-ins: m.pt names none; name them" in text
    assert "  # flip_idx: not in m.pt; add it (Ultralytics' flip_idx, in d.yaml)\n" in text
    assert "  # sigmas: left out, so OKS uses the defaults (1/3 each, as Ultralytics uses for 3 keypoints);\n" in text


@pytest.mark.parametrize(
    ("network", "field"),
    [
        ({"kpt_names": {0: NAMES, 1: ["a", "b", "c", "d"]}}, "names"),  # classes disagree
        ({"kpt_names": {0: ["tip", "tip", "a", "b"]}}, "names"),  # a name twice
        ({"kpt_names": {0: NAMES[:3]}}, "names"),  # another count
        ({"flip_idx": [0, 2, 3, 1]}, "flip_idx"),  # not its own inverse
        ({"flip_idx": [0, 1, 2]}, "flip_idx"),
        ({"kpt_oks_sigmas": [0.1, 0.1, 0.0, 0.1]}, "sigmas"),  # a sigma must be > 0
        ({"kpt_oks_sigmas": "0.1"}, "sigmas"),
    ],
)
def test_what_does_not_fit_the_count_or_the_rules_is_left_out(network, field):
    assert getattr(model_keypoints(fake_model(**network), 4), field) is None


def test_an_export_s_metadata_is_read_from_the_predictor_s_backend():
    export = SimpleNamespace(model="m.onnx", predictor=SimpleNamespace(model=SimpleNamespace(kpt_names={0: NAMES})))
    assert model_keypoints(export, 4).names == tuple(NAMES)
