"""The leaderboard's tables as plain JSON (``dmzbench leaderboard --json``): the same cells the pages show."""

from __future__ import annotations

from typing import Any

from dmzbench.board.build import Board


def _delta(d) -> dict[str, Any] | None:
    return None if d is None else {"value": d.value, "uncertainty": d.uncertainty, "distinguishable": d.distinct}


def tables_json(board: Board) -> dict[str, Any]:
    out = []
    for table in board.tables:
        columns = [{"task": c.task, "dataset": c.dataset, "config_key": c.key, "variant": c.variant,
                    "metric": c.metric, "label": c.label, "shown": c.spec.shown, "chance": c.spec.chance,
                    "direction": {True: "higher", False: "lower", None: None}[c.spec.higher_is_better],
                    "meaning": c.spec.meaning, "n": c.n, "features": c.features,
                    "margin_tested": j not in table.untested} for j, c in enumerate(table.columns)]
        rows = []
        for i, row in enumerate(table.rows):
            cells = {}
            for j, col in enumerate(table.columns):
                if (i, j) in table.cells:
                    c = table.cells[(i, j)]
                    cells[f"{col.task}.{col.metric}@{col.key}"] = {
                        "mean": c.mean, "uncertainty": c.uncertainty, "uncertainty_kind": c.uncertainty_kind or None,
                        "seeds": c.seeds, "best": c.best, "skipped": c.skipped, "records": list(c.records),
                        "flags": list(c.flags), "vs_control": _delta(c.vs_control), "vs_chance": _delta(c.vs_chance)}
            rows.append({"model": row.model, "preset": row.preset, "control": row.control,
                         "rank": None if row.control else row.rank, "cells": cells})
        out.append({"section": table.group, "columns": columns, "rows": rows,
                    "ranked_by": None if table.headline is None else table.columns[table.headline].label})
    return {"records": len(board.runs), "tables": out}
