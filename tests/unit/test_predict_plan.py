"""What `vision-harness predict` plans for a run (harness/robustness/plan.py), without a model:
every case's image, its variants, both models of export parity, and a note for each search.
That a run after it predicts nothing is tests/acceptance/test_ray_predict.py."""

from __future__ import annotations

from pathlib import Path

from harness.robustness.plan import plan_predictions

from conftest import CASES, MODELS, shipped_suite, with_case_line

SEG = str(MODELS / "shapes-seg.pt")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "seg.yaml"
    path.write_text(text)
    return path


def test_the_shipped_suites_plan_each_case_and_variant_once_per_model():
    # The detect, seg and pose suites (the obb and classify suites beside them predict at other settings).
    plan = plan_predictions([CASES / f"shapes-{task}.yaml" for task in ("detect", "seg", "pose")])
    assert plan.notes == []
    by_model = {Path(job.model).name: job for job in plan.jobs}
    assert sorted(by_model) == ["shapes-detect.pt", "shapes-pose.pt", "shapes-seg.pt"]
    for job in plan.jobs:
        plain = [source for source in job.sources if source[1] is None]
        variants = [source for source in job.sources if source[1] is not None]
        assert len(plain) == 24 and len(variants) == 120  # 5 transforms a case in the shipped suites
        assert len(set(job.sources)) == len(job.sources)
        assert dict(job.arguments) == {"imgsz": 256, "conf": 0.25, "agnostic_nms": True}


def test_parity_plans_both_models_and_a_search_is_a_note(tmp_path):
    text = shipped_suite("shapes-seg.yaml").replace("task: segment\n", f"task: segment\ncompare_to: {SEG}x\n")
    text = with_case_line(text, "scene-002", "search: {noise: [0, 30]}")
    other = tmp_path / "shapes-seg.ptx"
    other.write_bytes((MODELS / "shapes-seg.pt").read_bytes())
    plan = plan_predictions([_write(tmp_path, text.replace(f"{SEG}x", str(other)))])
    assert [Path(job.model).name for job in plan.jobs] == ["shapes-seg.pt", "shapes-seg.ptx"]
    assert len(plan.jobs[1].sources) == 24  # parity: the plain images only
    assert len(plan.notes) == 1 and "scene-002[search]: a search chooses its images as it goes" in plan.notes[0]


def test_a_model_override_and_cases_that_cannot_run(tmp_path):
    text = with_case_line(shipped_suite("shapes-seg.yaml"), "scene-001", "recorded: {model: m.pt, reviewed: false}")
    broken = tmp_path / "broken.yaml"
    broken.write_text("cases: [")
    plan = plan_predictions([_write(tmp_path, text), broken], model_override=str(MODELS / "shapes-detect.pt"))
    assert [Path(job.model).name for job in plan.jobs] == ["shapes-detect.pt"]
    assert len(plan.jobs[0].sources) == 23  # the case waiting for review is skipped, as the run skips it
    assert len(plan.notes) == 1 and plan.notes[0].startswith(f"not planned: {broken}")
