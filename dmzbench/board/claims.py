"""The papers' headline claims, checked against the records: each claim is data (``leaderboards/claims.toml``), its
verdict is computed from the leaderboard's cells with their uncertainty.

A claim says model ``better`` beats each model in ``than`` on ``task.metric`` (optionally on one data set and preset;
``at_least = true`` for "at least as good as"). Per pair, in the first column where both have a value:
- holds: the difference favours ``better`` by more than the combined uncertainty (for ``at_least``: it does not lose);
- does not hold: the other model wins by more than the combined uncertainty;
- not distinguishable: the difference is inside the combined uncertainty;
- not yet run: a needed cell is missing or skipped (the verdict names which).
Where either value has no uncertainty estimate, a pair can only be "not distinguishable", unless the metric declares a
gap (``Metric.gap``) that the difference exceeds.
A claim holds when every pair holds; it does not hold when any pair does not; it is not yet run when any pair is.
A claim whose values all come from records of pipeline-check suites (``Suite.scale``; for a claim not yet run: when
every record of the page does) is "not tested at scale", whatever the numbers say: they are shown for information.
"""

from __future__ import annotations

import html
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dmzbench.board.build import Board, Cell, Run, Table, better
from dmzbench.board.text import flagged_text
from dmzbench.errors import DmzbenchError, UsageError
from dmzbench.suite import catalog as suites

HOLDS, FAILS, TIE, MISSING = "holds", "does not hold", "not distinguishable", "not yet run"
NOT_AT_SCALE = "not tested at scale"


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


def scale_of(run: Run) -> str:
    """The scale of the suite a record was made by ("" when it names none, or one not installed here)."""
    name = (run.record.get("suite") or {}).get("name")
    if not name:
        return ""
    try:
        return suites.get(name).scale
    except DmzbenchError:
        return ""


def _decides(spec, a: Cell, b: Cell) -> bool:
    """Whether a comparison of ``a`` and ``b`` can tell them apart at all: both carry an uncertainty, or the metric
    declares a gap their difference exceeds."""
    if a.uncertainty is not None and b.uncertainty is not None:
        return True
    return spec.gap > 0 and abs(a.mean - b.mean) > spec.gap


def _pair(board: Board, claim: Claim, other: str) -> tuple[str, str, tuple[str, ...]]:
    """(verdict, evidence, records) of ``claim.better`` against ``other``, in a column where both have a value."""
    def both_present(table: Table, j: int) -> bool:
        models = {table.rows[i].model for (i, jj), c in table.cells.items() if jj == j and c.mean is not None}
        return {claim.better, other} <= models

    anywhere = [_find(board, claim, m, lambda t, j: True) for m in (claim.better, other)]
    if any(isinstance(f, str) for f in anywhere):
        return MISSING, "missing: " + "; ".join(f for f in anywhere if isinstance(f, str)), ()
    found_a, found_b = (_find(board, claim, m, both_present) for m in (claim.better, other))
    if isinstance(found_a, str) or isinstance(found_b, str):
        return MISSING, f"missing: {claim.better} and {other} in one column (their task configs differ)", ()
    table, _, j, a = found_a
    _, _, _, b = found_b
    spec = table.columns[j].spec
    decides = _decides(spec, a, b)
    untested = "" if decides else " (no uncertainty estimate: not distinguishable)"
    evidence = f"{claim.better} {flagged_text(a)} vs {other} {flagged_text(b)}{untested}"
    records = a.records + b.records
    if not decides:
        return TIE, evidence, records
    if better(spec, b, a):
        return FAILS, evidence, records
    if claim.at_least or better(spec, a, b):
        return HOLDS, evidence, records
    return TIE, evidence, records


def verdict(board: Board, claim: Claim) -> tuple[str, list[str]]:
    """The claim's verdict and its evidence per pair; "not tested at scale" (the numbers' own verdict first in the
    evidence) when its records come from pipeline-check suites only."""
    pairs = [_pair(board, claim, other) for other in claim.than]
    verdicts = {v for v, _, _ in pairs}
    evidence = [e for _, e, _ in pairs]
    found = next((v for v in (MISSING, FAILS, TIE) if v in verdicts), HOLDS)
    by_path = {r.path: r for r in board.runs}
    used = [by_path[p] for _, _, records in pairs for p in records if p in by_path]
    scales = {scale_of(r) for r in (used if found != MISSING else board.runs)}
    if scales == {suites.PIPELINE_CHECK}:
        return NOT_AT_SCALE, [f"pipeline check only; its numbers say {found}, for information"] + evidence
    named = sorted(s for s in scales if s)
    return found, ([f"tested at: {', '.join(named)}"] if named else []) + evidence


def tested_on(c: Claim) -> str:
    return f"{c.task}.{c.metric}" + (f" [{c.dataset}]" if c.dataset else "") + (f" ({c.preset})" if c.preset else "")


def markdown(claims: list[Claim], board: Board, page_title: str) -> str:
    lines = [f"# Paper claims against the records of: {page_title}\n",
             "Each row is a headline claim of a paper (data: `leaderboards/claims.toml`); its verdict is computed from "
             "the records of this page with their uncertainty (see `dmzbench/board/claims.py`): holds / does not hold / not "
             "distinguishable (inside the combined uncertainty, or no uncertainty estimate on one side) / not yet run. "
             "A verdict is only as strong as the records: a claim tested only by records of a pipeline-check suite "
             "(such as ci) is **not tested at scale**, its numbers shown for information.\n",
             "| claim | source | tested on | verdict | evidence |", "|---|---|---|---|---|"]
    for c in claims:
        v, evidence = verdict(board, c)
        where = tested_on(c)
        lines.append(f"| {c.claim} | {c.source} | {where} | **{v}** | {'; '.join(evidence)} |")
    return "\n".join(lines) + "\n"


def html_page(claims: list[Claim], board: Board, page_title: str) -> str:
    """The claims as a static HTML page beside the leaderboard's (the Markdown's content, rendered)."""
    rows = []
    for c in claims:
        v, evidence = verdict(board, c)
        where = tested_on(c)
        rows.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in (c.claim, c.source, where))
                    + f"<td><b>{html.escape(v)}</b></td><td>{'<br>'.join(html.escape(e) for e in evidence)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("claim", "source", "tested on", "verdict", "evidence"))
    intro = html.escape(markdown(claims, board, page_title).split("\n\n")[1].replace("**", "").replace("`", ""))
    return (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>Paper claims: {html.escape(page_title)}</title><style>body {{ font-family: system-ui, sans-serif; "
            "margin: 2em; }} table {{ border-collapse: collapse; font-size: 14px; }} td, th {{ border: 1px solid #ccc; "
            "padding: 4px 8px; vertical-align: top; text-align: left; }}</style></head><body>"
            f"<h1>Paper claims against the records of: {html.escape(page_title)}</h1><p>{intro}</p>"
            f"<p><a href='index.html'>Back to the leaderboard</a></p><table><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></body></html>\n")
