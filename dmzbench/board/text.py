"""The words of the leaderboard: cell texts, headers, notes under a table, the legend and the provenance line, shared
by the Markdown and the HTML renderers so that both pages say the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from dmzbench.board.build import Board, Cell, Row, Table
from dmzbench.board.marks import NEAR_CHANCE, NEAR_CONTROL, Delta

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
    "levels, never ranked. `− init` and `− chance` columns give a trained value's difference from its init control "
    "and from its chance level ± the combined uncertainty. A value marked (not above control), (not above chance) or "
    "with a guard "
    "(e.g. (path_span < 0.25): the path does not move) does not count: it is not above its control or chance level, "
    "or its guard fails; it is never bold and not ranked. n/a¹ = skipped, with the reason under the table; "
    "— = not run. Every metric is explained in docs/metrics.md."
)


@dataclass(frozen=True)
class Shown:
    """One column as a page shows it: a value column of the table, or the difference of one from control/chance."""

    j: int  # the table column
    kind: str = "value"  # "value", "control" (− init) or "chance" (− chance)


def shown_columns(table: Table) -> list[Shown]:
    """The table's shown columns, each followed by its − init and − chance columns where any row has one."""
    out = []
    for j in table.shown():
        out.append(Shown(j))
        cells = [c for (_, jj), c in table.cells.items() if jj == j]
        out += [Shown(j, kind) for kind, attr in (("control", "vs_control"), ("chance", "vs_chance"))
                if any(getattr(c, attr) is not None for c in cells)]
    return out


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


def delta_text(d: Delta | None) -> str:
    if d is None:
        return ""
    text = f"{d.value:+.3g}" + (f" ± {d.uncertainty:.2g}" if d.uncertainty is not None else "")
    return text if d.distinct else f"{text} ({'below' if d.worse else '≈ 0'})"


def flagged_text(cell: Cell) -> str:
    return value_text(cell) + "".join(f" ({f})" for f in cell.flags)


def cell_text(table: Table, i: int, j: int, reasons: list[str]) -> str:
    cell = table.cell(i, j)
    if cell.mean is not None:
        return f"**{value_text(cell)}**" if cell.best else flagged_text(cell)
    if cell.skipped:
        return "n/a" + str(reasons.index(cell.skipped) + 1).translate(SUPERSCRIPTS)
    return "—"


def shown_text(table: Table, i: int, col: Shown, reasons: list[str]) -> str:
    if col.kind == "value":
        return cell_text(table, i, col.j, reasons)
    cell = table.cell(i, col.j)
    return delta_text(cell.vs_control if col.kind == "control" else cell.vs_chance) or "—"


def header(table: Table, j: int) -> str:
    return table.columns[j].label + (f" {UNTESTED}" if j in table.untested else "")


def shown_header(table: Table, col: Shown) -> str:
    if col.kind == "value":
        return header(table, col.j)
    return f"{table.columns[col.j].metric} − {'init' if col.kind == 'control' else 'chance'}"


def shown_meaning(table: Table, col: Shown) -> str:
    """What a shown column means: the metric's declared meaning, or what its difference column is."""
    c = table.columns[col.j]
    if col.kind == "control":
        return f"{c.task}.{c.metric} of the trained row minus its untrained init control's, ± the combined uncertainty"
    if col.kind == "chance":
        return f"{c.task}.{c.metric} minus its chance level, ± the combined uncertainty"
    return c.spec.meaning


def row_label(row: Row) -> str:
    return f"{row.preset} (control)" if row.control else row.preset


def table_notes(table: Table) -> list[str]:
    """The lines under a table: skip reasons, what each ± is, feature spaces, chance columns, metric meanings."""
    notes = [f"n/a{str(k).translate(SUPERSCRIPTS)} skipped: {r}" for k, r in enumerate(skip_reasons(table), 1)]
    notes += flag_notes(table)
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


def flag_notes(table: Table) -> list[str]:
    """One line per flag the table uses, naming the rows and columns it marks."""
    marked: dict[str, list[str]] = {}
    for (i, j), cell in sorted(table.cells.items()):
        if j in table.shown():
            for flag in cell.flags:
                row = table.rows[i]
                marked.setdefault(flag, []).append(f"{row.model}/{row.preset} {table.columns[j].metric}")
    why = {NEAR_CONTROL: "not above its init control: the difference from the untrained model is inside the combined "
                         "uncertainty, so training did not measurably change it",
           NEAR_CHANCE: "not above chance: the difference from its chance level is inside the combined uncertainty"}
    notes = []
    for flag, where in marked.items():
        meaning = why.get(flag) or (f"its guard {flag.removeprefix('no ')} was not recorded (the record predates it)"
                                    if flag.startswith("no ") else f"its guard fails ({flag}): see docs/metrics.md")
        notes.append(f"({flag}) {meaning}; greyed, never bold, not ranked: {', '.join(where)}.")
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


# -------------------------------------------------------------------------------------------------------- reproduce
def page_command(results_from_page: str) -> str:
    """The command that regenerates a page, run in the page's folder (paths relative to it, so the text is the same
    wherever the page is checked)."""
    return f"dmzbench leaderboard --results {results_from_page} --out ."


def reproduce_lines(board: Board) -> list[tuple[str, str, str]]:
    """(what, command, record path) per record, in table order: the command that makes each row's record again."""
    seen, out = set(), []
    by_path = {r.path: r for r in board.runs}
    paths = [p for t in board.tables for i in range(len(t.rows)) for j in range(len(t.columns))
             for p in t.cell(i, j).records]
    for path in paths + [r.path for r in board.runs]:
        if path in seen or path not in by_path:
            continue
        seen.add(path)
        run = by_path[path]
        what = f"{run.task} · {run.model}/{run.preset} · {run.dataset} · seed {run.seed}"
        out.append((what, run.record.get("reproduce") or "", path))
    return out
