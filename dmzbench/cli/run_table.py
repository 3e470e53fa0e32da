"""The end-of-run table of ``dmzbench run`` on a terminal: one line of title, one row per metric with its own
uncertainty beside it (``0.7964 ± 0.0058``, not a row ``accuracy_std``), counts as integers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dmzbench.api import task_declaration
from dmzbench.run.records import ResultRecord


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


def control_line(record: ResultRecord, control: dict[str, Any], task_cls: type) -> str:
    """The headline metric beside the untrained control's (same task config and seed) and their difference with the
    combined uncertainty; the run's number alone says nothing about whether training helped."""
    declared = tuple(task_declaration(task_cls, "metrics"))
    head = next((m for m in declared if m.shown and m.higher_is_better is not None and m.name in record.metrics), None)
    if head is None or head.name not in control.get("metrics", {}):
        return f"init control: {control['model']['name']}/{control['model']['preset']} has no {task_cls.name} headline"
    mine, theirs = record.metrics[head.name], control["metrics"][head.name]
    u_mine, u_theirs = record.metrics.get(head.uncertainty), control["metrics"].get(head.uncertainty)
    both = (u_mine ** 2 + u_theirs ** 2) ** 0.5 if u_mine is not None and u_theirs is not None else None
    unc = lambda u: f" ± {u:.4f}" if u is not None else ""  # noqa: E731
    return (f"{head.name}: {mine:.4f}{unc(u_mine)}; untrained init control {theirs:.4f}{unc(u_theirs)}; "
            f"difference {mine - theirs:+.4f}{unc(both)}. Smoke models barely move from their init; the cpu table "
            "(leaderboards/cpu/README.md) compares the families at 15-20 CPU minutes of training each.")
