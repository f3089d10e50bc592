"""Layer 3, evaluation: judging cases: running models (the only place, with ``golden``, that imports
torch and Ultralytics, lazily), the prediction cache, matching predictions to expected objects,
verdicts and their text, suite metrics, judging whole suites, and baselines.

Stands on ``core`` and ``casefile``. A new task type adds its matcher and metrics here.
"""
