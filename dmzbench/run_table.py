"""The end-of-run table of ``dmzbench run`` on a terminal: one line of title, one row per metric with its own
uncertainty beside it (``0.7964 ± 0.0058``, not a row ``accuracy_std``), counts as integers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dmzbench.api import task_declaration
from dmzbench.records import ResultRecord


def title(record: ResultRecord) -> str:
    m = record.model
    return f"{record.task['name']} · {m['name']}/{m['preset']} · {record.dataset['name']} · seed {record.seed}"


def number(value: float, score: bool) -> str:
    """A count (a metric without a direction) that is a whole number prints as one; a score keeps 4 decimals."""
    if not score and float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4f}"


def metric_rows(record: ResultRecord, task_cls: type) -> Iterator[tuple[str, str]]:
    """(metric, text) for the table: each declared uncertainty folded into its metric's row."""
    declared = tuple(task_declaration(task_cls, "metrics"))
    uncertainty_of: dict[str, str] = {}
    for key in record.metrics:
        spec = next((m for m in declared if m.matches(key)), None)
        if spec is not None and spec.uncertainty in record.metrics:
            uncertainty_of[key] = spec.uncertainty
    folded = set(uncertainty_of.values())
    for key, value in record.metrics.items():
        if key in folded:
            continue
        spec: Any = next((m for m in declared if m.matches(key)), None)
        score = spec is None or spec.higher_is_better is not None
        text = number(value, score)
        if key in uncertainty_of:
            text += f" ± {record.metrics[uncertainty_of[key]]:.4f}"
        yield key, text
