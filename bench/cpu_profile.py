"""The measured 2-core CPU profile of the cost model, derived from suites that ran on this machine type.

    python bench/cpu_profile.py leaderboards/ci/results leaderboards/cpu/results   # writes dmzbench/profiles/cpu.json

Every result record states what it cost: the training seconds and images of each stage (``train.stages``) and the
task's seconds (``timings.task_s``). With the FLOPs ``dmzbench.budget`` counts for the same model, that gives per
family:

- ``train_tflops``: counted training FLOPs / measured training seconds (the trainer's per-step overhead included);
- ``infer_tflops``: the task's counted sampling and encoding FLOPs / (its seconds - its declared fixed seconds x
  ``fixed_scale``);
- ``fixed_scale``: the median of measured / declared seconds over records whose task does no model work (the pixels
  rows: classifier fits and feature extraction, declared for the 16-core GPU machine);

``dmzbench suite NAME --plan`` on a CPU then prices with this file (``budget.profile("cpu")``); the plan states the
source. Only records made on a CPU device count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dmzbench import registry  # noqa: E402
from dmzbench.api import task_declaration  # noqa: E402
from dmzbench.atomic import write_json  # noqa: E402
from dmzbench import budget  # noqa: E402
from dmzbench.suite.execute import model_flops  # noqa: E402


def _records(folders: list[Path]) -> list[dict]:
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            if "artifacts" in path.parts:
                continue
            rec = json.loads(path.read_text())
            if str(rec.get("device", "")).startswith("cpu") and not rec["task"].get("details", {}).get("skipped"):
                found.append(rec)
    return found


def _work(rec: dict, flops: budget.ModelFlops, adapter) -> tuple[float, float]:
    """(counted inference FLOPs, declared fixed seconds) of the record's task run."""
    task_cls = registry.get("task", rec["task"]["name"])
    config = task_cls.Config(**rec["task"]["config"])
    cost_of = task_declaration(task_cls, "cost")
    cost = cost_of(config, adapter.info, flops.invert_steps_for) if cost_of else budget.UNDECLARED_TASK_COST
    return cost.denoiser_forwards * flops.forward + cost.encoded_images * flops.encode, cost.fixed_s


def derive(folders: list[Path]) -> dict:
    train_flops, train_s = defaultdict(float), defaultdict(float)
    infer_flops, infer_s = defaultdict(float), defaultdict(float)
    fixed_ratios, seen = [], set()
    records = _records(folders)
    rows = []
    for rec in records:
        model, preset, dataset = rec["model"]["name"], rec["model"]["preset"], rec["dataset"]["name"]
        flops, adapter = model_flops(model, preset, dataset)
        per_image = {name: f for name, _, _, f in flops.stages}
        ident = (model, preset, dataset, rec["task"].get("mode", ""), rec["seed"])
        if ident not in seen:  # every record of a model repeats its training block
            seen.add(ident)
            for stage in (rec.get("train") or {}).get("stages", []):
                if stage["seconds"] > 0 and per_image.get(stage["name"]):
                    train_flops[model] += per_image[stage["name"]] * stage["images"]
                    train_s[model] += stage["seconds"]
        work, fixed = _work(rec, flops, adapter)
        rows.append((model, work, fixed, rec["timings"]["task_s"]))
        if work == 0 and fixed > 0:
            fixed_ratios.append(rec["timings"]["task_s"] / fixed)
    fixed_scale = statistics.median(fixed_ratios) if fixed_ratios else 1.0
    for model, work, fixed, seconds in rows:
        if work > 0 and seconds - fixed * fixed_scale > 0:
            infer_flops[model] += work
            infer_s[model] += seconds - fixed * fixed_scale
    models = {}
    for model in sorted(set(train_s) | set(infer_s)):
        models[model] = {"model": model}
        if train_s.get(model):
            models[model]["train_tflops"] = train_flops[model] / train_s[model] / 1e12
        if infer_s.get(model):
            models[model]["infer_tflops"] = infer_flops[model] / infer_s[model] / 1e12
    return {"device": "cpu", "cuda": False, "date": time.strftime("%Y-%m-%d"),
            "source": f"measured: {len(records)} CPU records of {', '.join(str(f) for f in folders)} "
                      "(bench/cpu_profile.py)",
            "fixed_scale": fixed_scale,
            "models": models}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=budget.MEASURED_CPU)
    args = p.parse_args()
    report = derive(args.results)
    write_json(args.out, report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
