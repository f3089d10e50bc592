"""Suite metrics of classify cases: top-1 and top-5 accuracy, precision and recall per class.

A case's true class is its top-1 class when that is one of its labels, else its first label (a case
may accept several). ``label.top1`` is the share of cases whose top class is one of their labels,
``label.top5`` the share with one of their labels among the five best. Per class, precision is the
share of cases predicted as that class that are of it, recall the share of cases of that class
predicted as it. ``label.precision`` / ``recall`` / ``f1`` over all classes count every case once
(micro averages), so with one label a case each they equal the top-1 accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.evaluation.bootstrap import CaseSample
from harness.evaluation.matching import CaseVerdict
from harness.evaluation.metric_table import SuiteMetrics
from harness.evaluation.metrics import count_rates, summed_counts

KIND = "label"


def true_class(verdict: CaseVerdict) -> str:
    """The class the case is of (see the module docstring)."""
    label = verdict.label
    predicted = label.predicted
    return predicted if predicted in label.spec.labels else label.spec.labels[0]


def label_suite_metrics(verdicts: Sequence[CaseVerdict]) -> SuiteMetrics:
    """Suite metrics (``label.top1`` ...) of classify verdicts, per class and per tag too."""
    verdicts = [v for v in verdicts if v.label is not None]
    counts = [case_counts(verdict) for verdict in verdicts]
    values, per_class = _values(verdicts, counts)
    tags = sorted({tag for v in verdicts for tag in v.case.tags})
    positions = {tag: [i for i, v in enumerate(verdicts) if tag in v.case.tags] for tag in tags}

    def tag_values() -> dict[str, dict[str, float]]:
        return {tag: _values([verdicts[i] for i in at], [counts[i] for i in at])[0] for tag, at in positions.items()}

    samples: list[CaseSample] = [
        {"counts": {KIND: count}, "coco": {}, "shares": _hits(verdict)}
        for count, verdict in zip(counts, verdicts, strict=True)
    ]
    return SuiteMetrics(values, per_class, tags, tag_values, len(verdicts), lambda _areas: samples, positions)


def case_counts(verdict: CaseVerdict) -> dict[str, list[int]]:
    """One case's [correct, of the class, predicted as the class], for all classes (key "") and per class."""
    truth, predicted = true_class(verdict), verdict.label.predicted
    correct = int(truth == predicted)
    counts = {"": [correct, 1, 1], truth: [correct, 1, correct]}
    if predicted is not None and not correct:
        counts[predicted] = [0, 0, 1]
    return counts


def _hits(verdict: CaseVerdict) -> dict[str, int]:
    """Whether the case's top class, and its five best, hold one of its labels (1) or not (0)."""
    label = verdict.label
    return {
        f"{KIND}.top1": int(label.predicted in label.spec.labels),
        f"{KIND}.top5": int(any(name in label.spec.labels for name, _ in label.ranked[:5])),
    }


def _values(
    verdicts: Sequence[CaseVerdict], counts: Sequence[dict[str, list[int]]]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    values: dict[str, float] = {}
    if verdicts:
        hits = [_hits(verdict) for verdict in verdicts]
        values = {name: sum(hit[name] for hit in hits) / len(verdicts) for name in hits[0]}
    per_class: dict[str, dict[str, float]] = {}
    for scope, row in sorted(summed_counts(counts).items()):
        rates = count_rates(KIND, *row)
        if scope:
            per_class[scope] = rates
        else:
            values |= rates
    return values, per_class


def confusion(verdicts: Sequence[CaseVerdict]) -> tuple[list[str], list[list[int]]]:
    """The confusion matrix: classes (sorted), and rows of true class by columns of predicted class."""
    pairs = [(true_class(v), v.label.predicted or "") for v in verdicts if v.label is not None]
    classes = sorted({name for pair in pairs for name in pair if name})
    index = {name: i for i, name in enumerate(classes)}
    matrix = [[0] * len(classes) for _ in classes]
    for truth, predicted in pairs:
        if predicted:
            matrix[index[truth]][index[predicted]] += 1
    return classes, matrix
