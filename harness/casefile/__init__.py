"""Layer 2, casefile: the case-file format: its schema, reading and validating files, the parse
cache, the ``search:`` spec, finding case files, and editing them without losing what a person wrote.

Stands on ``core`` only. A new task type adds its schema part here.
"""
