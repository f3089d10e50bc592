"""pytest-xdist: what a worker sends home at the end, so the controller's summary, suite metrics
and baseline cover every worker's cases exactly as a serial run would."""

from __future__ import annotations

import pickle

from harness.pytest_plugin.inventory import golden_summary
from harness.pytest_plugin.session import HarnessRun

# The key in xdist's workeroutput, which carries only plain values: the state travels pickled.
WORKER_OUTPUT_KEY = "vision_harness"


def worker_payload(run: HarnessRun, golden_lines: list[str]) -> bytes | str:
    """The verdicts this worker reached, the case files it collected, what its models did and its
    golden-case summary lines; or, should they not pickle, a line saying why (xdist would drop a
    worker's exception unseen)."""
    models = [model.usage() for model in run.judge.models.used()] if run.judge_started else []
    state = {"verdicts": run.verdicts, "case_files": run.case_files, "models": models, "golden": golden_lines}
    state["parity"] = run.parity
    try:
        return pickle.dumps(state)
    except Exception as exc:  # reported by the controller instead
        return f"{type(exc).__name__}: {exc}"


def send_worker_results(run: HarnessRun, config) -> None:
    """On a worker, at its session's end: put what the controller needs into xdist's workeroutput.
    It collects nothing itself, so it gets the golden-case lines too."""
    config.workeroutput[WORKER_OUTPUT_KEY] = worker_payload(run, golden_summary(config))


def receive_worker_results(run: HarnessRun, node) -> None:
    """On the controller, when a worker finishes: fold in its payload, if it sent one."""
    payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if payload:
        merge_worker_payload(run, payload)


def merge_worker_payload(run: HarnessRun, payload: bytes | str) -> None:
    """Fold one worker's payload into the controller's run (pickled by our own worker processes)."""
    if isinstance(payload, str):
        raise RuntimeError(f"vision-harness: a pytest-xdist worker could not send its results home: {payload}")
    state = pickle.loads(payload)  # written by this session's own workers, so trusted
    run.case_files.update(state["case_files"])
    spec_of_file = {str(case_file.path): spec for case_file, spec in state["case_files"].values()}
    for nodeid, verdict in state["verdicts"].items():
        run.verdicts[nodeid] = verdict
        run.judge.remember(verdict, spec_of_file[str(verdict.case.file)])
    run.parity.update(state["parity"])
    for usage in state["models"]:
        run.judge.model(usage["spec"]).absorb(usage)
    # Every worker collects every file and the same selection, so any worker's lines are the run's.
    run.worker_golden_lines = run.worker_golden_lines or state["golden"]
