"""The leaderboard's pictures (seaborn) and its static HTML page (sortable tables, plots, sample grids; no network)."""

from __future__ import annotations

import html
import io
import shutil
from pathlib import Path

from dmzbench.atomic import write_bytes

SORT_JS = """
function sortTable(table, col, dir) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const key = r => { const t = r.cells[col].innerText.replace(/[*±].*$/, '').trim(); const v = parseFloat(t);
                     return isNaN(v) ? t : v; };
  rows.sort((a, b) => { const x = key(a), y = key(b);
                        const c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
                        return dir * c; });
  rows.forEach(r => body.appendChild(r));
  table.dataset.sorted = col + ':' + dir;
}
document.querySelectorAll('table.board').forEach((table, t) => {
  Array.from(table.tHead.rows[0].cells).forEach((th, col) => {
    th.addEventListener('click', () => {
      const [c, d] = (table.dataset.sorted || '-1:1').split(':').map(Number);
      sortTable(table, col, c === col ? -d : 1);
    });
  });
});
// #sort=<table>:<column>:<1|-1> sorts on load (used by the headless-browser test and for links)
const m = location.hash.match(/sort=(\\d+):(\\d+):(-?1)/);
if (m) sortTable(document.querySelectorAll('table.board')[+m[1]], +m[2], +m[3]);
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table.board { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
table.board th, table.board td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
table.board th { background: #f0f0f0; cursor: pointer; }
table.board td:nth-child(-n+3) { text-align: left; }
img { max-width: 640px; margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd; }
.note { background: #fff8e0; padding: 0.5em 1em; border-left: 4px solid #e0b000; }
"""


def plots(board, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from dmzbench.leaderboard import stats

    s = stats(board)
    written = []
    fid = s[(s.task == "fid") & s.metric.str.startswith("fid_T")].copy()
    if len(fid):
        fid["steps"] = fid.metric.str[5:].astype(int)
        fid["model"] = fid.model + "/" + fid.preset
        fig, ax = plt.subplots(figsize=(6, 4))
        sns.lineplot(data=fid, x="steps", y="mean", hue="model", marker="o", ax=ax)
        ax.set(xscale="log", xlabel="sampling steps T", ylabel="FID", title="FID against sampling steps")
        written.append(_save(fig, out / "fid_vs_steps.png"))
    rep = s[((s.task == "probe") & (s.metric == "accuracy")) | ((s.task == "auroc") & (s.metric == "auroc_mean"))].copy()
    if len(rep):
        rep["model"] = rep.model + "/" + rep.preset
        g = sns.catplot(data=rep, x="model", y="mean", col="metric", kind="bar", height=3.5, aspect=1.4, sharey=False)
        for ax, (_, part) in zip(g.axes.flat, rep.groupby("metric", sort=True)):
            ax.errorbar(range(len(part)), part["mean"], yerr=part["std"], fmt="none", color="black")
            ax.tick_params(axis="x", rotation=60)
        written.append(_save(g.figure, out / "representation.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return write_bytes(path, buf.getvalue())


def html_page(board, title: str, preamble: str, results: Path, out: Path) -> str:
    from dmzbench.leaderboard import footer, group_tables

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if preamble:
        parts.append(f"<p class='note'>{html.escape(preamble)}</p>")
    parts.append("<p>Click a column header to sort. <b>Bold</b> = best in the column by the metric's direction.</p>")
    for group, table in group_tables(board).items():
        parts.append(f"<h2>{html.escape(group)}</h2><table class='board'><thead><tr>")
        parts += [f"<th>{html.escape(str(c))}</th>" for c in table.columns]
        parts.append("</tr></thead><tbody>")
        for row in table.itertuples(index=False):
            cells = []
            for v in row:
                text = html.escape(str(v))
                cells.append(f"<td><b>{text.strip('*')}</b></td>" if text.startswith("**") else f"<td>{text}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    for name, caption in (("fid_vs_steps.png", "FID against sampling steps"),
                          ("representation.png", "Probe accuracy and AUROC (error bars: std over seeds)")):
        if (out / name).exists():
            parts.append(f"<h2>{caption}</h2><img src='{name}' alt='{caption}'>")
    grids = sorted(results.rglob("artifacts/*/*.png"))
    if grids:
        parts.append("<h2>Samples, reconstructions, translations, interpolations</h2>")
        for grid in grids:
            rel = Path("assets") / grid.parent.parent.parent.name / grid.parent.name / grid.name
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(grid, out / rel)
            label = f"{grid.parent.parent.parent.name}: {grid.parent.name} / {grid.stem}"
            parts.append(f"<figure><img src='{rel.as_posix()}' alt='{html.escape(label)}'>"
                         f"<figcaption>{html.escape(label)}</figcaption></figure>")
    parts.append(f"<hr><p>{html.escape(footer(board))}</p><script>{SORT_JS}</script></body></html>")
    return "\n".join(parts)
