"""Layer 5, reports: what a run leaves for people and tools: overlay pictures and their cache, the
JSON run record and its schema, the HTML report and the CI step summary.

Stands on every layer below; knows nothing of pytest (the plugin hands it plain data). A new report
format goes here, wired in by ``pytest_plugin``.
"""
