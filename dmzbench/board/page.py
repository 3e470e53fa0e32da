"""Result records -> leaderboard: Markdown (one table per page section), CSV, plots, a static HTML page, claims.

The tables come from ``dmzbench.board.build`` (rows, columns, uncertainty, best marks, ranks); this module writes them out.
``check`` rebuilds the Markdown (and the claims page) from the records and compares them with a committed page.
The page's title and note come from ``--suite``, else from the suite recorded in the records, so the banner survives
any regeneration.
"""

from __future__ import annotations

import csv as csv_module
import io
import os
from pathlib import Path

from dmzbench.atomic import write_bytes
from dmzbench.board import claims as claims_module
from dmzbench.board.build import Board, Table, load, page_banner
from dmzbench.board.html_page import html_page, plots
from dmzbench.board.text import (LEGEND, footer, page_command, provenance, reproduce_lines, row_label, shown_columns,
                                 shown_header, shown_text, skip_reasons, table_notes)
from dmzbench.errors import DmzbenchError


# --------------------------------------------------------------------------------------------------------- markdown
def markdown_table(table: Table) -> str:
    reasons = skip_reasons(table)
    cols = shown_columns(table)
    lines = ["| # | model | preset | " + " | ".join(_cell_md(shown_header(table, c)) for c in cols) + " |",
             "|" + "---|" * (3 + len(cols))]
    for i, row in enumerate(table.rows):
        rank = "ctrl" if row.control else row.rank
        lines.append(f"| {rank} | {_cell_md(row.model)} | {_cell_md(row_label(row))} | "
                     + " | ".join(_cell_md(shown_text(table, i, c, reasons)) for c in cols) + " |")
    return "\n".join(lines)


def _cell_md(text: object) -> str:
    """A table cell's text with its ``|`` escaped: a plugin named ``a|b`` must not add a column."""
    return str(text).replace("|", "\\|")


def results_from(results: Path | None, out: Path | None) -> str:
    """The results folder as seen from the page's folder ("results" when the page does not know its paths)."""
    if results is None or out is None:
        return "results"
    return Path(os.path.relpath(Path(results).resolve(), Path(out).resolve())).as_posix()


def reproduce_section(board: Board, results: Path | None = None, out: Path | None = None) -> str:
    where = results_from(results, out)
    lines = ["## Reproduce\n", f"This page, in its folder: `{page_command(where)}` (add `--check` to compare).\n",
             "Each record (run in a dmzbench checkout at the recorded commit; the link opens the record):\n"]
    for what, command, path in reproduce_lines(board):
        shown = f"`{command}`" if command else "no command recorded"
        lines.append(f"- {what}: {shown} ([record]({where}/{path}))")
    return "\n".join(lines) + "\n"


def markdown(board: Board, title: str | None = None, preamble: str | None = None, results: Path | None = None,
             out: Path | None = None) -> str:
    title, preamble = page_banner(board, title, preamble)
    parts = [f"# {title}\n", preamble.strip() + "\n" if preamble else "", provenance(board) + "\n", LEGEND + "\n"]
    for table in board.tables:
        notes = "\n".join(f"- {n}" for n in table_notes(table))
        parts.append(f"## {table.group}\n\n{markdown_table(table)}\n\n{notes}\n")
    parts.append(reproduce_section(board, results, out))
    parts.append("---\n\n" + footer(board))
    return "\n".join(p for p in parts if p)


# -------------------------------------------------------------------------------------------------------------- csv
CSV_FIELDS = ("section", "task", "dataset", "config_key", "variant", "metric", "direction", "chance", "shown", "model",
              "preset", "control", "rank", "mean", "uncertainty", "uncertainty_kind", "seeds", "best", "skipped",
              "features", "n", "records", "flags", "vs_control", "vs_control_uncertainty", "vs_chance",
              "vs_chance_uncertainty")


def csv(board: Board) -> str:
    """One line per (table cell), every metric (also those the tables leave out), in table order."""
    buf = io.StringIO()
    writer = csv_module.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for table in board.tables:
        for i, row in enumerate(table.rows):
            for j, col in enumerate(table.columns):
                if (i, j) not in table.cells:
                    continue
                c = table.cells[(i, j)]
                direction = {True: "higher", False: "lower", None: ""}[col.spec.higher_is_better]
                writer.writerow([table.group, col.task, col.dataset, col.key, col.variant, col.metric, direction,
                                 col.spec.chance, col.spec.shown, row.model, row.preset, row.control,
                                 "" if row.control else row.rank, "" if c.mean is None else repr(c.mean),
                                 "" if c.uncertainty is None else repr(c.uncertainty), c.uncertainty_kind, c.seeds,
                                 c.best, c.skipped or "", col.features, col.n, " ".join(c.records),
                                 "; ".join(c.flags), *_delta_fields(c.vs_control), *_delta_fields(c.vs_chance)])
    return buf.getvalue()


def _delta_fields(d) -> tuple[str, str]:
    if d is None:
        return "", ""
    return repr(d.value), "" if d.uncertainty is None else repr(d.uncertainty)


# ------------------------------------------------------------------------------------------------------------ write
def claims_file_for(out: Path) -> Path:
    """The claims data beside the page folders (leaderboards/claims.toml for leaderboards/ci)."""
    return Path(out).resolve().parent / "claims.toml"


def write(results: Path, out: Path, title: str | None = None, preamble: str | None = None,
          claims: Path | None = None) -> list[Path]:
    board = load(results)
    out = Path(out)
    title, preamble = page_banner(board, title, preamble)
    page = markdown(board, title, preamble, results, out)
    written = [write_bytes(out / "leaderboard.md", page.encode()), write_bytes(out / "leaderboard.csv", csv(board).encode())]
    drawn = plots(board, out)
    written += drawn
    claims = claims or claims_file_for(out)
    if claims.exists():
        claim_list = claims_module.load(claims)
        written.append(write_bytes(out / "claims.md", claims_module.markdown(claim_list, board, title).encode()))
        written.append(write_bytes(out / "claims.html", claims_module.html_page(claim_list, board, title).encode()))
    written.append(write_bytes(out / "index.html", html_page(board, title, preamble, Path(results), out,
                                                                     drawn).encode()))
    return written


def check(results: Path, out: Path, title: str | None = None, preamble: str | None = None,
          claims: Path | None = None) -> None:
    committed = Path(out) / "leaderboard.md"
    if not committed.exists():
        raise DmzbenchError(f"{committed} does not exist; run 'dmzbench leaderboard --results {results} --out {out}'")
    board = load(results)
    title, preamble = page_banner(board, title, preamble)
    expected = {committed: markdown(board, title, preamble, results, out)}
    claims = claims or claims_file_for(out)
    if claims.exists():
        expected[Path(out) / "claims.md"] = claims_module.markdown(claims_module.load(claims), board, title)
    for path, text in expected.items():
        if not path.exists() or path.read_text() != text:
            raise DmzbenchError(f"{path} no longer matches the records in {results}; regenerate it with "
                                f"'dmzbench leaderboard --results {results} --out {out}' and commit both")

