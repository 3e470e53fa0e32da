"""One command for everything GPU-specific, sized for about 5 minutes on one GPU; also runs (tiny) on a CPU.

    python bench/gpu_check.py            # on the GPU machine: writes bench/results/gpu_check-<device>.md
    python bench/gpu_check.py --device cpu --tiny
    python bench/gpu_check.py --sprint --json gpu_check.json   # under a minute: what `dmzbench suite --budget` needs

Checks and measures: the CUDA path (bf16 autocast training steps of every family's ``small`` preset and DMZ
``cifar10-paper``), training images/s and model FLOP utilisation against the device's measured bf16 matmul rate,
sampling images/s at T = 10/20/50/100, and the time to draw 10k DMZ samples at T = 100 (extrapolated from a timed
batch). Every number goes into a Markdown report with the device and library versions.

``--sprint`` (the first step of bench/gpu_sprint.sh) measures only what the budgeted suite needs, in under a minute:
the bf16 matmul rate, and per family at the preset the suite trains (``small``) the trainer's images/s at the preset's
own batch size and the sampler's image-steps/s at the suite's FID batch, turned into effective TFLOP/s with the FLOPs
``dmzbench.budget`` counts. ``--json FILE`` writes them for ``dmzbench suite --profile FILE``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import sample_throughput, train_throughput  # noqa: E402
from bench.common import FAMILIES, FMNIST, environment, first_stage, markdown, sync  # noqa: E402
from dmzbench import registry  # noqa: E402
from dmzbench.atomic import write_bytes, write_json  # noqa: E402
from dmzbench import budget  # noqa: E402
from dmzbench.train import Trainer  # noqa: E402


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


def trainer_step_seconds(name: str, preset: str, batch: int, device: torch.device, steps: int) -> tuple[float, float]:
    """Seconds per step of the dmzbench trainer (first stage, ``batch``), from the difference of a fit of ``steps``
    and one of ``3 x steps`` (so the fixed cost of a fit -- EMA copy, checkpoint write -- cancels), and that fixed cost."""
    _, model, stage = first_stage(name, preset, FMNIST, device)
    stage.batch_size = batch
    data = train_throughput.synthetic(max(4 * batch, 64), FMNIST)
    trainer = Trainer(device, progress=False, save_every_s=1e9)

    def fit(n: int) -> float:
        stage.steps = n
        with tempfile.TemporaryDirectory() as tmp:
            sync(device)
            t = time.perf_counter()
            trainer.fit(model, [stage], data, Path(tmp) / "c.pt", {}, seed=0)
            sync(device)
            return time.perf_counter() - t

    fit(2)  # warm-up: allocator, cuDNN autotuning
    short, long = fit(steps), fit(3 * steps)
    per_step = max((long - short) / (2 * steps), 1e-6)
    return per_step, max(short - steps * per_step, 0.0)


def sprint_row(name: str, preset: str, device: torch.device, tiny: bool) -> dict:
    """Trainer images/s (first stage, the preset's batch) and sampling image-steps/s, with effective TFLOP/s. On a CPU
    with a named preset (``--preset cpu``): the preset's own batch, 3 and 9 training steps, sampling 100 images x 2."""
    flops, _ = budget.inspect_model(registry.get("model", name)(), preset, FMNIST)
    row: dict = {"model": name, "preset": preset}
    cpu_sized = device.type == "cpu" and not tiny
    if flops.stages:
        batch = 4 if tiny else flops.stages[0][2]
        per_step, overhead = trainer_step_seconds(name, preset, batch, device, 1 if tiny else 3 if cpu_sized else 5)
        row["train_img_s"] = batch / per_step
        row["train_tflops"] = batch / per_step * flops.stages[0][3] / 1e12
        row["fit_overhead_s"] = overhead
    if flops.forward:
        batch, t = (4, 2) if tiny else (100, 2) if cpu_sized else (1000, 10)
        s = sample_throughput.measure(name, preset, batch, device, steps=(t,))[f"T={t} img/s"]
        row["forward_img_s"] = s * t
        row["infer_tflops"] = s * t * flops.forward / 1e12
    return row


def sprint(device: torch.device, tiny: bool, json_path: Path | None, models: list[str], preset: str | None = None,
           ) -> None:
    t0 = time.perf_counter()
    preset = preset or ("smoke" if tiny else "small")
    peak = matmul_tflops(device, 512 if tiny else 8192)
    rows = []
    for name in models:
        try:
            rows.append(sprint_row(name, preset, device, tiny))
        except Exception as exc:  # a failure is a finding: report it; the suite falls back to the assumed rates
            rows.append({"model": name, "preset": preset, "error": f"{type(exc).__name__}: {exc}"[:200]})
    report = {"device": (torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"),
              "cuda": device.type == "cuda", "date": time.strftime("%Y-%m-%d"), "preset": preset,
              "peak_tflops": peak, "environment": environment(device),
              "models": {r["model"]: r for r in rows if "error" not in r}, "errors": [r for r in rows if "error" in r],
              "wall_s": time.perf_counter() - t0}
    lines = [f"# GPU check, sprint mode ({'tiny, ' if tiny else ''}{report['date']})", "", report["environment"], "",
             f"Measured {'bf16' if device.type == 'cuda' else 'fp32'} matmul rate: {peak:.1f} TFLOP/s", "",
             markdown(rows, ["model", "preset", "train_img_s", "train_tflops", "fit_overhead_s", "forward_img_s",
                             "infer_tflops", "error"]), "", f"Total wall time of this check: {report['wall_s']:.0f} s"]
    name = report["device"].replace(" ", "-")
    folder = json_path.parent if json_path is not None else Path(__file__).parent / "results"  # the sprint: $OUT
    out = write_bytes(folder / f"gpu_check-sprint-{name}{'-tiny' if tiny else ''}.md",
                      "\n".join(lines).encode() + b"\n")
    if json_path is not None:
        write_json(json_path, report)
    print("\n".join(lines))
    print(f"\nwrote {out}" + (f" and {json_path}" if json_path else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="CPU-sized run (smoke presets, small batches)")
    p.add_argument("--sprint", action="store_true", help="only the measurements a budgeted suite needs (< 1 min)")
    p.add_argument("--json", type=Path, help="with --sprint: also write the measurements as JSON here")
    p.add_argument("--models", default=",".join(FAMILIES), help="with --sprint: the families to measure")
    p.add_argument("--preset", help="with --sprint: measure this preset (e.g. cpu: the CPU profile of the cpu suite)")
    args = p.parse_args()
    device = torch.device(args.device)
    tiny = args.tiny or device.type == "cpu" and not args.preset
    if args.sprint:
        return sprint(device, tiny, args.json, args.models.split(","), args.preset)
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
