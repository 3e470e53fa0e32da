"""A guard before work that cannot finish: estimate a run's time and peak memory on this device before it starts.

The time comes from the cost model (``dmzbench.budget``: FLOPs counted on the meta device x the device profile); the
training memory from the same weightless model: parameters (4 bytes each), and for each trained parameter its gradient,
AdamW's two moments and the EMA copy (4 x 4 bytes), plus the activations the loss saves for its backward pass (counted
per image on the meta device with ``saved_tensors_hooks``) times the batch size. Nothing is built on a real device and
no data set is loaded, so a preset that needs weeks or 50 GiB is refused in seconds.

Over the machine's free memory (``MemAvailable`` on the CPU, ``cudaMemGetInfo`` on a GPU): refused, naming the estimate
and a smaller preset that fits. Over ``max_hours`` (default 2, ``--max-hours`` or ``$DMZBENCH_MAX_HOURS``): asked on a
terminal, refused without one, unless ``--yes``. A model whose checkpoint exists (finished, or to be resumed) costs no
training here, as in the suite planner.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from rich.console import Console

from dmzbench import data, registry, workspace
from dmzbench.api import Baseline, DataSpec, can, task_declaration
from dmzbench.errors import DmzbenchError, UsageError
from dmzbench import budget

_console = Console(stderr=True)
DEFAULT_MAX_HOURS = 2.0
ADAMW_TRAINED_BYTES = 4 * 4  # per trained fp32 parameter: its gradient, AdamW's exp_avg and exp_avg_sq, the EMA copy


@dataclass(frozen=True)
class Policy:
    """How the guard answers an estimate over the limit: ``max_hours``, ``assume_yes`` (``--yes``), and whether it may
    ask (``ask``: a function taking the question, returning True to go on; None: no terminal, refuse)."""

    max_hours: float = DEFAULT_MAX_HOURS
    assume_yes: bool = False
    ask: Callable[[str], bool] | None = None


def policy(max_hours: float | None = None, assume_yes: bool = False) -> Policy:
    """The policy of a command: ``--max-hours`` else ``$DMZBENCH_MAX_HOURS`` else 2; asking only on a terminal."""
    if max_hours is None:
        raw = os.environ.get("DMZBENCH_MAX_HOURS")
        try:
            max_hours = float(raw) if raw else DEFAULT_MAX_HOURS
        except ValueError:
            raise UsageError(f"DMZBENCH_MAX_HOURS={raw!r} must be a number of hours > 0") from None
        name = "DMZBENCH_MAX_HOURS"
    else:
        name = "--max-hours"
    if not (max_hours > 0 and math.isfinite(max_hours)):
        raise UsageError(f"{name} must be a number of hours > 0, got {max_hours!r}")
    return Policy(max_hours, assume_yes, _ask_on_terminal if sys.stdin.isatty() and sys.stderr.isatty() else None)


def _ask_on_terminal(question: str) -> bool:
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


@dataclass(frozen=True)
class Estimate:
    seconds: float
    peak_bytes: int


def _saved_activation_bytes(loss: Callable, x: torch.Tensor) -> int:
    """Bytes the loss keeps for its backward pass (each saved tensor once), on the meta device."""
    seen: dict[int, int] = {}
    keep = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        keep.append(t)  # held so that ids stay unique while counting
        seen.setdefault(id(t), t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss(x, torch.zeros(len(x), dtype=torch.long), x)
    return sum(seen.values())


@dataclass(frozen=True)
class _Counted:
    flops: budget.ModelFlops
    adapter: object  # the weightless adapter (capabilities, task costs)
    parameters: int
    peak_bytes: int  # training's peak over its stages


# The family classes a run's plan already resolved (``check(family=...)``): the guard does not look those names up again.
_FAMILIES: dict[str, type] = {}


def _family(model: str) -> type:
    return _FAMILIES.get(model) or registry.get("model", model)


def _counted(model: str, preset: str, dataset: str) -> _Counted:
    """FLOPs, parameters and training memory of ``model``/``preset`` on ``dataset``, counted once per process (keyed
    by the model's class: a plugin may reuse a name)."""
    return _count(_family(model), preset, dataset)


@functools.lru_cache(maxsize=64)
def _count(family: type, preset: str, dataset: str, n: int = 2) -> _Counted:
    baseline: Baseline = family()
    spec = data.spec_of(dataset)
    flops, adapter = budget.inspect_model_cached(baseline, preset, spec)
    try:
        with torch.device("meta"):
            parameters, peak = _training_peak(baseline, preset, spec, n)
    except (RuntimeError, NotImplementedError) as exc:
        if "meta" not in str(exc).lower():
            raise
        # a loss that needs real values (SD-VAE's ``int(steps_seen)`` before its discriminator starts): counted on the
        # CPU at batch n, as budget.inspect_model does, without touching the caller's random state
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            parameters, peak = _training_peak(baseline, preset, spec, n)
    return _Counted(flops, adapter, parameters, peak)


def _training_peak(baseline: Baseline, preset: str, spec: DataSpec, n: int) -> tuple[int, int]:
    """(parameters, training's peak bytes over its stages) of a model built on the current default device."""
    module = baseline.build(preset, spec)
    parameters = sum(p.numel() for p in module.parameters())
    x = torch.rand(n, spec.channels, spec.image_size, spec.image_size) * 2 - 1
    peak = 4 * parameters
    for stage in baseline.stages(module, preset, spec):
        if not stage.steps:
            continue
        trained = sum(p.numel() for p in stage.module.parameters() if p.requires_grad)
        per_image = _saved_activation_bytes(stage.loss, x) / n
        peak = max(peak, 4 * parameters + ADAMW_TRAINED_BYTES * trained + int(per_image * stage.batch_size))
    return parameters, peak


def training_estimate(model: str, preset: str, dataset: str, device: budget.DeviceProfile) -> Estimate:
    """Seconds (every stage) and peak bytes (the largest stage) of training ``model``/``preset`` from scratch."""
    counted = _counted(model, preset, dataset)
    return Estimate(budget.training_seconds(counted.flops, model, device), counted.peak_bytes)


def untrained_estimate(model: str, preset: str, dataset: str, seed: int, mode: str,
                       device: budget.DeviceProfile) -> Estimate:
    """Training still to do for this model and its dependencies (none for a model with a checkpoint)."""
    baseline = _family(model)()
    parts = [untrained_estimate(dep, dep_preset, dataset, seed, "", device)
             for dep, dep_preset in baseline.dependencies(preset).values()]
    if not workspace.checkpoint_path(model, preset, dataset, seed, mode).exists():
        parts.append(training_estimate(model, preset, dataset, device))
    return Estimate(sum(p.seconds for p in parts), max((p.peak_bytes for p in parts), default=0))


def task_estimate(model: str, preset: str, dataset: str, seed: int, task_cls: type, config: object,
                  device: budget.DeviceProfile) -> float:
    """Seconds of one task run from its declared cost (a task that declares none: the planner's conservative minute),
    with the training of the same model in other modes it obtains (transfer's bridge) where not yet done."""
    counted = _counted(model, preset, dataset)
    flops, adapter = counted.flops, counted.adapter
    cost_of = task_declaration(task_cls, "cost")
    cost = cost_of(config, adapter.info, flops.invert_steps_for) if cost_of else budget.UNDECLARED_TASK_COST
    return budget.task_seconds(cost, flops, model, device) + sum(
        untrained_estimate(model, preset, dataset, seed, mode, device).seconds for mode in cost.other_modes)


def free_bytes(device: torch.device) -> int | None:
    """Memory this run can still take on ``device``; None where the platform does not say (no check then)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def profile_for(device: torch.device) -> budget.DeviceProfile:
    return budget.PROFILES["h100" if device.type == "cuda" else "cpu"]


def _hours(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:,.0f} days"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def smaller_preset(model: str, dataset: str, asked: str, device: budget.DeviceProfile, free: int | None,
                   max_hours: float) -> str | None:
    """The largest preset of ``model`` (by parameters) that fits this machine's memory and ``max_hours`` on ``dataset``
    (presets for another image size are passed over); None when none does."""
    baseline = registry.get("model", model)()
    sizes = []
    for name in baseline.presets:
        if name == asked:
            continue
        try:
            with torch.device("meta"):  # parameters only: cheap, and the order in which to try presets
                sizes.append((sum(p.numel() for p in baseline.build(name, data.spec_of(dataset)).parameters()), name))
        except UsageError:  # a preset for another image size
            continue
    for _, name in sorted(sizes, reverse=True):
        est = training_estimate(model, name, dataset, device)
        if est.seconds <= max_hours * 3600 and (free is None or est.peak_bytes <= free):
            return name
    return None


def check(model: str, preset: str, dataset: str, seed: int, mode: str, device: torch.device, rule: Policy,
          task: tuple[str, type, object, frozenset[str]] | None = None, family: type | None = None) -> Estimate:
    """Refuse (UsageError) or ask before a run whose training and task would not fit; returns the estimate.
    ``task`` is (name, class, config, the capabilities it requires): a task the model cannot do costs nothing;
    ``family`` is the model's class where the caller resolved it already."""
    if family is not None:
        _FAMILIES[model] = family
    try:
        return _check(model, preset, dataset, seed, mode, device, rule, task)
    except DmzbenchError:
        raise
    except Exception as exc:  # a plugin whose code cannot run on the meta device: said, not hidden
        _console.print(f"warning: cannot estimate the cost of {model}/{preset} on the meta device ({type(exc).__name__}: "
                       f"{exc}); starting it unguarded", soft_wrap=True, highlight=False)
        return Estimate(0.0, 0)


def _check(model: str, preset: str, dataset: str, seed: int, mode: str, device: torch.device, rule: Policy,
           task: tuple[str, type, object, frozenset[str]] | None) -> Estimate:
    profile = profile_for(device)
    able = True
    if task is not None:
        able = all(can(_counted(model, preset, dataset).adapter, cap) for cap in task[3])
    if not able:  # recorded as skipped without training
        return Estimate(0.0, 0)
    train = untrained_estimate(model, preset, dataset, seed, mode, profile)
    task_s = task_estimate(model, preset, dataset, seed, task[1], task[2], profile) if task else 0.0
    weights = 4 * _counted(model, preset, dataset).parameters  # what a task holds at least: the model
    total = Estimate(train.seconds + task_s, max(train.peak_bytes, weights))
    work = [f"training {model}/{preset} on {dataset}"] if train.seconds else []
    work += [f"{task[0]} on {model}/{preset}"] if task else []
    said = (f"estimated {_hours(total.seconds)} and {_gib(total.peak_bytes)} of memory on "
            f"{workspace.device_name(device)} for {' then '.join(work) or 'nothing'} ({profile.source})")
    free = free_bytes(device)
    if free is not None and total.peak_bytes > free:
        alternative = smaller_preset(model, dataset, preset, profile, free, rule.max_hours)
        use = f"use a smaller preset (--preset {alternative})" if alternative else "use a smaller preset"
        raise UsageError(f"{said}, over the {_gib(free)} free; {use} or a machine with more memory")
    if total.seconds > rule.max_hours * 3600 and not rule.assume_yes:
        question = f"{said}, over the {rule.max_hours:g} h limit"
        if rule.ask is not None and rule.ask(question + "; start anyway?"):
            return total
        if train.seconds >= task_s:  # training is most of it: a smaller preset helps
            alternative = smaller_preset(model, dataset, preset, profile, free, rule.max_hours)
            use = f"--preset {alternative}, " if alternative else ""
        else:  # the task itself is long: its sizes (-o n_images=..., steps=...) are what to lower
            use = f"smaller {task[0]} options (-o), "
        raise UsageError(f"{question}; use {use}--max-hours H or --yes to start it anyway")
    return total
