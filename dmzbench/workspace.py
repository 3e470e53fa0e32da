"""The workspace: where things live on disk (checkpoints and feature caches under DMZBENCH_HOME, keyed by what produced
them) and which device runs them."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from dmzbench import distributed
from dmzbench.errors import UsageError


def home() -> Path:
    """``$DMZBENCH_HOME``, else the user's cache directory (``$XDG_CACHE_HOME/dmzbench`` or ``~/.cache/dmzbench``)."""
    if os.environ.get("DMZBENCH_HOME"):
        return Path(os.environ["DMZBENCH_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "dmzbench"


def run_dir(model: str, preset: str, dataset: str, seed: int, mode: str = "") -> Path:
    """One trained model: ``runs/<model>/<preset>/<dataset>[+mode]/seed<seed>/``."""
    return home() / "runs" / model / preset / (f"{dataset}+{mode}" if mode else dataset) / f"seed{seed}"


def checkpoint_path(model: str, preset: str, dataset: str, seed: int, mode: str = "") -> Path:
    return run_dir(model, preset, dataset, seed, mode) / "checkpoint.pt"


def features_path(key: str) -> Path:
    return home() / "features" / f"{key}.pt"


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` (CUDA if present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``. Under torchrun, this rank's device."""
    rank_device = distributed.setup()
    if rank_device is not None or distributed.world()[1] > 1:
        return rank_device or torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))
                                           if torch.cuda.is_available() else "cpu")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"unknown device '{spec}'; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{spec}' asked for, but this torch sees no CUDA GPU; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device '{spec}' does not exist: {torch.cuda.device_count()} GPU(s) visible")
    elif device.type != "cpu":
        raise UsageError(f"device type '{device.type}' is not supported; use auto, cpu, cuda or cuda:N")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
