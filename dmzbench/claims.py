"""The papers' headline claims, checked against the records: each claim is data (``leaderboards/claims.toml``), its
verdict is computed from the leaderboard's cells with their uncertainty.

A claim says model ``better`` beats each model in ``than`` on ``task.metric`` (optionally on one data set and preset;
``at_least = true`` for "at least as good as"). Per pair, in the first column where both have a value:
- holds: the difference favours ``better`` by more than the combined uncertainty (for ``at_least``: it does not lose);
- does not hold: the other model wins by more than the combined uncertainty;
- not distinguishable: the difference is inside the combined uncertainty;
- not yet run: a needed cell is missing or skipped (the verdict names which).
A claim holds when every pair holds; it does not hold when any pair does not; it is not yet run when any pair is.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from dmzbench.board import Board, Cell, Table, better
from dmzbench.board_text import value_text
from dmzbench.errors import UsageError

HOLDS, FAILS, TIE, MISSING = "holds", "does not hold", "not distinguishable", "not yet run"


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    claim: str
    task: str
    metric: str
    better: str
    than: tuple[str, ...]
    dataset: str = ""
    preset: str = ""
    at_least: bool = False


def load(path: Path) -> list[Claim]:
    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"claims file {path} cannot be read ({exc}); fix it or pass --claims") from None
    claims = []
    for item in raw.get("claim", []):
        try:
            claims.append(Claim(**{**item, "than": tuple(item.get("than", ()))}))
        except TypeError as exc:
            raise UsageError(f"claim {item.get('id', '?')} in {path}: {exc}") from None
    return claims


def _find(board: Board, claim: Claim, model: str, column_ok) -> tuple[Table, int, int, Cell] | str:
    """(table, row, column, cell) of ``model`` in the first matching column accepted by ``column_ok``, or why not."""
    skipped = None
    for table in board.tables:
        for j, col in enumerate(table.columns):
            if (col.task, col.metric) != (claim.task, claim.metric) or (claim.dataset and col.dataset != claim.dataset):
                continue
            if not column_ok(table, j):
                continue
            for i, row in enumerate(table.rows):
                if row.model != model or row.control or (claim.preset and row.preset != claim.preset):
                    continue
                cell = table.cell(i, j)
                if cell.mean is not None:
                    return table, i, j, cell
                skipped = skipped or cell.skipped
    return f"{model} on {claim.task}.{claim.metric}" + (f" (skipped: {skipped})" if skipped else "")


def _pair(board: Board, claim: Claim, other: str) -> tuple[str, str]:
    """(verdict, evidence) of ``claim.better`` against ``other``, in a column where both have a value."""
    def both_present(table: Table, j: int) -> bool:
        models = {table.rows[i].model for (i, jj), c in table.cells.items() if jj == j and c.mean is not None}
        return {claim.better, other} <= models

    anywhere = [_find(board, claim, m, lambda t, j: True) for m in (claim.better, other)]
    if any(isinstance(f, str) for f in anywhere):
        return MISSING, "missing: " + "; ".join(f for f in anywhere if isinstance(f, str))
    found_a, found_b = (_find(board, claim, m, both_present) for m in (claim.better, other))
    if isinstance(found_a, str) or isinstance(found_b, str):
        return MISSING, f"missing: {claim.better} and {other} in one column (their task configs differ)"
    table, _, j, a = found_a
    _, _, _, b = found_b
    spec = table.columns[j].spec
    untested = "" if a.uncertainty is not None and b.uncertainty is not None else " (no uncertainty estimate)"
    evidence = f"{claim.better} {value_text(a)} vs {other} {value_text(b)}{untested}"
    if better(spec, b, a):
        return FAILS, evidence
    if claim.at_least or better(spec, a, b):
        return HOLDS, evidence
    return TIE, evidence


def verdict(board: Board, claim: Claim) -> tuple[str, list[str]]:
    pairs = [_pair(board, claim, other) for other in claim.than]
    verdicts = {v for v, _ in pairs}
    for v in (MISSING, FAILS, TIE):
        if v in verdicts:
            return v, [e for _, e in pairs]
    return HOLDS, [e for _, e in pairs]


def markdown(claims: list[Claim], board: Board, page_title: str) -> str:
    lines = [f"# Paper claims against the records of: {page_title}\n",
             "Each row is a headline claim of a paper (data: `leaderboards/claims.toml`); its verdict is computed from "
             "the records of this page with their uncertainty (see `dmzbench/claims.py`): holds / does not hold / not "
             "distinguishable (inside the combined uncertainty) / not yet run. A verdict is only as strong as the "
             "records: at smoke scale (the ci suite) it tests the pipeline, not the paper.\n",
             "| claim | source | tested on | verdict | evidence |", "|---|---|---|---|---|"]
    for c in claims:
        v, evidence = verdict(board, c)
        where = f"{c.task}.{c.metric}" + (f" [{c.dataset}]" if c.dataset else "") + (f" ({c.preset})" if c.preset else "")
        lines.append(f"| {c.claim} | {c.source} | {where} | **{v}** | {'; '.join(evidence)} |")
    return "\n".join(lines) + "\n"
