"""The words of the leaderboard: cell texts, headers, notes under a table, the legend and the provenance line, shared
by the Markdown and the HTML renderers so that both pages say the same thing."""

from __future__ import annotations

from dmzbench.board import Board, Cell, Row, Table

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
UNTESTED = "‡"
LEGEND = (
    "How to read: one table per section, one row per model and preset, ranked (#) and sorted by the section's first "
    "ranked column. ↑ = higher is better, ↓ = lower is better; each header names its data set, what sets its task "
    "config apart from the task's other columns, and N. Records whose task config differs (N, protocol, steps, feature "
    "space) are never ranked in one column. A cell is the mean over seeds ± its uncertainty: the std over seeds when "
    "it shows (k seeds), else the task's own estimate (named under each table); no ± means no estimate exists for it. "
    "**Bold** = the best, together with every row the best does not beat by more than the combined uncertainty "
    f"sqrt(u1² + u2²); {UNTESTED} = a column without uncertainty estimates, whose bold marks the best value only. "
    "`init` rows (control) are the untrained models under their trained row, not ranked. `(chance)` columns are chance "
    "levels, never ranked. n/a¹ = skipped, with the reason under the table; — = not run. Every metric is explained "
    "in docs/metrics.md."
)


# ------------------------------------------------------------------------------------------------------------ cells
def value_text(cell: Cell) -> str:
    text = f"{cell.mean:.4g}"
    if cell.uncertainty is not None:
        text += f" ± {cell.uncertainty:.2g}"
    if cell.seeds > 1:
        text += f" ({cell.seeds} seeds)"
    return text


def skip_reasons(table: Table) -> list[str]:
    reasons = []
    for (i, j), cell in sorted(table.cells.items()):
        if cell.mean is None and cell.skipped and cell.skipped not in reasons and table.columns[j].spec.shown:
            reasons.append(cell.skipped)
    return reasons


def cell_text(table: Table, i: int, j: int, reasons: list[str]) -> str:
    cell = table.cell(i, j)
    if cell.mean is not None:
        return f"**{value_text(cell)}**" if cell.best else value_text(cell)
    if cell.skipped:
        return "n/a" + str(reasons.index(cell.skipped) + 1).translate(SUPERSCRIPTS)
    return "—"


def header(table: Table, j: int) -> str:
    return table.columns[j].label + (f" {UNTESTED}" if j in table.untested else "")


def row_label(row: Row) -> str:
    return f"{row.preset} (control)" if row.control else row.preset


def table_notes(table: Table) -> list[str]:
    """The lines under a table: skip reasons, what each ± is, feature spaces, chance columns, metric meanings."""
    notes = [f"n/a{str(k).translate(SUPERSCRIPTS)} skipped: {r}" for k, r in enumerate(skip_reasons(table), 1)]
    shown = [table.columns[j] for j in table.shown()]
    uncertain = {}
    for j in table.shown():
        col = table.columns[j]
        kinds = {c.uncertainty_kind for (_, jj), c in table.cells.items() if jj == j and c.mean is not None}
        if "task" in kinds:
            uncertain.setdefault(col.spec.uncertainty_meaning or "the task's estimate", []).append(col.metric)
    for meaning, metrics in uncertain.items():
        notes.append(f"± with one seed on {', '.join(sorted(set(metrics)))}: {meaning}.")
    spaces = sorted({f"{c.task}: {c.features}" for c in shown if c.features})
    if spaces:
        notes.append(f"Feature spaces: {'; '.join(spaces)}.")
    if table.headline is not None:
        notes.append(f"Ranked by {table.columns[table.headline].label}.")
    return notes


def provenance(board: Board) -> str:
    commits = sorted({(r.record.get("dmzbench") or {}).get("commit") or "unknown" for r in board.runs})
    seeds = sorted({r.seed for r in board.runs})
    devices = sorted({r.record.get("device") for r in board.runs if r.record.get("device")})
    return (f"Produced from {len(board.runs)} result records by dmzbench commit(s) {', '.join(commits)}; "
            f"seeds {seeds}; devices: {'; '.join(devices)}.")


def footer(board: Board) -> str:
    presets = sorted({f"{r.model}/{r.preset}" for r in board.runs})
    return f"{provenance(board)}\n\nPresets: {', '.join(presets)}.\n"
