"""Sampling throughput per model at T = 10, 20, 50, 100 (images/s with each model's native sampler).

    python bench/sample_throughput.py [--preset smoke] [--device cpu] [--batch 16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import FAMILIES, FMNIST, environment, first_stage, markdown, timed  # noqa: E402

STEPS = (10, 20, 50, 100)


def measure(name: str, preset: str, batch: int, device: torch.device, steps=STEPS) -> dict:
    baseline, model, _ = first_stage(name, preset, FMNIST, device)
    adapter = baseline.adapter(model.eval(), preset, FMNIST)
    row = {"model": name, "preset": preset, "sampler": adapter.info.sampler}
    for t in steps:
        g = torch.Generator().manual_seed(0)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            seconds = timed(lambda: adapter.generate(batch, steps=t, generator=g), device, warmup=1, repeats=1)
        row[f"T={t} img/s"] = batch / seconds
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="smoke")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--models", default=",".join(FAMILIES))
    args = p.parse_args()
    device = torch.device(args.device)
    rows = [measure(m, args.preset, args.batch, device) for m in args.models.split(",")]
    print(f"# Sampling throughput ({args.preset}, batch {args.batch})\n\n{environment(device)}\n")
    print(markdown(rows, ["model", "preset", "sampler"] + [f"T={t} img/s" for t in STEPS]))


if __name__ == "__main__":
    main()
