"""Result records -> leaderboard: Markdown (one table per task group), CSV, seaborn plots and a static HTML page.

Cells are mean +- std over seeds; the best value of each column is marked by the metric's direction; every FID-type
column names its feature space and N; a footer gives the dmzbench commit(s), presets and seeds. ``check`` rebuilds the
Markdown from the records and compares it with a committed page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dmzbench.atomic import write_bytes
from dmzbench.errors import DmzbenchError, UsageError
from dmzbench.records import read_record

# (group, task, metrics shown in the Markdown/HTML tables); the CSV has every metric.
GROUPS = {
    "Representation": [("probe", ["accuracy"]), ("auroc", ["auroc_mean"]), ("transfer", ["fid", "mse", "ssim"])],
    "Generation (few-step FID)": [("fid", None)],  # None: every fid_T* metric, ordered by T
    "Reconstruction": [("recon", ["psnr", "psnr_other", "ssim", "mse", "rfid",
                                  "psnr_inferred", "ssim_inferred", "rfid_inferred"])],
    "Interpolation": [("interp", ["step_mean", "step_max_over_mean"])],
}
HIGHER_IS_BETTER = ("accuracy", "auroc", "psnr", "ssim")
CHANCE_ANCHORS = frozenset({"psnr_other"})  # what an input-ignoring model scores: shown beside the score, never ranked


def higher_is_better(metric: str) -> bool:
    return metric.startswith(HIGHER_IS_BETTER)


@dataclass(frozen=True)
class Board:
    records: pd.DataFrame  # one row per (record, metric); skipped records have metric None and a reason
    runs: pd.DataFrame  # one row per record


def load(results: Path) -> Board:
    results = Path(results)
    if not results.is_dir():
        raise UsageError(f"results directory {results} does not exist; run 'dmzbench run ...' first or pass --results")
    rows, runs = [], []
    for path in sorted(p for p in results.rglob("*.json") if "artifacts" not in p.parts):
        rec = read_record(path)
        details = rec["task"].get("details", {})
        variant = rec["task"].get("variant")  # a non-default protocol is its own task column, never ranked with the default
        key = {"model": rec["model"]["name"], "preset": rec["model"]["preset"], "dataset": rec["dataset"]["name"],
               "seed": rec["seed"], "task": f"{rec['task']['name']}[{variant}]" if variant else rec["task"]["name"]}
        n = details.get("n_samples") or details.get("n_images") or details.get("n_pairs")
        runs.append({**key, "commit": (rec.get("dmzbench") or {}).get("commit"), "device": rec.get("device"),
                     "skipped": details.get("skipped"), "features": details.get("features"), "n": n,
                     "path": str(path.relative_to(results))})
        for metric, value in rec["metrics"].items():
            rows.append({**key, "metric": metric, "value": value})
    if not runs:
        raise UsageError(f"no result records under {results}; run 'dmzbench run ...' first")
    return Board(pd.DataFrame(rows, columns=["model", "preset", "dataset", "seed", "task", "metric", "value"]),
                 pd.DataFrame(runs))


def stats(board: Board) -> pd.DataFrame:
    """mean, std (0 for one seed) and seed count per (model, preset, dataset, task, metric)."""
    g = board.records.groupby(["model", "preset", "dataset", "task", "metric"])["value"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def _columns(board: Board, task: str, metrics: list[str] | None) -> list[str]:
    present = set(board.records.loc[board.records.task == task, "metric"])
    if metrics is None:
        return sorted((m for m in present if m.startswith("fid_T")), key=lambda m: int(m[5:]))
    return [m for m in metrics if m in present]


def _header(board: Board, task: str, metric: str) -> str:
    runs = board.runs[(board.runs.task == task) & board.runs.features.notna()]
    if not len(runs) or not ("fid" in metric or task == "interp"):
        return f"{task}.{metric}"
    spaces = "/".join(sorted(set(runs.features)))
    ns = "/".join(str(int(n)) for n in sorted(set(runs.n.dropna())))
    return f"{task}.{metric} [{spaces}, N={ns}]"


def group_tables(board: Board) -> dict[str, pd.DataFrame]:
    """Group -> table of display strings (rows: model/preset/dataset), best cells marked with **bold**."""
    s = stats(board)
    tables = {}
    present_tasks = sorted(set(board.runs.task))
    for group, tasks in GROUPS.items():
        cols = {}
        row_keys = set()
        tasks = [(t, metrics) for base, metrics in tasks for t in [base] + [p for p in present_tasks
                                                                            if p.startswith(f"{base}[")]]
        for task, metrics in tasks:
            for metric in _columns(board, task, metrics):
                part = s[(s.task == task) & (s.metric == metric)]
                best = None if metric in CHANCE_ANCHORS else (
                    part["mean"].max() if higher_is_better(metric) else part["mean"].min())
                cells = {}
                for r in part.itertuples():
                    text = f"{r.mean:.4g}" + (f" ± {r.std:.2g}" if r.count > 1 else "")
                    cells[(r.model, r.preset, r.dataset)] = f"**{text}**" if best is not None and math.isclose(r.mean, best) else text
                    row_keys.add((r.model, r.preset, r.dataset))
                cols[_header(board, task, metric)] = cells
            for r in board.runs[(board.runs.task == task) & board.runs.skipped.notna()].itertuples():
                row_keys.add((r.model, r.preset, r.dataset))
                for col in [c for c in cols if c.startswith(f"{task}.")]:
                    cols[col].setdefault((r.model, r.preset, r.dataset), f"skipped: {r.skipped}")
        if not cols:
            continue
        index = sorted(row_keys)
        table = pd.DataFrame({c: [cells.get(k, "—") for k in index] for c, cells in cols.items()})
        table.insert(0, "model", [k[0] for k in index])
        table.insert(1, "preset", [k[1] for k in index])
        table.insert(2, "dataset", [k[2] for k in index])
        tables[group] = table
    return tables


def markdown_table(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def provenance(board: Board) -> str:
    commits = sorted({c for c in board.runs.commit if c}) or ["unknown"]
    seeds = sorted({int(s) for s in board.runs.seed})
    devices = sorted({d for d in board.runs.device if d})
    return (f"Produced from {len(board.runs)} result records by dmzbench commit(s) {', '.join(commits)}; "
            f"seeds {seeds}; devices: {'; '.join(devices)}.")


def footer(board: Board) -> str:
    presets = sorted({f"{m}/{p}" for m, p in zip(board.runs.model, board.runs.preset)})
    return f"{provenance(board)}\n\nPresets: {', '.join(presets)}.\n"


def markdown(board: Board, title: str = "dmzbench leaderboard", preamble: str = "") -> str:
    parts = [f"# {title}\n", preamble.strip() + "\n" if preamble else "", provenance(board) + "\n",
             "Mean ± std over seeds (std shown when there is more than one seed); **bold** = best in the column by the "
             "metric's direction (higher for accuracy/AUROC/PSNR/SSIM, lower for FID/MSE/steps). `init` rows are "
             "untrained controls. FID-type headers name their feature space and N. `recon.psnr_other` is chance level (each "
             "reconstruction against a different test image), not ranked.\n"]
    for group, table in group_tables(board).items():
        parts.append(f"## {group}\n\n{markdown_table(table)}\n")
    parts.append("---\n\n" + footer(board))
    return "\n".join(p for p in parts if p)


def csv(board: Board) -> str:
    s = stats(board)
    meta = board.runs.groupby(["model", "preset", "dataset", "task"]).agg(features=("features", "first"),
                                                                          n=("n", "first")).reset_index()
    return s.merge(meta, on=["model", "preset", "dataset", "task"], how="left").to_csv(index=False)


def write(results: Path, out: Path, title: str = "dmzbench leaderboard", preamble: str = "") -> list[Path]:
    from dmzbench.leaderboard_html import html_page, plots

    board = load(results)
    out = Path(out)
    page = markdown(board, title, preamble)
    written = [write_bytes(out / "leaderboard.md", page.encode()), write_bytes(out / "leaderboard.csv", csv(board).encode())]
    written += plots(board, out)
    written.append(write_bytes(out / "index.html", html_page(board, title, preamble, Path(results), out).encode()))
    return written


def check(results: Path, out: Path, title: str = "dmzbench leaderboard", preamble: str = "") -> None:
    committed = Path(out) / "leaderboard.md"
    if not committed.exists():
        raise DmzbenchError(f"{committed} does not exist; run 'dmzbench leaderboard --results {results} --out {out}'")
    if committed.read_text() != markdown(load(results), title, preamble):
        raise DmzbenchError(f"{committed} no longer matches the records in {results}; regenerate it with "
                            f"'dmzbench leaderboard --results {results} --out {out}' and commit both")
