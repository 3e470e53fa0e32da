"""The leaderboard's pictures (matplotlib) and its static HTML page (sortable tables in their own scroll boxes, every
note of the Markdown, cells linked to their records, plots, a captioned gallery; no network). It receives the built
tables (``dmzbench.board.build``) and never imports the Markdown renderer back."""

from __future__ import annotations

import html
import io
import os
import re
import shutil
from pathlib import Path

from dmzbench.atomic import write_bytes
from dmzbench.board import learning_curves
from dmzbench.board.build import Board, Table, artifact_caption
from dmzbench.board.text import (LEGEND, UNTESTED, Shown, cell_text, footer, page_command, provenance, reproduce_lines,
                                 row_label, shown_columns, shown_header, shown_meaning, shown_text, skip_reasons,
                                 table_notes)

SORT_JS = """
// Rows sort in groups (a trained row with its init controls); cells without a number (skipped, not run) stay last.
function sortTable(table, col, dir) {
  const key = body => { const v = body.rows[0].cells[col].dataset.v;
                        return v === undefined ? body.rows[0].cells[col].innerText : (v === '' ? null : +v); };
  const bodies = Array.from(table.tBodies);
  bodies.sort((a, b) => { const x = key(a), y = key(b);
    if (x === null || y === null) return (x === null) - (y === null);
    const c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
    return dir * c; });
  bodies.forEach(b => table.appendChild(b));
  table.dataset.sorted = col + ':' + dir;
}
document.querySelectorAll('table.board').forEach(table => {
  Array.from(table.tHead.rows[0].cells).forEach((th, col) => {
    th.addEventListener('click', () => {
      const [c, d] = (table.dataset.sorted || '-1:1').split(':').map(Number);
      sortTable(table, col, c === col ? -d : (th.dataset.dir === 'lower' ? 1 : -1));
    });
  });
});
// the model column (2nd) stays in view beside the rank column (1st) when a wide table scrolls sideways
document.querySelectorAll('table.board').forEach(t => {
  const w = t.rows[0].cells[0].getBoundingClientRect().width;
  Array.from(t.rows).forEach(r => { if (r.cells.length > 1) r.cells[1].style.left = w + 'px'; });
});
// #sort=<table>:<column>:<1|-1> sorts on load (used by the headless-browser test and for links)
const m = location.hash.match(/sort=(\\d+):(\\d+):(-?1)/);
if (m) sortTable(document.querySelectorAll('table.board')[+m[1]], +m[2], +m[3]);
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 100%; }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid #ddd; margin: 1em 0; }
table.board { border-collapse: collapse; font-size: 14px; }
table.board th, table.board td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; white-space: nowrap; }
table.board th { background: #f0f0f0; cursor: pointer; white-space: normal; min-width: 6em; max-width: 11em;
                 vertical-align: bottom; font-weight: normal; }
table.board th .metric { font-weight: bold; }
table.board th .config { font-size: 11px; color: #555; }
table.board td:nth-child(-n+3), table.board th:nth-child(-n+3) { text-align: left; }
table.board td:nth-child(-n+2), table.board th:nth-child(-n+2) { position: sticky; left: 0; z-index: 1;
                                                              background: #fff; min-width: 0; }
table.board th:nth-child(-n+2) { background: #f0f0f0; }
table.board td:nth-child(2), table.board th:nth-child(2) { box-shadow: 2px 0 0 #ccc; }
table.board tr.control td { color: #666; font-style: italic; }
table.board td.flagged { color: #999; background: #f6f6f6; }
table.board td.delta { color: #444; font-size: 12px; }
table.board a { color: inherit; text-decoration: none; border-bottom: 1px dotted #999; }
ul.notes { font-size: 13px; color: #444; }
.note { background: #fff8e0; padding: 0.5em 1em; border-left: 4px solid #e0b000; }
.legend { font-size: 13px; color: #444; }
figure.plot img { max-width: 100%; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 1em; }
.gallery figure { margin: 0; border: 1px solid #ddd; padding: 0.5em; }
.gallery img { width: 100%; image-rendering: pixelated; }
.gallery figcaption { font-size: 12px; }
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ------------------------------------------------------------------------------------------------------------ plots
def plots(board: Board, out: Path) -> list[Path]:
    """Per section, in table order: the headline column of each task as bars from zero, rows in table order (init
    controls hatched, flagged values pale, error bars = the uncertainty, each row's chance level as a red tick); per
    task with a numbered metric family (fid_T*): the metric against the number, one line per row, evaluated values as
    ticks, error bars where an uncertainty exists. PNG and SVG."""
    import matplotlib  # here, not at the top: matplotlib costs a second and only page writing needs it

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "dmzbench"  # stable SVG ids
    import matplotlib.pyplot as plt  # after matplotlib.use: the backend is chosen first

    written = []
    for table in board.tables:  # in table order: the section's bars, then its curves
        written += _bars(plt, table, out)
        written += _curves(plt, table, out)
    return learning_curves.draw(plt, board, out, _save) + written  # where records hold snapshots: first


def _bars(plt, table: Table, out: Path) -> list[Path]:
    heads, seen = [], set()
    for j in table.shown():
        col = table.columns[j]
        if col.rankable and col.task not in seen and not col.spec.name.endswith("*"):
            seen.add(col.task)
            heads.append(j)
    heads = [j for j in heads if any(c.mean is not None for (_, jj), c in table.cells.items() if jj == j)]
    if not heads:
        return []
    fig, axes = plt.subplots(1, len(heads), figsize=(4.2 * len(heads), 3.6), squeeze=False)
    for ax, j in zip(axes[0], heads):
        col = table.columns[j]
        rows = [(i, r) for i, r in enumerate(table.rows) if table.cell(i, j).mean is not None]
        means = [table.cell(i, j).mean for i, _ in rows]
        errs = [table.cell(i, j).uncertainty or 0.0 for i, _ in rows]
        bars = ax.bar(range(len(rows)), means, yerr=errs if any(errs) else None, capsize=3, color="#4c72b0",
                      edgecolor="black")
        for bar, (i, r) in zip(bars, rows):
            if r.control:
                bar.set_hatch("//")
                bar.set_facecolor("#bbbbbb")
            if table.cell(i, j).flags:
                bar.set_alpha(0.35)
        ax.set_xticks(range(len(rows)), [f"{r.model}/{r.preset}" for _, r in rows], rotation=60, ha="right")
        chance_j = next((k for k in range(len(table.columns)) if table.columns[k].spec.chance
                         and table.columns[k].spec.anchors == col.metric and table.columns[k].key == col.key), None)
        chance = [(x, table.cell(i, chance_j).mean) for x, (i, _) in enumerate(rows)
                  if chance_j is not None and table.cell(i, chance_j).mean is not None]
        if chance:
            ax.scatter([x for x, _ in chance], [v for _, v in chance], marker="_", s=400, color="red", zorder=3,
                       label="chance level (this row's)")
            ax.legend(fontsize=7)
        values = [m + e for m, e in zip(means, errs)] + [m - e for m, e in zip(means, errs)] + [v for _, v in chance]
        lo, hi = min(0.0, *values), max(0.0, *values)
        ax.set_ylim(lo - (0.05 * (hi - lo) if lo < 0 else 0), hi + 0.05 * (hi - lo or 1.0))  # bars start at zero
        direction = {True: "higher is better", False: "lower is better"}[col.spec.higher_is_better]
        ax.set_title(f"{col.task}.{col.metric} on {col.dataset}\n({direction}; hatched = init control; pale = "
                     "flagged)", fontsize=9)
    fig.tight_layout()
    return _save(plt, fig, out / f"{_slug(table.group)}")


def _curves(plt, table: Table, out: Path) -> list[Path]:
    written = []
    families = {}
    for j in table.shown():
        col = table.columns[j]
        if col.spec.name.endswith("*") and col.rankable:
            families.setdefault((col.task, col.spec.name, col.dataset, col.key), []).append(j)
    for (task, name, _, _), cols in families.items():
        xs = [int(re.findall(r"\d+", table.columns[j].metric)[-1]) for j in cols]
        fig, ax = plt.subplots(figsize=(7.5, 4))
        for i, row in enumerate(table.rows):
            points = [(x, table.cell(i, j)) for x, j in zip(xs, cols) if table.cell(i, j).mean is not None]
            if points:
                ax.errorbar([x for x, _ in points], [c.mean for _, c in points],
                            yerr=[c.uncertainty or 0.0 for _, c in points], marker="o", capsize=3,
                            ls="--" if row.control else "-", label=f"{row.model}/{row.preset}")
        ax.set_ylim(bottom=0)  # from zero, as the bars
        ax.set_xscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        col = table.columns[cols[0]]
        variable = name[:-1].rstrip("_").split("_")[-1] if "_" in name else "n"
        direction = {True: "higher is better", False: "lower is better"}[col.spec.higher_is_better]
        where = ", ".join(p for p in (col.context, col.features) if p)
        ax.set(xlabel=f"{variable} (evaluated values)", ylabel=f"{task} ({direction})",
               title=f"{task} against {variable} [{where}]")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
        written += _save(plt, fig, out / f"{task}_vs_{_slug(variable)}")
    return written


def _save(plt, fig, stem: Path) -> list[Path]:
    written = []
    for fmt, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=100, bbox_inches="tight", metadata=meta)
        written.append(write_bytes(stem.with_suffix(f".{fmt}"), buf.getvalue()))
    plt.close(fig)
    return written


# ------------------------------------------------------------------------------------------------------------- page
def _header_html(table: Table, col: Shown) -> str:
    """A short two-line header (task.metric and arrow; its config below), the full label and the metric's declared
    meaning in the tooltip."""
    full = shown_header(table, col)
    title = html.escape(f"{full}: {shown_meaning(table, col)}", quote=True)
    c = table.columns[col.j]
    direction = {True: "higher", False: "lower", None: ""}[c.spec.higher_is_better]
    if col.kind != "value":
        return f"<th data-dir='{direction}' title='{title}'><span class='metric'>{html.escape(full)}</span></th>"
    head, _, config = full.partition(" [")
    config = f"<br><span class='config'>[{html.escape(config)}</span>" if config else ""
    return f"<th data-dir='{direction}' title='{title}'><span class='metric'>{html.escape(head)}</span>{config}</th>"


def _table_html(table: Table, results: Path, out: Path, commands: dict[str, str]) -> str:
    reasons = skip_reasons(table)
    cols = shown_columns(table)
    parts = ["<div class='scroll'><table class='board'><thead><tr>",
             "<th data-dir='lower' title='rank'>#</th><th data-dir=''>model</th><th data-dir=''>preset</th>"]
    parts += [_header_html(table, c) for c in cols]
    parts.append("</tr></thead>")
    body_open = False
    for i, row in enumerate(table.rows):
        if not row.control:
            parts.append(("</tbody>" if body_open else "") + "<tbody>")
            body_open = True
        rank = "ctrl" if row.control else row.rank
        cells = [f"<td data-v='{'' if not rank.isdigit() else rank}'>{rank}</td>",
                 f"<td>{html.escape(row.model)}</td>", f"<td>{html.escape(row_label(row))}</td>"]
        for col in cols:
            cell = table.cell(i, col.j)
            if col.kind != "value":
                d = cell.vs_control if col.kind == "control" else cell.vs_chance
                text = html.escape(shown_text(table, i, col, reasons))
                cells.append(f"<td class='delta' data-v='{'' if d is None else repr(d.value)}'>{text}</td>")
                continue
            text = html.escape(cell_text(table, i, col.j, reasons).strip("*"))
            if cell.records:
                href = os.path.relpath(results / cell.records[0], out).replace(os.sep, "/")
                text = f"<a href='{html.escape(href)}'>{text}</a>"
            if cell.best:
                text = f"<b>{text}</b>"
            tip = [f"skipped: {cell.skipped}"] if cell.mean is None and cell.skipped else []
            tip += [f"reproduce: {commands[p]}" for p in cell.records[:1] if commands.get(p)]
            title = f" title='{html.escape(chr(10).join(tip), quote=True)}'" if tip else ""
            value = "" if cell.mean is None else repr(cell.mean)
            css = " class='flagged'" if cell.flags else ""
            cells.append(f"<td{css} data-v='{value}'{title}>{text}</td>")
        row_class = " class='control'" if row.control else ""
        parts.append(f"<tr{row_class}>" + "".join(cells) + "</tr>")
    parts.append(("</tbody>" if body_open else "") + "</table></div>")
    parts.append("<ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in table_notes(table)) + "</ul>")
    return "".join(parts)


def _gallery(board: Board, results: Path, out: Path) -> list[str]:
    figures = []
    for run in board.runs:
        folder = results / run.task / "artifacts" / Path(run.path).stem
        for grid in sorted(folder.glob("*.png")) if folder.is_dir() else []:
            rel = Path("assets") / run.task / folder.name / grid.name
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(grid, out / rel)
            caption = (f"<b>{html.escape(run.model)}/{html.escape(run.preset)}</b> · {html.escape(run.task)} on "
                       f"{html.escape(run.dataset)} · {html.escape(grid.stem)}<br>"
                       f"{html.escape(artifact_caption(run.task, grid.name))}")
            figures.append(f"<figure><img src='{rel.as_posix()}' alt='{html.escape(grid.stem)}' loading='lazy'>"
                           f"<figcaption>{caption}</figcaption></figure>")
    return figures


def _metrics_doc_link(out: Path) -> str | None:
    """docs/metrics.md relative to the page, when the page sits in the dmzbench checkout that has it."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    root = doc.parent.parent
    if not doc.exists() or not out.resolve().is_relative_to(root):
        return None
    return Path(os.path.relpath(doc, out.resolve())).as_posix()


def html_page(board: Board, title: str, preamble: str, results: Path, out: Path,
              plot_files: list[Path] | None = None) -> str:
    results, out = Path(results), Path(out)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if preamble:
        parts.append(f"<p class='note'>{html.escape(preamble)}</p>")
    parts.append(f"<p>{html.escape(provenance(board))}</p>")
    legend = html.escape(LEGEND).replace("**Bold**", "<b>Bold</b>")
    doc = _metrics_doc_link(out)
    if doc:
        legend = legend.replace("docs/metrics.md", f"<a href='{html.escape(doc)}'>docs/metrics.md</a>")
    claims = " See also <a href='claims.html'>the paper claims</a>." if (out / "claims.html").exists() else ""
    parts.append(f"<p class='legend'>{legend} Click a column header to sort; hover a header for its meaning and a "
                 f"number for the command that reproduces it; each number links to its JSON record.{claims}</p>")
    commands = {p: c for _, c, p in reproduce_lines(board)}
    for table in board.tables:
        parts.append(f"<h2>{html.escape(table.group)}</h2>{_table_html(table, results, out, commands)}")
    pngs = [p.name for p in plot_files if p.suffix == ".png"] if plot_files is not None else (
        sorted(p.name for p in out.glob("*.png")) if out.is_dir() else [])
    if pngs:
        parts.append("<h2>Plots</h2>")
        parts += [f"<figure class='plot'><img src='{p}' alt='{p}'><figcaption>{p} (also as "
                  f"<a href='{Path(p).with_suffix('.svg')}'>SVG</a>)</figcaption></figure>" for p in pngs]
    figures = _gallery(board, results, out)
    if figures:
        parts.append("<h2>Samples, reconstructions, translations, interpolations</h2><div class='gallery'>")
        parts += figures
        parts.append("</div>")
    where = Path(os.path.relpath(results.resolve(), out.resolve())).as_posix()
    items = "".join(f"<li>{html.escape(what)}: <code>{html.escape(cmd or 'no command recorded')}</code> "
                    f"(<a href='{html.escape(where + '/' + path)}'>record</a>)</li>"
                    for what, cmd, path in reproduce_lines(board))
    parts.append(f"<h2>Reproduce</h2><p>This page, in its folder: <code>{html.escape(page_command(where))}</code></p>"
                 f"<details><summary>The command of each record</summary><ul class='notes'>{items}</ul></details>")
    parts.append(f"<hr><p>{html.escape(footer(board))}</p><script>{SORT_JS}</script></body></html>")
    return "\n".join(parts)
