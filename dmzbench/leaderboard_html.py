"""The leaderboard's pictures (matplotlib) and its static HTML page (sortable tables in their own scroll boxes, every
note of the Markdown, cells linked to their records, plots, a captioned gallery; no network). It receives the built
tables (``dmzbench.board``) and never imports the Markdown renderer back."""

from __future__ import annotations

import html
import io
import os
import re
import shutil
from pathlib import Path

from dmzbench.atomic import write_bytes
from dmzbench.board import Board, Table, artifact_caption
from dmzbench.board_text import LEGEND, UNTESTED, cell_text, footer, header, provenance, row_label, skip_reasons, table_notes

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
// #sort=<table>:<column>:<1|-1> sorts on load (used by the headless-browser test and for links)
const m = location.hash.match(/sort=(\\d+):(\\d+):(-?1)/);
if (m) sortTable(document.querySelectorAll('table.board')[+m[1]], +m[2], +m[3]);
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 100%; }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid #ddd; margin: 1em 0; }
table.board { border-collapse: collapse; font-size: 14px; }
table.board th, table.board td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; white-space: nowrap; }
table.board th { background: #f0f0f0; cursor: pointer; white-space: normal; min-width: 7em; vertical-align: bottom; }
table.board td:nth-child(-n+3), table.board th:nth-child(-n+3) { text-align: left; }
table.board tr.control td { color: #666; font-style: italic; }
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
    """Per section: the headline column of each task as bars (init controls hatched, error bars = the uncertainty,
    chance columns as a dashed line, y-axis zoomed to the data); per task with a numbered metric family (fid_T*):
    the metric against the number, evaluated values as ticks. PNG and SVG."""
    import matplotlib  # here, not at the top: matplotlib costs a second and only page writing needs it

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "dmzbench"  # stable SVG ids
    import matplotlib.pyplot as plt  # after matplotlib.use: the backend is chosen first

    written = []
    for table in board.tables:
        written += _curves(plt, table, out)
        written += _bars(plt, table, out)
    return written


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
        for bar, (_, r) in zip(bars, rows):
            if r.control:
                bar.set_hatch("//")
                bar.set_facecolor("#bbbbbb")
        ax.set_xticks(range(len(rows)), [f"{r.model}/{r.preset}" for _, r in rows], rotation=60, ha="right")
        lo = min(m - e for m, e in zip(means, errs))
        hi = max(m + e for m, e in zip(means, errs))
        chance = [table.cell(i, k).mean for k in table.shown() for i, _ in rows
                  if table.columns[k].spec.chance and table.columns[k].task == col.task
                  and table.cell(i, k).mean is not None]
        if chance:
            level = sum(chance) / len(chance)
            ax.axhline(level, ls="--", color="red", label="chance (mean)")
            lo, hi = min(lo, level), max(hi, level)
            ax.legend(fontsize=7)
        pad = (hi - lo) * 0.15 or abs(hi) * 0.05 or 1.0
        ax.set_ylim(lo - pad, hi + pad)
        direction = {True: "higher is better", False: "lower is better"}[col.spec.higher_is_better]
        ax.set_title(f"{col.task}.{col.metric} on {col.dataset}\n({direction}; hatched = init control)", fontsize=9)
    fig.tight_layout()
    return _save(plt, fig, out / f"{_slug(table.group)}")


def _curves(plt, table: Table, out: Path) -> list[Path]:
    written = []
    families = {}
    for j in table.shown():
        col = table.columns[j]
        if col.spec.name.endswith("*") and col.rankable:
            families.setdefault((col.task, col.spec.name, col.dataset, col.key), []).append(j)
    for (task, name, dataset, _), cols in families.items():
        if len(cols) < 2:
            continue
        xs = [int(re.findall(r"\d+", table.columns[j].metric)[-1]) for j in cols]
        fig, ax = plt.subplots(figsize=(7.5, 4))
        for i, row in enumerate(table.rows):
            points = [(x, table.cell(i, j)) for x, j in zip(xs, cols) if table.cell(i, j).mean is not None]
            if points:
                ax.errorbar([x for x, _ in points], [c.mean for _, c in points],
                            yerr=[c.uncertainty or 0.0 for _, c in points], marker="o", capsize=3,
                            ls="--" if row.control else "-", label=f"{row.model}/{row.preset}")
        ax.set_xscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        col = table.columns[cols[0]]
        variable = name[:-1].rstrip("_").split("_")[-1] if "_" in name else "n"
        direction = {True: "higher is better", False: "lower is better"}[col.spec.higher_is_better]
        where = ", ".join(p for p in (dataset, col.features, f"N={col.n}" if col.n else "", col.variant) if p)
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
def _table_html(table: Table, results: Path, out: Path) -> str:
    reasons = skip_reasons(table)
    cols = table.shown()
    heads = ["#", "model", "preset"] + [header(table, j) for j in cols]
    dirs = ["lower", "", ""] + [{True: "higher", False: "lower", None: ""}[table.columns[j].spec.higher_is_better]
                                for j in cols]
    parts = ["<div class='scroll'><table class='board'><thead><tr>"]
    parts += [f"<th data-dir='{d}'>{html.escape(h)}</th>" for h, d in zip(heads, dirs)]
    parts.append("</tr></thead>")
    body_open = False
    for i, row in enumerate(table.rows):
        if not row.control:
            parts.append(("</tbody>" if body_open else "") + "<tbody>")
            body_open = True
        rank = "ctrl" if row.control else row.rank
        cells = [f"<td data-v='{'' if not rank.isdigit() else rank}'>{rank}</td>",
                 f"<td>{html.escape(row.model)}</td>", f"<td>{html.escape(row_label(row))}</td>"]
        for j in cols:
            cell = table.cell(i, j)
            text = html.escape(cell_text(table, i, j, reasons).strip("*"))
            if cell.records:
                href = os.path.relpath(results / cell.records[0], out).replace(os.sep, "/")
                text = f"<a href='{html.escape(href)}'>{text}</a>"
            if cell.best:
                text = f"<b>{text}</b>"
            title = f" title='skipped: {html.escape(cell.skipped)}'" if cell.mean is None and cell.skipped else ""
            value = "" if cell.mean is None else repr(cell.mean)
            cells.append(f"<td data-v='{value}'{title}>{text}</td>")
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


def html_page(board: Board, title: str, preamble: str, results: Path, out: Path) -> str:
    results, out = Path(results), Path(out)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if preamble:
        parts.append(f"<p class='note'>{html.escape(preamble)}</p>")
    parts.append(f"<p>{html.escape(provenance(board))}</p>")
    legend = html.escape(LEGEND).replace("**Bold**", "<b>Bold</b>")
    claims = " See also <a href='claims.md'>the paper claims</a>." if (out / "claims.md").exists() else ""
    parts.append(f"<p class='legend'>{legend} Click a column header to sort; each number links to its JSON record."
                 f"{claims}</p>")
    for table in board.tables:
        parts.append(f"<h2>{html.escape(table.group)}</h2>{_table_html(table, results, out)}")
    plots = sorted(p.name for p in out.glob("*.png")) if out.is_dir() else []
    if plots:
        parts.append("<h2>Plots</h2>")
        parts += [f"<figure class='plot'><img src='{p}' alt='{p}'><figcaption>{p} (also as "
                  f"<a href='{Path(p).with_suffix('.svg')}'>SVG</a>)</figcaption></figure>" for p in plots]
    figures = _gallery(board, results, out)
    if figures:
        parts.append("<h2>Samples, reconstructions, translations, interpolations</h2><div class='gallery'>")
        parts += figures
        parts.append("</div>")
    parts.append(f"<hr><p>{html.escape(footer(board))}</p><script>{SORT_JS}</script></body></html>")
    return "\n".join(parts)
