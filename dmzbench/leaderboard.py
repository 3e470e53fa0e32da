"""Result records -> leaderboard: Markdown (one table per page section), CSV, plots, a static HTML page, claims.

The tables come from ``dmzbench.board`` (rows, columns, uncertainty, best marks, ranks); this module writes them out.
``check`` rebuilds the Markdown (and the claims page) from the records and compares them with a committed page.
The page's title and note come from ``--suite``, else from the suite recorded in the records, so the banner survives
any regeneration.
"""

from __future__ import annotations

import csv as csv_module
import io
from pathlib import Path

from dmzbench import callable_module
from dmzbench import claims as claims_module
from dmzbench.atomic import write_bytes
from dmzbench.board import Board, Table, load, page_banner
from dmzbench.board_text import LEGEND, cell_text, footer, header, provenance, row_label, skip_reasons, table_notes
from dmzbench.errors import DmzbenchError
from dmzbench.leaderboard_html import html_page, plots


# --------------------------------------------------------------------------------------------------------- markdown
def markdown_table(table: Table) -> str:
    reasons = skip_reasons(table)
    cols = table.shown()
    lines = ["| # | model | preset | " + " | ".join(header(table, j) for j in cols) + " |",
             "|" + "---|" * (3 + len(cols))]
    for i, row in enumerate(table.rows):
        rank = "ctrl" if row.control else row.rank
        lines.append(f"| {rank} | {row.model} | {row_label(row)} | "
                     + " | ".join(cell_text(table, i, j, reasons) for j in cols) + " |")
    return "\n".join(lines)


def markdown(board: Board, title: str | None = None, preamble: str | None = None) -> str:
    title, preamble = page_banner(board, title, preamble)
    parts = [f"# {title}\n", preamble.strip() + "\n" if preamble else "", provenance(board) + "\n", LEGEND + "\n"]
    for table in board.tables:
        notes = "\n".join(f"- {n}" for n in table_notes(table))
        parts.append(f"## {table.group}\n\n{markdown_table(table)}\n\n{notes}\n")
    parts.append("---\n\n" + footer(board))
    return "\n".join(p for p in parts if p)


# -------------------------------------------------------------------------------------------------------------- csv
CSV_FIELDS = ("section", "task", "dataset", "config_key", "variant", "metric", "direction", "chance", "shown", "model",
              "preset", "control", "rank", "mean", "uncertainty", "uncertainty_kind", "seeds", "best", "skipped",
              "features", "n", "records")


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
                                 c.best, c.skipped or "", col.features, col.n, " ".join(c.records)])
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------------------ write
def claims_file_for(out: Path) -> Path:
    """The claims data beside the page folders (leaderboards/claims.toml for leaderboards/ci)."""
    return Path(out).resolve().parent / "claims.toml"


def write(results: Path, out: Path, title: str | None = None, preamble: str | None = None,
          claims: Path | None = None) -> list[Path]:
    board = load(results)
    out = Path(out)
    title, preamble = page_banner(board, title, preamble)
    page = markdown(board, title, preamble)
    written = [write_bytes(out / "leaderboard.md", page.encode()), write_bytes(out / "leaderboard.csv", csv(board).encode())]
    written += plots(board, out)
    claims = claims or claims_file_for(out)
    if claims.exists():
        written.append(write_bytes(out / "claims.md", claims_module.markdown(claims_module.load(claims), board,
                                                                              title).encode()))
    written.append(write_bytes(out / "index.html", html_page(board, title, preamble, Path(results), out).encode()))
    return written


def check(results: Path, out: Path, title: str | None = None, preamble: str | None = None,
          claims: Path | None = None) -> None:
    committed = Path(out) / "leaderboard.md"
    if not committed.exists():
        raise DmzbenchError(f"{committed} does not exist; run 'dmzbench leaderboard --results {results} --out {out}'")
    board = load(results)
    title, preamble = page_banner(board, title, preamble)
    expected = {committed: markdown(board, title, preamble)}
    claims = claims or claims_file_for(out)
    if claims.exists():
        expected[Path(out) / "claims.md"] = claims_module.markdown(claims_module.load(claims), board, title)
    for path, text in expected.items():
        if not path.exists() or path.read_text() != text:
            raise DmzbenchError(f"{path} no longer matches the records in {results}; regenerate it with "
                                f"'dmzbench leaderboard --results {results} --out {out}' and commit both")


callable_module(__name__)  # ``dmzbench.leaderboard(...)`` is the Python API's ``dmzbench.tables.leaderboard`` (dmzbench/__init__.py)
