"""The cpu suite's compute table, from its records: per family the training FLOPs, images and measured seconds of its
final ``cpu`` model, its probe accuracy beside its init control, its few-step FID; and the measured time of the groups
recorded so far against the plan's estimate for the same groups (the measured CPU profile, a fresh cache).

    python bench/cpu_table.py leaderboards/cpu/results      # Markdown on stdout (leaderboards/cpu/README.md)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import markdown  # noqa: E402


def _records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.rglob("*.json")) if "artifacts" not in p.parts]


def _fmt(value, unc=None, digits=4) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}" + (f" ± {unc:.{digits}f}" if unc is not None else "")


def compute_rows(records: list[dict], preset: str = "cpu") -> list[dict]:
    by_model: dict[str, dict] = defaultdict(dict)
    for rec in records:
        model, task, m = rec["model"]["name"], rec["task"]["name"], rec["metrics"]
        if rec["dataset"]["name"] != "fashion-mnist" or rec["task"]["config"].get("protocol", "kfold5") != "kfold5" and \
                task == "probe":
            continue
        row = by_model[model]
        if rec["seed"] != 0:  # a second seed: its own column (training noise), never mixed into seed 0's numbers
            if rec["model"]["preset"] == preset and task == "probe":
                row[f"seed{rec['seed']}"] = _fmt(m.get("accuracy"), m.get("accuracy_std"))
            continue
        if rec["model"]["preset"] == preset:
            train = rec.get("train") or {}
            if train.get("flops"):  # a skipped run (ddpm cannot encode) trained nothing and says so
                row.update(flops=train.get("flops"), images=train.get("images"), seconds=train.get("seconds"))
            if task == "probe":
                row["probe"] = _fmt(m.get("accuracy"), m.get("accuracy_std")) or "no encoder"
            if task == "fid":
                row["fid"] = _fmt(m.get("fid_T20"), m.get("fid_T20_std"), 2)
        elif rec["model"]["preset"] == "init" and task == "probe":
            row["init"] = _fmt(m.get("accuracy"), m.get("accuracy_std"))
    rows = []
    second_seeds = sorted({k for row in by_model.values() for k in row if k.startswith("seed")})
    for model, row in by_model.items():
        if row.get("flops"):
            rows.append({"family": model, "training FLOPs": f"{row['flops']:.3e}", "images seen": row["images"],
                         "training s": round(row["seconds"] or 0), "probe (kfold5)": row.get("probe", "not yet"),
                         **{f"probe, {k[:4]} {k[4:]}": row.get(k, "") for k in second_seeds},
                         "init control": row.get("init", ""), "FID T=20": row.get("fid", "not yet")})
    return rows


def timing(results: Path) -> tuple[float, float, int]:
    """(measured seconds of the fully recorded groups' runs, the plan's estimate of the same groups, their runs), with
    the measured CPU profile; run with a DMZBENCH_HOME that holds none of the suite's checkpoints, so every group's
    estimate includes its training, as the plan made before the suite started did."""
    from dmzbench import budget
    from dmzbench.suite import catalog as suites, execute as suite_run  # here: the table alone needs no torch

    recorded = suite_run.recorded_runs(results)
    done = [g for g in suites.plan(suites.get("cpu")) if all(suite_run.planned_key(r) in recorded for r in g.runs)]
    keys = [suite_run.planned_key(r) for g in done for r in g.runs]
    measured = sum(json.loads((results / recorded[k]["file"]).read_text())["timings"]["total_s"] for k in keys)
    planned: set = set()  # each model's training counted once, as one plan counts it (PDAE's ddpm, then ddpm's group)
    estimate = sum(suite_run.estimate(g, {}, budget.profile("cpu"), planned=planned).seconds for g in done)
    return measured, estimate, len(keys)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path)
    p.add_argument("--no-timing", action="store_true")
    args = p.parse_args()
    rows = compute_rows(_records(args.results))
    print(markdown(rows, list(rows[0]) if rows else ["family"]))
    if not args.no_timing:
        measured, estimate, n = timing(args.results)
        print(f"\n{n} runs recorded: {measured:.0f} s measured (sum of the records' total_s) against {estimate:.0f} s "
              "estimated by `dmzbench suite cpu --plan` (measured CPU profile) for the fully recorded groups.")


if __name__ == "__main__":
    main()
