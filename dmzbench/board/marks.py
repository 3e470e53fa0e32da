"""Which values of a table do not count, and why: the marks that keep a degenerate model off the top of a page.

- **not above control**: a trained row whose value does not beat its own ``init`` control (same model, same column) by
  more than the combined uncertainty sqrt(u1² + u2²): training did not measurably change what the task measures.
- **not above chance**: a value that does not beat the chance level its task declares for it (``Metric.anchors``, e.g.
  recon's ``psnr_other`` for ``psnr``) by more than the combined uncertainty.
- **guard**: a metric guarded by another (``Metric.guard``, e.g. interp's smoothness by ``path_span``) whose guard is
  below its declared floor (the path does not move) or was not recorded.

A flagged value is shown greyed with its flag, is never marked best and is not ranked. Each trained cell also keeps its
difference from its control and from chance (``Delta``), which the pages show as columns. Without any uncertainty
estimate on either side a difference counts only beyond the gap the metric declares (``Metric.gap``); none declared,
it does not count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmzbench.api import Metric

if TYPE_CHECKING:  # board imports this module; the types are only named here
    from dmzbench.board.build import Cell, Table

NEAR_CONTROL = "not above control"
NEAR_CHANCE = "not above chance"


@dataclass(frozen=True)
class Delta:
    """A cell's difference from its init control or its chance level, with the combined uncertainty."""

    value: float
    uncertainty: float | None  # sqrt(u1² + u2²) of the estimates that exist; None when neither side has one
    distinct: bool  # the value beats the reference by more than the uncertainty (in the metric's direction)
    worse: bool = False  # the reference beats the value by more than the uncertainty


def delta(spec: Metric, value: Cell, reference: Cell) -> Delta:
    diff = value.mean - reference.mean
    known = [u for u in (value.uncertainty, reference.uncertainty) if u is not None]
    unc = math.hypot(*known) if known else None
    margin = diff if spec.higher_is_better else -diff
    needed = max(unc, spec.gap) if unc is not None else (spec.gap if spec.gap > 0 else math.inf)
    return Delta(diff, unc, margin > needed, -margin > needed)


def guard_flag(spec: Metric, guard: Cell | None) -> str | None:
    """The flag of a guarded value whose guard is missing or under its floor, else None."""
    if not spec.guard:
        return None
    if guard is None or guard.mean is None:
        return f"no {spec.guard}"
    return f"{spec.guard} < {spec.guard_floor:g}" if guard.mean < spec.guard_floor else None


def mark(table: Table, control_preset: str) -> None:
    """Set each cell's deltas and flags in place (before best marks and ranks, which skip flagged values)."""
    where = {(c.task, c.dataset, c.key, c.metric): j for j, c in enumerate(table.columns)}
    for j, col in enumerate(table.columns):
        spec = col.spec
        if spec.higher_is_better is None:
            continue
        chance_j = next((k for k, c in enumerate(table.columns) if c.spec.chance and c.spec.anchors == col.metric
                         and (c.task, c.dataset, c.key) == (col.task, col.dataset, col.key)), None)
        guard_j = where.get((col.task, col.dataset, col.key, spec.guard)) if spec.guard else None
        for i, row in enumerate(table.rows):
            cell = table.cells.get((i, j))
            if cell is None or cell.mean is None:
                continue
            flags = []
            if not row.control:
                ctrl = next((table.cells.get((k, j)) for k, r in enumerate(table.rows)
                             if r.control and r.model == row.model and r.preset == control_preset), None)
                if ctrl is not None and ctrl.mean is not None:
                    cell.vs_control = delta(spec, cell, ctrl)
                    if not cell.vs_control.distinct:
                        flags.append(NEAR_CONTROL)
            chance = table.cells.get((i, chance_j)) if chance_j is not None else None
            if chance is not None and chance.mean is not None:
                cell.vs_chance = delta(spec, cell, chance)
                if not cell.vs_chance.distinct:
                    flags.append(NEAR_CHANCE)
            flag = guard_flag(spec, table.cells.get((i, guard_j)) if guard_j is not None else None)
            if flag:
                flags.append(flag)
            cell.flags = tuple(flags)
