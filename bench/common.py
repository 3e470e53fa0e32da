"""Shared pieces of the benchmarks: model construction at a preset, timing, FLOP counting, Markdown tables."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import torch

from dmzbench import registry
from dmzbench.api import DataSpec

FMNIST = DataSpec("fashion-mnist", 32, 1, 10)
CIFAR = DataSpec("cifar10", 32, 3, 10)
FAMILIES = ("dmz", "diffae", "pdae", "sdvae", "dgae", "ddpm")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, warmup: int = 2, repeats: int = 5) -> float:
    """Median seconds per call after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def first_stage(name: str, preset: str, spec: DataSpec, device: torch.device):
    torch.manual_seed(0)
    baseline = registry.get("model", name)()
    model = baseline.build(preset, spec).to(device)
    stages = baseline.stages(model, preset, spec)
    return baseline, model, stages[0] if stages else None


def flops_per_image(forward: Callable[[], object], batch: int) -> float:
    """Training FLOPs per image, as 3 x the forward pass's (forward + backward ~ 2 x forward), counted by
    torch.utils.flop_counter. Counting the backward pass itself under FlopCounterMode took minutes on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward()
    return 3 * counter.get_total_flops() / batch


def environment(device: torch.device) -> str:
    import diffusers

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {platform.processor() or platform.machine()}"
    return (f"device: {name}; torch {torch.__version__}; diffusers {diffusers.__version__}; "
            f"threads {torch.get_num_threads()}")


def markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
