"""Layer 4, robustness: judging a case beyond its own image: transformed variants (``transforms:``),
the search for the smallest breaking perturbation (``search:``) and export parity (``compare_to:``).

Stands on ``core``, ``casefile`` and ``evaluation``.
"""
