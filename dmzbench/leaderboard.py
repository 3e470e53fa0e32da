"""Result records -> leaderboard tables (Markdown and CSV): one row per (model, preset, dataset), one column per
task metric, mean +- std over seeds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dmzbench.atomic import write_bytes
from dmzbench.errors import UsageError
from dmzbench.records import read_record

# Bookkeeping metrics that are not scores.
NOT_SCORES = {"n_images", "accuracy_std"}


def load_records(results: Path) -> pd.DataFrame:
    paths = sorted(p for p in Path(results).rglob("*.json") if "artifacts" not in p.parts)
    if not Path(results).is_dir():
        raise UsageError(f"results directory {results} does not exist; run 'dmzbench run ...' first or pass --results")
    rows = []
    for path in paths:
        rec = read_record(path)
        for metric, value in rec["metrics"].items():
            if metric in NOT_SCORES:
                continue
            rows.append({"model": rec["model"]["name"], "preset": rec["model"]["preset"], "dataset": rec["dataset"]["name"],
                         "seed": rec["seed"], "column": f"{rec['task']['name']}.{metric}", "value": value,
                         "commit": (rec.get("dmzbench") or {}).get("commit")})
    if not rows:
        raise UsageError(f"no result records under {results}; run 'dmzbench run ...' first")
    return pd.DataFrame(rows)


def table(records: pd.DataFrame) -> pd.DataFrame:
    stats = records.groupby(["model", "preset", "dataset", "column"])["value"].agg(["mean", "std", "count"]).reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    return stats


def _cell(mean: float, std: float, count: int) -> str:
    return f"{mean:.4f} ± {std:.4f} (n={count})" if count > 1 else f"{mean:.4f}"


def markdown(stats: pd.DataFrame) -> str:
    wide = stats.assign(cell=[_cell(m, s, c) for m, s, c in zip(stats["mean"], stats["std"], stats["count"])])
    wide = wide.pivot(index=["model", "preset", "dataset"], columns="column", values="cell").fillna("—").reset_index()
    header = list(wide.columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in wide.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write(results: Path, out: Path) -> list[Path]:
    records = load_records(results)
    stats = table(records)
    out = Path(out)
    commits = sorted({c for c in records["commit"] if c})
    page = (
        "# dmzbench leaderboard\n\n"
        f"From {records[['model', 'preset', 'dataset', 'seed']].drop_duplicates().shape[0]} runs in `{results}`; "
        "mean ± std over seeds (n = number of seeds). `init` rows are untrained controls.\n\n"
        + markdown(stats)
        + f"\nProduced by dmzbench commit(s): {', '.join(commits) or 'unknown'}.\n"
    )
    return [write_bytes(out / "leaderboard.md", page.encode()), write_bytes(out / "leaderboard.csv", stats.to_csv(index=False).encode())]
