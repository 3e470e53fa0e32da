"""One command for everything GPU-specific, sized for about 5 minutes on one GPU; also runs (tiny) on a CPU.

    python bench/gpu_check.py            # on the GPU machine: writes bench/results/gpu_check-<device>.md
    python bench/gpu_check.py --device cpu --tiny

Checks and measures: the CUDA path (bf16 autocast training steps of every family's ``small`` preset and DMZ
``cifar10-paper``), training images/s and model FLOP utilisation against the device's measured bf16 matmul rate,
sampling images/s at T = 10/20/50/100, and the time to draw 10k DMZ samples at T = 100 (extrapolated from a timed
batch). Every number goes into a Markdown report with the device and library versions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import sample_throughput, train_throughput  # noqa: E402
from bench.common import FAMILIES, environment, markdown, sync  # noqa: E402
from dmzbench.atomic import write_bytes  # noqa: E402


def matmul_tflops(device: torch.device, n: int) -> float:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps, t = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e12


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="CPU-sized run (smoke presets, small batches)")
    args = p.parse_args()
    device = torch.device(args.device)
    tiny = args.tiny or device.type == "cpu"
    preset, batch, steps = ("smoke", 4, 2) if tiny else ("small", 128, 10)
    t0 = time.perf_counter()
    peak = matmul_tflops(device, 1024 if tiny else 8192)
    lines = [f"# GPU check ({'tiny, ' if tiny else ''}{time.strftime('%Y-%m-%d')})", "", environment(device), "",
             f"Measured {'bf16' if device.type == 'cuda' else 'fp32'} matmul rate: {peak:.1f} TFLOP/s", ""]

    rows = []
    for name, pre in [(m, preset) for m in FAMILIES] + ([] if tiny else [("dmz", "cifar10-paper")]):
        try:
            # torch.compile is timed on the paper preset only (compiling costs a minute per model on a GPU)
            row = train_throughput.measure(name, pre, batch, device, steps, compile=pre == "cifar10-paper")
            row["MFU %"] = 100 * row["GFLOP/img"] * 1e9 * row["harness img/s"] / (peak * 1e12)
        except Exception as exc:  # a failure is a finding: report it, keep measuring the rest
            row = {"model": name, "preset": pre, "error": f"{type(exc).__name__}: {exc}"[:200]}
        rows.append(row)
    lines += ["## Training", "", markdown(rows, ["model", "preset", "batch", "harness img/s", "bare img/s",
                                                 "overhead ratio", "GFLOP/img", "MFU %", "compiled img/s", "error"]), ""]

    rows = []
    for name in FAMILIES:
        try:
            rows.append(sample_throughput.measure(name, preset, 4 if tiny else 256, device))
        except Exception as exc:
            rows.append({"model": name, "preset": preset, "sampler": f"error: {type(exc).__name__}: {exc}"[:200]})
    lines += ["## Sampling", "", markdown(rows, ["model", "preset", "sampler"] +
                                          [f"T={t} img/s" for t in sample_throughput.STEPS]), ""]
    dmz = next((r for r in rows if r["model"] == "dmz" and "T=100 img/s" in r), None)
    if dmz:
        lines.append(f"10k DMZ ({preset}) samples at T=100: {10_000 / dmz['T=100 img/s']:.0f} s (extrapolated)")
    lines += ["", f"Total wall time of this check: {time.perf_counter() - t0:.0f} s"]
    name = (torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu").replace(" ", "-")
    out = write_bytes(Path(__file__).parent / "results" / f"gpu_check-{name}{'-tiny' if tiny else ''}.md",
                      "\n".join(lines).encode() + b"\n")
    print("\n".join(lines))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
