"""The pytest plugin's hooks (entry point ``pytest11``): each a few lines delegating to the run state
(``session``), the collectors, the report hooks or the summary.

pytest imports this module in every session of a project that has the harness installed, also one
with no case files, and for ``pytest --help``: so it imports only the cheap modules at its top, and
the rest where a hook first needs them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.core.gpus import visible_gpus, worker_gpu
from harness.core.paths import only_pictures
from harness.pytest_plugin.options import add_options
from harness.pytest_plugin.report_hooks import configure_outputs, is_xdist_worker
from harness.pytest_plugin.session import RUN_KEY, configure_run, harness_run


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before other plugins register their marks: see configure_run
def pytest_configure(config: pytest.Config) -> None:
    run = configure_run(config)
    configure_outputs(config)
    worker = getattr(config, "workerinput", None)
    if worker is not None:  # a pytest-xdist worker: its own GPU, before anything starts CUDA
        gpu = worker_gpu(
            worker.get("workerid"), run.settings.device, visible_gpus(os.environ.get("CUDA_VISIBLE_DEVICES"))
        )
        if gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu


@pytest.hookimpl(tryfirst=True)  # a folder of pictures is decided here, before pytest's per-folder checks
def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A folder that holds only pictures is not walked: pytest would otherwise ask every plugin about
    each of its files (2.2 s for the 10,000 pictures of a big suite's folder), and none is a test."""
    return True if collection_path.is_dir() and only_pictures(collection_path) else None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None  # most files of a project: decided without importing the case-file stack
    from harness.pytest_plugin.collect import case_file_collector  # YAML, numpy, pycocotools: only for YAML files

    return case_file_collector(file_path, parent)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]):
    """-k, -m and --deselect never drop a broken case file or case: it carries no tags, and a typo in a
    gated file would otherwise pass the gate. It stays, as an error, and the summary says so."""
    broken = [item for item in items if getattr(item, "harness_kind", None) == "broken"]
    result = yield
    kept = {id(item) for item in items}
    restored = [item for item in broken if id(item) not in kept]
    if restored:
        items.extend(restored)
        harness_run(config).broken_kept = [item.nodeid for item in restored]
        # pytest counted them as deselected when -k/-m dropped them; they run, so they are not.
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        deselected = reporter.stats.get("deselected", []) if reporter is not None else []
        restored_ids = {id(item) for item in restored}
        deselected[:] = [item for item in deselected if id(item) not in restored_ids]
    return result


def pytest_collection_finish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN_KEY, None)
    if run is None:
        return
    run.selected = list(session.items)  # after -k/-m deselection: what predictions are planned for
    if session.config.getoption("harness_update"):
        from harness.pytest_plugin.update import updater  # the matching and editing stack: only for updates

        updater(session.config).select(session.items)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = harness_run(config).settings
    model = settings.model_override or "as each case file says"
    return [f"vision-harness: model {model}, device {settings.device or 'auto'}"]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist controller: tell each worker how items are handed out (it sees dist "no")."""
    node.workerinput["harness_dist"] = node.config.getoption("dist")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist controller: take in a finished worker's verdicts and model usage."""
    from harness.pytest_plugin.distributed import receive_worker_results  # only under xdist

    receive_worker_results(harness_run(node.config), node)


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN_KEY, None)
    if run is None:
        return
    if is_xdist_worker(session.config):
        from harness.pytest_plugin.distributed import send_worker_results  # only under xdist

        send_worker_results(run, session.config)  # the controller summarises and saves the baseline
    elif run.settings.save_baseline is not None:
        run.save_baseline()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None and run.collected_anything:
        from harness.pytest_plugin.summary import write_summary  # numbers and tables: only after a harness run

        write_summary(terminalreporter, run, config)
