"""Where a suite's wall time went: per run, the model time (training, or loading a checkpoint) and the task time,
read from the suite's result records.

    dmzbench suite ci --results R      # prints its total wall time at the end
    python bench/suite_time.py R       # this table: per run, and totals per model and per task
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import markdown  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path)
    args = p.parse_args()
    rows = []
    for path in sorted(args.results.rglob("*.json")):
        if "artifacts" in path.parts:
            continue
        rec = json.loads(path.read_text())
        t = rec.get("timings", {})
        rows.append({"model": rec["model"]["name"], "preset": rec["model"]["preset"], "task": rec["task"]["name"],
                     "dataset": rec["dataset"]["name"], "model s": round(t.get("model_s", 0.0)),
                     "task s": round(t.get("task_s", 0.0)), "total s": round(t.get("total_s", 0.0)),
                     "skipped": rec["task"].get("details", {}).get("skipped", "")})
    if not rows:
        sys.exit(f"error: no result records under {args.results}; run 'dmzbench suite ci --results {args.results}'")
    cols = ["model", "preset", "task", "dataset", "model s", "task s", "total s", "skipped"]
    print(f"# Suite wall time from {len(rows)} records in {args.results}\n")
    print(markdown(rows, cols) + "\n")
    for key in ("model", "task"):
        sums: dict[str, int] = defaultdict(int)
        for r in rows:
            sums[r[key]] += r["total s"]
        print(markdown([{key: k, "total s": v} for k, v in sums.items()], [key, "total s"]) + "\n")
    print(f"sum of run times: {sum(r['total s'] for r in rows)} s")


if __name__ == "__main__":
    main()
