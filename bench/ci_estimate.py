"""Estimate a suite's wall time under the current presets and suite options from the per-run times of committed records
(made under other presets and options), without running it.

    python bench/ci_estimate.py leaderboards/ci/results [--suite ci]

Model: training time scales with each stage's step count (stage i of a record <-> the preset's ``steps`` /
``latent_steps``); a dependency's training (PDAE's ddpm) with its own step count; a task's time with its sampling work
(fid: n_samples x sum(steps); recon, transfer: n_images x steps; interp: n_pairs x frames x steps; probe, auroc: as
recorded). A preset the records lack (``init``) costs its task time at the same options and no training: its
networks are the same size. Skipped runs cost what they cost. Good to about +-10%: sampling and encoding at init run
the same networks, but per-run overheads (data loading, building) are not scaled.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import markdown  # noqa: E402
from dmzbench import config as cfg  # noqa: E402
from dmzbench import registry  # noqa: E402
from dmzbench.suite import catalog as suites  # noqa: E402

STEP_KEYS = ("steps", "latent_steps")  # stage 0, stage 1 of a family's preset


def _int_list(value) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def sampling_work(task: str, c: dict) -> float:
    if task == "fid":
        return c["n_samples"] * sum(_int_list(c["steps"]))
    if task in ("recon", "transfer"):
        return c["n_images"] * c["steps"]
    if task == "interp":
        return c["n_pairs"] * c["frames"] * c["steps"]
    return 1.0


def new_task_config(task: str, options: list[str]) -> dict:
    import dataclasses

    return dataclasses.asdict(cfg.apply_overrides(registry.get("task", task).Config, options))


def new_train_seconds(model: str, preset: str, train: dict) -> float:
    """The record's training seconds rescaled to the preset's current step counts."""
    config = registry.get("model", model)().preset_config(preset)
    total = 0.0
    for i, stage in enumerate(train.get("stages", [])):
        new_steps = config.get(STEP_KEYS[i], stage["steps"]) if i < len(STEP_KEYS) else stage["steps"]
        total += stage["seconds"] * new_steps / max(stage["steps"], 1)
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path)
    p.add_argument("--suite", default="ci")
    args = p.parse_args()
    suite = suites.get(args.suite)
    records = [json.loads(f.read_text()) for f in sorted(args.results.rglob("*.json")) if "artifacts" not in f.parts]
    by_run = {(r["model"]["name"], r["task"]["name"]): r for r in records}
    ddpm_train = next((r["train"] for r in records if r["model"]["name"] == "ddpm" and r["train"].get("stages")), None)

    plan = [(r.model, r.preset, r.task, r.dataset, r.options) for g in suites.plan(suite) for r in g.runs]
    rows = []
    trained = set()
    for model, preset, task, dataset, options in plan:
        rec = by_run.get((model, task))
        if rec is None:
            sys.exit(f"error: no record for {model} {task} in {args.results}")
        t = rec["timings"]
        model_s = 0.0
        base = registry.get("model", model)()
        mode = rec["task"].get("mode", "")
        key = (model, preset, dataset, mode)
        if rec["model"]["preset"] == (preset or base.default_preset) and key not in trained and t["model_s"] > 1:
            own = rec["train"].get("seconds", 0.0)
            model_s = new_train_seconds(model, rec["model"]["preset"], rec["train"])
            rest = t["model_s"] - own  # building, checkpoints, a stage's prepare; PDAE also trains its ddpm here
            if rec["model"].get("dependencies") and ddpm_train:
                rest *= new_train_seconds("ddpm", "smoke", ddpm_train) / max(ddpm_train["seconds"], 1e-9)
            model_s += rest
            trained.add(key)
        skipped = rec["task"]["details"].get("skipped")
        overhead = t["total_s"] - t["model_s"] - t["task_s"]  # data loading, building: not scaled
        if skipped:
            task_s = t["total_s"]
        else:
            old = sampling_work(task, rec["task"]["config"])
            task_s = overhead + t["task_s"] * sampling_work(task, new_task_config(task, options)) / old
        rows.append({"model": model, "preset": preset or "default", "task": task, "model s": round(model_s),
                     "task s": round(task_s), "total s": round(model_s + task_s)})
    print(f"# Estimated wall time of suite {args.suite} from {len(records)} records in {args.results}\n")
    print(markdown(rows, ["model", "preset", "task", "model s", "task s", "total s"]) + "\n")
    for key in ("model", "preset", "task"):
        sums: dict[str, int] = defaultdict(int)
        for r in rows:
            sums[r[key]] += r["total s"]
        print(markdown([{key: k, "total s": v} for k, v in sums.items()], [key, "total s"]) + "\n")
    train = sum(r["model s"] for r in rows)
    print(f"estimated suite: {sum(r['total s'] for r in rows)} s for {len(rows)} runs ({train} s training)")


if __name__ == "__main__":
    main()
