"""The main job, orchestration only: get a model (train it, resume it, or load its checkpoint), run a task on it, write
the record.

The pieces it orchestrates live beside it: checkpoint meta and verified loading in ``dmzbench.checkpoints``, the
on-disk feature cache in ``dmzbench.features``, the record's sections in ``dmzbench.records``, paths and devices in
``dmzbench.workspace``. What one run is (model, preset, task, data set, seed, overrides, device, ...) is one frozen
``RunSpec``; what one trained model is keyed on is one frozen ``ModelSpec``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from dmzbench import data, distributed, guard, locks, preflight, registry, validate, workspace
from dmzbench.api import (SOURCE_DOMAIN, Baseline, DataSpec, ImageData, ModelAdapter, TaskContext, can, task_needs,
                          validate_task)
from dmzbench.atomic import sha256_file, save_checkpoint
from dmzbench.budget import inspect_model_cached
from dmzbench.checkpoints import checkpoint_meta, has_checkpoint, load_checkpoint
from dmzbench.config import apply_overrides
from dmzbench.errors import DmzbenchError, UsageError, did_you_mean
from dmzbench.features import feature_cache, no_features
from dmzbench.outputs import checked
from dmzbench.presets import record_settings
from dmzbench.presets import resolve as resolve_preset
from dmzbench.records import (ResultRecord, config_key, dataset_section, metric_values, model_section,
                              reproduce_command, run_stem, task_section, timings_section)
from dmzbench.snapshots import SnapshotTarget, snapshots_of
from dmzbench.train import CHECKPOINT_FORMAT, StageSummary, Trainer, train_summary

console = Console(stderr=True)

__all__ = ["LoadedModel", "ModelSpec", "RunSpec", "build_seeded", "check_preset", "execute", "get_baseline",
           "obtain", "obtain_model", "run_task", "task_needs"]


@dataclass(frozen=True)
class ModelSpec:
    """What one trained model is keyed on (its checkpoint path and meta), and how to obtain it."""

    model: str
    preset: str
    dataset: str
    seed: int
    device: torch.device
    mode: str = ""  # training mode: "" (plain), "paired" or "source-domain"
    data_root: str | None = None
    progress: bool = True
    compile: bool = False

    def in_mode(self, mode: str) -> ModelSpec:
        return dataclasses.replace(self, mode=mode)


@dataclass(frozen=True)
class RunSpec:
    """One run: a task on a model, as asked for (the preset and data set already resolved to their defaults)."""

    model: str
    preset: str
    task: str
    dataset: str
    seed: int
    device: torch.device
    overrides: tuple[str, ...] = ()
    results_dir: Path = Path("results")
    data_root: str | None = None
    progress: bool = True
    compile: bool = False
    suite: tuple[tuple[str, str], ...] | None = None  # the suite's banner (name, note) as pairs, kept in the record
    limits: guard.Policy | None = None  # --max-hours / --yes (dmzbench/guard.py); None: $DMZBENCH_MAX_HOURS or 2 h

    def model_spec(self, mode: str = "") -> ModelSpec:
        return ModelSpec(self.model, self.preset, self.dataset, self.seed, self.device, mode, self.data_root,
                         self.progress, self.compile)


@dataclass
class LoadedModel:
    name: str
    preset: str
    baseline: Baseline
    module: nn.Module
    adapter: ModelAdapter
    checkpoint: Path
    checkpoint_sha256: str
    summaries: list[StageSummary]
    seconds: float  # spent obtaining it in this call (training, or just loading)
    dependencies: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)


def get_baseline(name: str) -> Baseline:
    return registry.get("model", name)()


def check_preset(baseline: Baseline, preset: str) -> None:
    """A known preset, with valid model settings if it has any (``smoke+bits=32``; dmzbench/presets.py)."""
    resolve_preset(baseline, preset)


def build_seeded(baseline: Baseline, preset: str, spec: DataSpec, seed: int) -> nn.Module:
    """The untrained model: its initial weights depend only on the seed (training reseeds every step)."""
    torch.manual_seed(seed)
    return baseline.build(preset, spec)


def obtain(key: ModelSpec, *, loaded_data: ImageData | None = None, stop_after_train_steps: int | None = None,
           untrained: nn.Module | None = None) -> LoadedModel:
    """The model ``key`` names: loaded from its checkpoint when finished, resumed when a run was interrupted, trained
    (or, for presets without stages such as ``init``, just initialised) otherwise.
    ``mode="paired"`` trains the encoder on a paired data set's source images (domain transfer), keyed separately;
    ``mode="source-domain"`` trains a plain model (and its dependencies) on those source images alone;
    ``compile`` trains with torch.compile; ``untrained`` is a module ``build_seeded`` already made for this key
    (``execute`` builds one to read capabilities), used instead of building a second."""
    t0 = time.monotonic()
    name, preset, dataset, seed, mode = key.model, key.preset, key.dataset, key.seed, key.mode
    baseline = get_baseline(name)
    check_preset(baseline, preset)
    given_data = loaded_data
    if mode == SOURCE_DOMAIN:  # a plain model of the paired set's source images (the bridge protocol's first model)
        loaded_data = (loaded_data or data.load(dataset, key.data_root)).source_domain()
    spec = loaded_data.spec if mode == SOURCE_DOMAIN else data.spec_of(dataset)
    path = workspace.checkpoint_path(name, preset, dataset, seed, mode)
    meta = checkpoint_meta(baseline, preset, spec, seed) | {"mode": mode}
    deps = {
        role: obtain(dataclasses.replace(key, model=dep, preset=dep_preset,
                                         mode=mode if mode == SOURCE_DOMAIN else ""), loaded_data=given_data)
        for role, (dep, dep_preset) in baseline.dependencies(preset).items()
    }
    meta["dependencies"] = {r: {"model": d.name, "preset": d.preset, "checkpoint_sha256": d.checkpoint_sha256}
                            for r, d in deps.items()}

    module = untrained if untrained is not None else build_seeded(baseline, preset, spec, seed)
    # One trainer per model across processes sharing DMZBENCH_HOME (dmzbench/locks.py): a second one waits, then
    # loads what the first trained.
    with contextlib.ExitStack() as held:
        state = load_checkpoint(path, meta) if has_checkpoint(path) else None
        if (state is None or not state["done"]) and _hold_training_lock(held, path).waited:
            state = load_checkpoint(path, meta) if has_checkpoint(path) else None  # its holder may have finished it
        if state is not None:
            module.load_state_dict(state["model"])
        else:
            baseline.attach(module, {role: d.module for role, d in deps.items()})
        summaries = [StageSummary(**s) for s in state["summaries"]] if state else []

        if state is None or not state["done"]:
            stages = baseline.stages(module, preset, spec)
            if not stages:
                save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "meta": meta, "model": module.state_dict(),
                                       "done": True, "summaries": [], "stage_index": 0, "step": 0})
            else:
                if state is not None:
                    at = stages[min(state["stage_index"], len(stages) - 1)].name
                    console.print(f"resuming {name}/{preset} on {dataset} (seed {seed}) from step {state['step']} of "
                                  f"stage '{at}' ({path})")
                images = loaded_data or data.load(dataset, key.data_root)
                trainer = Trainer(key.device, progress=key.progress, console=console, compile=key.compile)
                summaries, finished = trainer.fit(
                    module, stages, images, path, meta, seed, resume_state=state,
                    stop_after_steps=stop_after_train_steps, paired=mode == "paired",
                    snapshots=snapshot_targets(key, baseline, spec, meta),
                )
                if not finished:
                    raise DmzbenchError(f"training of {name}/{preset} stopped early; run the same command to resume")
        module.to(key.device).eval()
        checkpoint_sha256 = sha256_file(path)  # still under the lock: the bytes this process trained or loaded
    adapter = checked(baseline.adapter(module, preset, spec), name)  # tasks score only checked outputs (outputs.py)
    return LoadedModel(
        name, preset, baseline, module, adapter, path, checkpoint_sha256, summaries,
        time.monotonic() - t0, meta["dependencies"],
    )


def snapshot_targets(key: ModelSpec, baseline: Baseline, spec: DataSpec, meta: dict[str, Any]) -> list[SnapshotTarget]:
    """Where training ``key`` keeps its snapshots (dmzbench/snapshots.py): each shorter run's checkpoint path and meta,
    for those not written yet. Its dependencies are the same models (PDAE's frozen DPM is named by the base preset)."""
    targets = []
    for snap in snapshots_of(baseline, key.preset):
        path = workspace.checkpoint_path(key.model, snap.preset, key.dataset, key.seed, key.mode)
        if has_checkpoint(path) or baseline.dependencies(snap.preset) != baseline.dependencies(key.preset):
            continue
        snap_meta = checkpoint_meta(baseline, snap.preset, spec, key.seed) | {"mode": key.mode,
                                                                              "dependencies": meta["dependencies"]}
        targets.append(SnapshotTarget(snap.step, path, snap_meta))
    return targets


def training_flops(loaded: LoadedModel, spec: DataSpec) -> float:
    """The training FLOPs the model saw (dmzbench/budget.py's count: each stage's FLOPs per image x its images; not
    its dependencies', such as PDAE's frozen DPM, which their own records state)."""
    flops, _ = inspect_model_cached(loaded.baseline, loaded.preset, spec)
    per_image = {name: f for name, _, _, f in flops.stages}
    return float(sum(per_image.get(s.name, 0.0) * s.images for s in loaded.summaries))


def _hold_training_lock(held: contextlib.ExitStack, path: Path) -> locks.Held:
    if distributed.world()[1] > 1:  # a torchrun launch is one trainer already; its ranks must not wait for each other
        return locks.Held(locks.lock_path(path), waited=False)
    return held.enter_context(locks.training_lock(path, lambda line: console.print(line, soft_wrap=True,
                                                                                   highlight=False)))


def obtain_model(name: str, preset: str, dataset: str, seed: int, device: torch.device, *,
                 data_root: str | None = None, loaded_data: ImageData | None = None, progress: bool = True,
                 stop_after_train_steps: int | None = None, mode: str = "", compile: bool = False,
                 untrained: nn.Module | None = None) -> LoadedModel:
    """``obtain`` with the model's key given as arguments (``dmzbench train``, tests)."""
    key = ModelSpec(name, preset, dataset, seed, device, mode, data_root, progress, compile)
    return obtain(key, loaded_data=loaded_data, stop_after_train_steps=stop_after_train_steps, untrained=untrained)


def resolve(model: str, task: str, *, dataset: str | None = None, preset: str | None = None, seed: int = 0,
            overrides: list[str] | tuple[str, ...] | None = None, device: torch.device,
            results_dir: Path = Path("results"), data_root: str | None = None, progress: bool = True,
            compile: bool = False, suite: dict[str, str] | None = None, limits: guard.Policy | None = None) -> RunSpec:
    """The RunSpec of the arguments of ``dmzbench run``: unknown names refused, defaults filled in (the model's preset,
    the task's data set)."""
    task_cls = registry.get("task", task)
    baseline = get_baseline(model)
    preset = preset or baseline.default_preset
    check_preset(baseline, preset)
    dataset = dataset or task_cls.default_dataset
    if dataset not in registry.names("dataset"):
        raise did_you_mean("dataset", dataset, registry.names("dataset"))
    return RunSpec(model, preset, task, dataset, seed, device, tuple(overrides or ()), Path(results_dir), data_root,
                   progress, compile, None if suite is None else tuple(suite.items()), limits)


def execute(run: RunSpec) -> ResultRecord | None:
    """Run one task on one model and write its record; None on non-zero ranks of a torchrun launch."""
    t0 = time.monotonic()
    task_cls = registry.get("task", run.task)
    baseline = get_baseline(run.model)
    validate.seed(run.seed)
    validate.writable_dir(run.results_dir, "--results")  # before the task runs, not after
    config = apply_overrides(task_cls.Config, list(run.overrides))
    # Everything decidable from the arguments is checked before the data set is loaded (a usage error must not depend
    # on whether the data is on this machine): what the data set provides, preset vs image size (raised by build),
    # capabilities, the adapter's feature shape.
    preflight.check_data_serves(run.task, task_cls, run.dataset)
    mode, requires = task_needs(task_cls, config)
    # Work that cannot finish here is refused before anything is built on the device or loaded (dmzbench/guard.py).
    guard.check(run.model, run.preset, run.dataset, run.seed, mode, run.device, run.limits or guard.policy(),
                (run.task, task_cls, config, requires))
    # Capabilities come from the architecture, not the weights: a task the model cannot do is recorded as skipped
    # (never faked) before any training is spent on it.
    spec = data.spec_of(run.dataset)
    untrained = build_seeded(baseline, run.preset, spec, run.seed)
    untrained_adapter = checked(baseline.adapter(untrained, run.preset, spec), run.model)
    info = untrained_adapter.info
    missing = [cap for cap in sorted(requires) if not can(untrained_adapter, cap)]
    if not missing and "encode" in requires:
        preflight.check_encode_shape(untrained_adapter, untrained, spec)

    images = data.load(run.dataset, run.data_root)
    validate_task(task_cls, images, config)  # data/config checks that must fail before any training
    if mode == "paired" and not images.paired:  # a plugin data set that does not declare what it provides
        raise UsageError(f"task {run.task} needs a paired data set; {run.dataset} is not paired")
    loaded = None
    if not missing:
        loaded = obtain(run.model_spec(mode), loaded_data=images, untrained=untrained)

    if not distributed.is_main():  # under torchrun the other ranks only helped train
        return None

    task_record = task_section(run.task, task_cls.version, dataclasses.asdict(config), mode,
                               registry.source("task", run.task))
    out_dir = run.results_dir / run.task / "artifacts" / run_stem(run.model, run.preset, run.dataset, run.seed,
                                                                   config_key(task_record))
    ctx = TaskContext(device=run.device, seed=run.seed, output_dir=out_dir,
                      cached_features=(feature_cache(loaded.adapter, loaded.checkpoint_sha256, images, run.device,
                                                     log=lambda msg: console.print(msg, highlight=False, soft_wrap=True))
                                       if loaded else no_features),
                      log=lambda msg: console.print(msg))

    def model_in_mode(other_mode: str) -> ModelAdapter:
        other = obtain(run.model_spec(other_mode), loaded_data=images)
        ctx.details.setdefault("models", {})[other_mode] = {"checkpoint_sha256": other.checkpoint_sha256,
                                                            "dependencies": other.dependencies,
                                                            "train": train_summary(other.summaries)}
        return other.adapter

    ctx.model_in_mode = model_in_mode
    t_task = time.monotonic()
    if loaded is None:  # the leaderboard shows the reason in the empty cell
        metrics, ctx.details["skipped"] = {}, f"{run.model} cannot {' or '.join(missing)}"
        console.print(f"skipped: {ctx.details['skipped']}")
    else:
        metrics = task_cls().run(loaded.adapter, images, config, ctx)
    model_source = registry.source("model", run.model)
    record = ResultRecord(
        model=model_section(run.model, baseline.family, run.preset, loaded.checkpoint_sha256 if loaded else None,
                            model_source, dataclasses.asdict(info), loaded.dependencies if loaded else {},
                            baseline.preset_config(run.preset))
        | record_settings(baseline, run.preset),
        task={**task_record, "details": ctx.details},
        dataset=dataset_section(run.dataset, images.split_sizes, images.source, data.content_sha256(images),
                                images.preprocessing),
        seed=run.seed,
        metrics=metric_values(run.task, metrics),
        timings=timings_section(loaded.seconds if loaded else 0.0, time.monotonic() - t_task, time.monotonic() - t0),
        train=train_summary(loaded.summaries if loaded else [])
        | ({"flops": training_flops(loaded, data.spec_of(run.dataset))} if loaded and loaded.summaries else {}),
        device=workspace.device_name(run.device),
        suite=None if run.suite is None else dict(run.suite),
        reproduce=reproduce_command(run.model, run.preset, run.task, run.dataset, run.seed, list(run.overrides),
                                    run.compile),
    )
    record.write(run.results_dir)
    return record


def run_task(model: str, task: str, *, dataset: str | None = None, preset: str | None = None, seed: int = 0,
             overrides: list[str] | None = None, device: torch.device, results_dir: Path = Path("results"),
             data_root: str | None = None, progress: bool = True, compile: bool = False,
             suite: dict[str, str] | None = None) -> ResultRecord | None:
    """``execute`` the run these arguments describe (``resolve``); ``suite`` (name, note) is kept in the record so that
    any page built from it carries the suite's banner."""
    return execute(resolve(model, task, dataset=dataset, preset=preset, seed=seed, overrides=overrides, device=device,
                           results_dir=results_dir, data_root=data_root, progress=progress, compile=compile,
                           suite=suite))
