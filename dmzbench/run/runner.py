"""The main job, orchestration only: get a model (train it, resume it, or load its checkpoint), run a task on it, write
the record.

The pieces it orchestrates live beside it: checkpoint meta and verified loading in ``dmzbench.run.checkpoints``, the
on-disk feature cache in ``dmzbench.run.features``, the record's sections in ``dmzbench.run.records``, paths and devices in
``dmzbench.workspace``. What one run is (model, preset, task, data set, seed, overrides, device, ...) is one frozen
``RunPlan`` made by ``dmzbench.run.plan.resolve`` (the one place names become objects); what one trained model is keyed on
is one frozen ``ModelSpec``. Nothing here looks a model, task or data-set name up again, except a model's dependencies
(other names, e.g. PDAE's ``ddpm``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from dmzbench import data, distributed, registry, workspace
from dmzbench.api import (SOURCE_DOMAIN, Baseline, DataSpec, ImageData, ModelAdapter, TaskContext, can,
                          task_declaration, task_needs, validate_task)
from dmzbench.atomic import sha256_file, save_checkpoint
from dmzbench.errors import DmzbenchError, UsageError
from dmzbench.presets import parse_preset, record_settings
from dmzbench.presets import resolve as resolve_preset
from dmzbench.progress import phase
from dmzbench.run import guard, locks, preflight, validate
from dmzbench.run.checkpoints import checkpoint_meta, has_checkpoint, load_checkpoint
from dmzbench.run.features import encode_all, feature_cache, no_features
from dmzbench.run.outputs import checked
from dmzbench.run.plan import ModelSpec, RunPlan, resolve
from dmzbench.run.records import (ResultRecord, config_key, dataset_section, metric_values, model_section, read_record,
                              reproduce_command, run_stem, task_section, timings_section)
from dmzbench.snapshots import SnapshotTarget, snapshots_of
from dmzbench.budget import inspect_model_cached
from dmzbench.train import CHECKPOINT_FORMAT, StageSummary, Trainer, train_summary

console = Console(stderr=True)
IN_MEMORY_SOURCE = "in-memory"  # a record's model.source when the model was an object, not a registered name

__all__ = ["LoadedModel", "ModelSpec", "RunPlan", "build_seeded", "check_preset", "execute", "get_baseline",
           "obtain", "obtain_model", "resolve", "run_task", "task_needs"]


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
           untrained: nn.Module | None = None, train: bool = True) -> LoadedModel:
    """The model ``key`` names: loaded from its checkpoint when finished, resumed when a run was interrupted, trained
    (or, for presets without stages such as ``init``, just initialised) otherwise.
    ``mode="paired"`` trains the encoder on a paired data set's source images (domain transfer), keyed separately;
    ``mode="source-domain"`` trains a plain model (and its dependencies) on those source images alone;
    ``compile`` trains with torch.compile; ``untrained`` is a module ``build_seeded`` already made for this key
    (``execute`` builds one to read capabilities), used instead of building a second. ``train=False`` (the Python
    API's ``load``) refuses, in one line naming the ``dmzbench train`` command, to train or resume."""
    t0 = time.monotonic()
    name, preset, dataset, seed, mode = key.model, key.preset, key.dataset, key.seed, key.mode
    baseline = key.baseline if key.baseline is not None else get_baseline(name)
    check_preset(baseline, preset)
    given_data = loaded_data
    if mode == SOURCE_DOMAIN:  # a plain model of the paired set's source images (the bridge protocol's first model)
        loaded_data = (loaded_data or data.load(dataset, key.data_root, key.dataset_source)).source_domain()
    spec = loaded_data.spec if mode == SOURCE_DOMAIN else (
        key.dataset_source.spec if key.dataset_source is not None else data.spec_of(dataset))
    path = workspace.checkpoint_path(name, preset, dataset, seed, mode)
    meta = checkpoint_meta(baseline, preset, spec, seed) | {"mode": mode}
    deps = {
        role: obtain(dataclasses.replace(key, model=dep, preset=dep_preset, baseline=None,
                                         mode=mode if mode == SOURCE_DOMAIN else ""), loaded_data=given_data,
                     train=train)
        for role, (dep, dep_preset) in baseline.dependencies(preset).items()
    }
    meta["dependencies"] = {r: {"model": d.name, "preset": d.preset, "checkpoint_sha256": d.checkpoint_sha256}
                            for r, d in deps.items()}

    module = untrained if untrained is not None else build_seeded(baseline, preset, spec, seed)
    # One trainer per model across processes sharing DMZBENCH_HOME (dmzbench/run/locks.py): a second one waits, then
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
                if not train:
                    raise DmzbenchError(f"{name}/{preset} on {dataset} (seed {seed}) is not trained here "
                                        f"({'interrupted' if state else 'no checkpoint'} at {path}); train it with "
                                        f"'{train_command(key)}' or pass train=True")
                if state is not None:
                    at = stages[min(state["stage_index"], len(stages) - 1)].name
                    console.print(f"resuming {name}/{preset} on {dataset} (seed {seed}) from step {state['step']} of "
                                  f"stage '{at}' ({path})")
                images = loaded_data or data.load(dataset, key.data_root, key.dataset_source)
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


def train_command(key: ModelSpec) -> str:
    """The command that trains (or resumes) the model ``key`` names."""
    return shlex.join(["dmzbench", "train", "--model", key.model, "--preset", key.preset, "--dataset", key.dataset,
                       "--seed", str(key.seed)])


def obtain_model(name: str, preset: str, dataset: str, seed: int, device: torch.device, *,
                 data_root: str | None = None, loaded_data: ImageData | None = None, progress: bool = True,
                 stop_after_train_steps: int | None = None, mode: str = "", compile: bool = False,
                 untrained: nn.Module | None = None) -> LoadedModel:
    """``obtain`` with the model's key given as arguments (``dmzbench train``, tests)."""
    key = ModelSpec(name, preset, dataset, seed, device, mode, data_root, progress, compile)
    return obtain(key, loaded_data=loaded_data, stop_after_train_steps=stop_after_train_steps, untrained=untrained)


def execute(run: RunPlan) -> ResultRecord | None:
    """Run one task on one model and write its record (unless ``run.results_dir`` is None); None on non-zero ranks of
    a torchrun launch."""
    t0 = time.monotonic()
    task_cls, config = run.task_cls, run.config
    validate.seed(run.seed)
    if run.results_dir is not None:
        validate.writable_dir(run.results_dir, "--results")  # before the task runs, not after
    # Everything decidable from the arguments is checked before the data set is loaded (a usage error must not depend
    # on whether the data is on this machine): what the data set provides, preset vs image size (raised by build),
    # capabilities, the adapter's feature shape.
    preflight.check_data_serves(run.task, task_cls, run.dataset, run.dataset_source)
    mode, requires = task_needs(task_cls, config)
    spec = run.dataset_source.spec
    if run.in_memory is None:
        # Work that cannot finish here is refused before anything is built on the device or loaded (guard.py).
        guard.check(run.model, run.preset, run.dataset, run.seed, mode, run.device, run.limits or guard.policy(),
                    (run.task, task_cls, config, requires), family=type(run.baseline))
        # Capabilities come from the architecture, not the weights: a task the model cannot do is recorded as skipped
        # (never faked) before any training is spent on it.
        untrained = build_seeded(run.baseline, run.preset, spec, run.seed)
        untrained_adapter = checked(run.baseline.adapter(untrained, run.preset, spec), run.model)
    else:
        _check_in_memory(run, mode, spec)
        untrained, untrained_adapter = None, checked(run.in_memory.adapter, run.model)
    info = untrained_adapter.info
    missing = [cap for cap in sorted(requires) if not can(untrained_adapter, cap)]
    if not missing and "encode" in requires and untrained is not None:
        preflight.check_encode_shape(untrained_adapter, untrained, spec)

    with phase(console, f"loading {run.dataset}", run.progress):
        images = data.load(run.dataset, run.data_root, run.dataset_source)
    validate_task(task_cls, images, config)  # data/config checks that must fail before any training
    if mode == "paired" and not images.paired:  # a plugin data set that does not declare what it provides
        raise UsageError(f"task {run.task} needs a paired data set; {run.dataset} is not paired")
    loaded = None
    if not missing and run.in_memory is None:
        loaded = obtain(run.model_spec(mode), loaded_data=images, untrained=untrained)

    if not distributed.is_main():  # under torchrun the other ranks only helped train
        return None

    task_record = task_section(run.task, task_cls.version, dataclasses.asdict(config), mode, run.task_source)
    out_dir = (run.results_dir or workspace.home() / "api-artifacts") / run.task / "artifacts" / run_stem(
        run.model, run.preset, run.dataset, run.seed, config_key(task_record))
    adapter = loaded.adapter if loaded is not None else (None if missing else untrained_adapter)
    if loaded is not None:
        features = feature_cache(loaded.adapter, loaded.checkpoint_sha256, images, run.device,
                                 log=lambda msg: console.print(msg, highlight=False, soft_wrap=True))
    elif adapter is not None:  # an in-memory model: never cached under a name (its weights may change any time)
        features = features_once(adapter, images, run.device)
    else:
        features = no_features
    ctx = TaskContext(device=run.device, seed=run.seed, output_dir=out_dir,
                      cached_features=_announced(features, f"encoding {run.dataset} with {run.model}", run.progress),
                      log=lambda msg: console.print(msg))

    def model_in_mode(other_mode: str) -> ModelAdapter:
        if run.in_memory is not None:
            raise UsageError(f"task {run.task} with these options needs the model trained in mode '{other_mode}', "
                             "which an in-memory model cannot be; evaluate a registered model (a name) instead")
        other = obtain(run.model_spec(other_mode), loaded_data=images)
        ctx.details.setdefault("models", {})[other_mode] = {"checkpoint_sha256": other.checkpoint_sha256,
                                                            "dependencies": other.dependencies,
                                                            "train": train_summary(other.summaries)}
        return other.adapter

    ctx.model_in_mode = model_in_mode
    t_task = time.monotonic()
    if adapter is None:  # the leaderboard shows the reason in the empty cell
        metrics, ctx.details["skipped"] = {}, f"{run.model} cannot {' or '.join(missing)}"
        console.print(f"skipped: {ctx.details['skipped']}")
    else:
        with phase(console, f"{run.task} on {run.model}/{run.preset} ({run.dataset})", run.progress):
            metrics = task_cls().run(adapter, images, config, ctx)
    record = ResultRecord(
        model=_model_section(run, info, loaded),
        task={**task_record, "details": ctx.details},
        dataset=dataset_section(run.dataset, images.split_sizes, images.source, data.content_sha256(images),
                                images.preprocessing),
        seed=run.seed,
        metrics=metric_values(run.task, metrics),
        timings=timings_section(loaded.seconds if loaded else 0.0, time.monotonic() - t_task, time.monotonic() - t0),
        train=train_summary(loaded.summaries if loaded else [])
        | ({"flops": training_flops(loaded, spec)} if loaded and loaded.summaries else {}),
        device=workspace.device_name(run.device),
        suite=None if run.suite is None else dict(run.suite),
        # an in-memory model exists only in its session: no command could make its record again
        reproduce="" if run.in_memory is not None else reproduce_command(
            run.model, run.preset, run.task, run.dataset, run.seed, list(run.overrides), run.compile),
    )
    if run.results_dir is not None:
        record.write(run.results_dir)
    return record


CONTROL_PRESET = "init"  # every trained built-in family's untrained control (the seeded initialisation)


def control_record(run: RunPlan, record: ResultRecord) -> dict[str, Any] | None:
    """The record of the model's untrained ``init`` control on the same task config and seed: read from the results
    folder when there, else made now (and written, so the next run reads it). None when the run is a control itself,
    the family has no ``init``, the model is in memory, or the task does not declare ``control``."""
    if (run.in_memory is not None or run.baseline is None or not task_declaration(run.task_cls, "control")
            or parse_preset(run.preset)[0] == CONTROL_PRESET or CONTROL_PRESET not in run.baseline.presets):
        return None
    if run.results_dir is not None:
        path = run.results_dir / record.task["name"] / (
            run_stem(run.model, CONTROL_PRESET, run.dataset, run.seed, config_key(record.task)) + ".json")
        if path.is_file():
            return read_record(path)
    made = execute(dataclasses.replace(run, preset=CONTROL_PRESET))
    return None if made is None else made.to_dict()


def _model_section(run: RunPlan, info: Any, loaded: LoadedModel | None) -> dict[str, Any]:
    if run.in_memory is not None:
        return model_section(run.model, info.family, run.preset, None, IN_MEMORY_SOURCE, dataclasses.asdict(info), {},
                             {}) | {"in_memory": run.in_memory.section()}
    return model_section(run.model, run.baseline.family, run.preset, loaded.checkpoint_sha256 if loaded else None,
                         run.model_source, dataclasses.asdict(info), loaded.dependencies if loaded else {},
                         run.baseline.preset_config(run.preset)) | record_settings(run.baseline, run.preset)


def _check_in_memory(run: RunPlan, mode: str, spec: DataSpec) -> None:
    """An in-memory model is scored as it is: it cannot be retrained in another mode, and it must take the data set's
    images."""
    info = run.in_memory.adapter.info
    if mode:
        raise UsageError(f"task {run.task} needs the model trained in mode '{mode}', which an in-memory model cannot "
                         "be; evaluate a registered model (a name) instead")
    if (info.channels, info.image_size) != (spec.channels, spec.image_size):
        raise UsageError(f"in-memory model {info.name} takes {info.channels}x{info.image_size}x{info.image_size} images "
                         f"(its info), data set {run.dataset} has {spec.channels}x{spec.image_size}x{spec.image_size}; "
                         "pick a data set of its shape or fix its ModelInfo")


def _announced(features: Callable[[str], torch.Tensor], label: str, enabled: bool) -> Callable[[str], torch.Tensor]:
    """``features`` with a spinner (or, piped, a line) while a split is encoded (cached splits return at once)."""

    def get(split: str) -> torch.Tensor:
        with phase(console, f"{label} ({split} split)", enabled):
            return features(split)

    return get


def features_once(adapter: ModelAdapter, images: ImageData, device: torch.device):
    """split -> features of an in-memory model, encoded once per split in this run and kept in memory only."""
    done: dict[str, torch.Tensor] = {}

    def get(split: str) -> torch.Tensor:
        if split not in done:
            done[split] = encode_all(adapter, images.split(split)[0], device)
        return done[split]

    return get


def run_task(model: str, task: str, *, dataset: str | None = None, preset: str | None = None, seed: int = 0,
             overrides: list[str] | None = None, device: torch.device, results_dir: Path | None = Path("results"),
             data_root: str | None = None, progress: bool = True, compile: bool = False,
             suite: dict[str, str] | None = None) -> ResultRecord | None:
    """``execute`` the run these arguments describe (``resolve``); ``suite`` (name, note) is kept in the record so that
    any page built from it carries the suite's banner."""
    return execute(resolve(model, task, dataset=dataset, preset=preset, seed=seed, overrides=overrides, device=device,
                           results_dir=results_dir, data_root=data_root, progress=progress, compile=compile,
                           suite=suite))
