"""The Python API's two calls that touch models: ``load`` a trained model, ``evaluate`` any model on a task.

Both go through the same resolution step as the command line (``dmzbench.run.plan``) and the same runner, so a notebook and
``dmzbench run`` cannot disagree. ``evaluate`` also takes any object implementing the adapter protocol
(``dmzbench.ModelAdapter``): such an in-memory model is never registered nor cached under a name (its features are
encoded for the one call), and its record says where it came from (class, module, the sha256 of its weights) and has no
``reproduce`` command, since none could make it again.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dmzbench import registry, workspace
from dmzbench.api import ModelAdapter, ModelInfo
from dmzbench.errors import UsageError
from dmzbench.run import plan as planning
from dmzbench.run import runner, validate
from dmzbench.run.checked import CheckedAdapter
from dmzbench.run.records import ResultRecord


@dataclass(frozen=True)
class Model:
    """A trained (or ``init``) registered model, loaded: its adapter (inputs checked), module and checkpoint."""

    name: str
    preset: str
    dataset: str
    seed: int
    adapter: CheckedAdapter
    module: nn.Module
    checkpoint: Path
    checkpoint_sha256: str

    @property
    def info(self) -> ModelInfo:
        return self.adapter.info


def load(model: str, preset: str | None = None, dataset: str | None = None, seed: int = 0, device: str = "auto", *,
         train: bool = False, settings: list[str] | None = None, data_root: str | None = None,
         progress: bool = True) -> Model:
    """The model ``dmzbench train --model MODEL ...`` made, loaded from its checkpoint. Like ``from_pretrained`` it
    never trains unless ``train=True``: without a finished checkpoint it raises one line naming the train command
    (``init`` presets have nothing to train and are built at once). ``settings``: model settings, ``["bits=32"]``."""
    validate.seed(seed)
    key = planning.model_spec(model, preset, settings, dataset, seed, device=workspace.resolve_device(device),
                              data_root=data_root, progress=progress)
    loaded = runner.obtain(key, train=train)
    return Model(key.model, key.preset, key.dataset, seed, CheckedAdapter(loaded.adapter), loaded.module,
                 loaded.checkpoint, loaded.checkpoint_sha256)


def evaluate(model: str | Model | ModelAdapter, task: str, dataset: str | None = None, seed: int | None = None,
             results: str | Path | None = None, *, preset: str | None = None, settings: list[str] | None = None,
             device: str | None = None, data_root: str | None = None, progress: bool = True,
             **options: Any) -> ResultRecord:
    """Run ``task`` on ``model`` and return its record (also written under ``results`` when given).

    ``model``: a registered name (trained if needed, as ``dmzbench run`` would), a ``Model`` from ``load`` (its preset,
    data set and seed unless given), or any object implementing the adapter protocol (``info``, ``encode``,
    ``reconstruct``, ``generate``). ``options``: the task's config fields (``max_images=500``), as ``-o`` sets them.
    """
    overrides = [f"{k}={option_text(v)}" for k, v in options.items()]
    results_dir = None if results is None else Path(results)
    if isinstance(model, Model):
        if preset is not None and preset != model.preset:
            raise UsageError(f"evaluate: the loaded model is {model.name}/{model.preset}; pass preset= only with a name")
        seed = model.seed if seed is None else seed
        model, preset, dataset = model.name, model.preset, dataset or model.dataset
    if isinstance(model, str):
        run = planning.resolve(model, task, dataset=dataset, preset=preset, settings=settings, seed=seed or 0,
                               overrides=overrides, device=workspace.resolve_device(device or "auto"),
                               results_dir=results_dir, data_root=data_root, progress=progress)
    else:
        run = in_memory_plan(model, task, dataset, seed or 0, overrides, device, results_dir, data_root, progress)
    record = runner.execute(run)
    if record is None:  # a non-zero rank of a torchrun launch
        raise UsageError("evaluate() runs in one process; use 'torchrun ... dmzbench run' for several")
    return record


def in_memory_plan(model: Any, task: str, dataset: str | None, seed: int, overrides: list[str], device: str | None,
                   results_dir: Path | None, data_root: str | None, progress: bool) -> planning.RunPlan:
    """The plan of a run on an object implementing the adapter protocol."""
    adapter = model.unchecked if isinstance(model, CheckedAdapter) else model
    if not isinstance(adapter, ModelAdapter) or not isinstance(getattr(adapter, "info", None), ModelInfo):
        raise UsageError(f"evaluate() takes a model name, a dmzbench.load() model or an object with info (a "
                         f"dmzbench.ModelInfo), encode, reconstruct and generate (the adapter protocol; "
                         f"docs/python-api.md), got {type(model).__name__}")
    t = registry.resolve("task", task)
    d, config = planning.dataset_and_config(t, dataset, overrides)
    cls = type(adapter)
    memory = planning.InMemoryModel(adapter, cls.__qualname__, cls.__module__, weights_sha256(adapter))
    dev = workspace.resolve_device(device) if device else weights_device(adapter)
    return planning.RunPlan(adapter.info.name, memory.preset, t.name, d.name, seed, dev, None, runner.IN_MEMORY_SOURCE,
                            t.obj, t.source, d.obj, config, tuple(overrides), results_dir, data_root, progress,
                            in_memory=memory)


def modules_of(obj: Any) -> list[tuple[str, nn.Module]]:
    """The torch modules that hold an in-memory model's weights: the object itself, else its module attributes."""
    if isinstance(obj, nn.Module):
        return [("", obj)]
    return sorted((k, v) for k, v in vars(obj).items() if isinstance(v, nn.Module)) if hasattr(obj, "__dict__") else []


def weights_sha256(obj: Any) -> str | None:
    """sha256 over the names, dtypes, shapes and bytes of every tensor of the object's modules (parameters and
    buffers); None when it holds no module (its record then says its weights are unhashed)."""
    modules = modules_of(obj)
    if not modules:
        return None
    h = hashlib.sha256()
    for prefix, module in modules:
        for name, tensor in module.state_dict().items():
            t = tensor.detach().cpu().contiguous()
            h.update(f"{prefix}.{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def weights_device(obj: Any) -> torch.device:
    """Where an in-memory model's weights are (the tasks send its inputs there); the CPU when it has none."""
    for _, module in modules_of(obj):
        for tensor in module.state_dict().values():
            return tensor.device
    return torch.device("cpu")


def option_text(value: Any) -> str:
    """A Python value of a task option as ``-o`` spells it (so the record's reproduce command is the CLI's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(option_text(v) for v in value)
    if isinstance(value, Mapping) or dataclasses.is_dataclass(value):
        raise UsageError(f"task option value {value!r} cannot be given; use numbers, strings, booleans or lists")
    return str(value)
