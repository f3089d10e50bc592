"""Layer 7, pytest_plugin: the pytest front door: hooks (``hooks``, the ``pytest11`` entry point),
options, run state (``session``), collectors and items, the report hooks, the golden-case inventory,
``--harness-update`` and pytest-xdist. The only layer that imports pytest.

Beside it, ``harness/cli/`` is the other front door, the ``vision-harness`` command.
"""
