"""The main job: get a model (train it, resume it, or load its checkpoint), run a task on it, write the record."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from dmzbench import data, preflight, registry, runs
from dmzbench.api import SOURCE_DOMAIN, Baseline, DataSpec, ImageData, ModelAdapter, TaskContext, can, to_model_range
from dmzbench.atomic import (CorruptCheckpoint, damaged, load_checkpoint_file, previous, save_checkpoint, sha256_file,
                             torch_save, write_bytes)
from dmzbench.config import apply_overrides
from dmzbench.presets import record_settings
from dmzbench.errors import DmzbenchError, UsageError, did_you_mean
from dmzbench.records import (ResultRecord, config_key, distribution_version, reproduce_command,
                              run_stem)
from dmzbench.train import CHECKPOINT_FORMAT, StageSummary, Trainer, train_summary

console = Console(stderr=True)


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
    from dmzbench.presets import resolve

    resolve(baseline, preset)


def checkpoint_meta(baseline: Baseline, preset: str, spec: DataSpec, seed: int) -> dict[str, Any]:
    """What a checkpoint was made for; a checkpoint whose meta differs is refused rather than silently reused."""
    return {
        "model": baseline.name,
        "family": baseline.family,
        "preset": preset,
        "config": baseline.preset_config(preset),
        "data": dataclasses.asdict(spec),
        "seed": seed,
    }


def _differences(saved: Any, wanted: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        keys = sorted(set(saved) | set(wanted))
        return [d for k in keys for d in _differences(saved.get(k), wanted.get(k), f"{prefix}{k}.")]
    if saved != wanted and not (isinstance(saved, (list, tuple)) and list(saved) == list(wanted or [])):
        return [f"{prefix[:-1]} ({saved!r} in the checkpoint, {wanted!r} asked for)"]
    return []


def _read(path: Path) -> dict[str, Any]:
    try:
        state = load_checkpoint_file(path)
    except CorruptCheckpoint as exc:
        raise DmzbenchError(f"checkpoint {path} is damaged: {exc}; delete it to retrain") from None
    except Exception as exc:  # pickle garbage, permissions
        raise DmzbenchError(f"checkpoint {path} cannot be read ({type(exc).__name__}); delete it to retrain") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DmzbenchError(f"{path} is not a dmzbench checkpoint ({CHECKPOINT_FORMAT}); delete it to retrain")
    return state


def load_checkpoint(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Read and verify a checkpoint; a damaged one falls back to the previous good one (``<name>.prev``) when it
    exists; one made for another model, preset config, data set, seed or mode is refused, naming the fields."""
    try:
        state = _read(path)
    except DmzbenchError as problem:
        prev = previous(path)
        if not prev.exists():
            raise
        state = _read(prev)
        restore_previous(path)
        console.print(f"warning: {problem}; set it aside as {damaged(path).name} and restored the previous good "
                      f"checkpoint (stage {state['stage_index']}, step {state['step']}) from {prev.name}")
    differ = _differences(state["meta"], meta)
    if differ:
        raise DmzbenchError(f"checkpoint {path} was made for another configuration: {'; '.join(differ)}; delete it "
                            "to retrain, or ask for what it was made for")
    return state


def restore_previous(path: Path) -> None:
    """Put the intact ``.prev`` back at ``path`` (the damaged file becomes ``.damaged``): the record and the feature
    cache are then keyed on the bytes actually loaded, and the next save rotates a good file, not the damaged one, into
    ``.prev``."""
    if path.exists():
        os.replace(path, damaged(path))
    write_bytes(path, previous(path).read_bytes())


def build_seeded(baseline: Baseline, preset: str, spec: DataSpec, seed: int) -> nn.Module:
    """The untrained model: its initial weights depend only on the seed (training reseeds every step)."""
    torch.manual_seed(seed)
    return baseline.build(preset, spec)


def obtain_model(
    name: str,
    preset: str,
    dataset: str,
    seed: int,
    device: torch.device,
    *,
    data_root: str | None = None,
    loaded_data: ImageData | None = None,
    progress: bool = True,
    stop_after_steps: int | None = None,
    mode: str = "",
    compile: bool = False,
    untrained: nn.Module | None = None,
) -> LoadedModel:
    """The model for (name, preset, dataset, seed, mode): loaded from its checkpoint when finished, resumed when a run
    was interrupted, trained (or, for presets without stages such as ``init``, just initialised) otherwise.
    ``mode="paired"`` trains the encoder on a paired data set's source images (domain transfer), keyed separately;
    ``mode="source-domain"`` trains a plain model (and its dependencies) on those source images alone;
    ``compile`` trains with torch.compile; ``untrained`` is a module ``build_seeded`` already made for these arguments
    (run_task builds one to read capabilities), used instead of building a second."""
    t0 = time.monotonic()
    baseline = get_baseline(name)
    check_preset(baseline, preset)
    given_data = loaded_data
    if mode == SOURCE_DOMAIN:  # a plain model of the paired set's source images (the bridge protocol's first model)
        loaded_data = (loaded_data or data.load(dataset, data_root)).source_domain()
    spec = loaded_data.spec if mode == SOURCE_DOMAIN else data.spec_of(dataset)
    path = runs.checkpoint_path(name, preset, dataset, seed, mode)
    meta = checkpoint_meta(baseline, preset, spec, seed) | {"mode": mode}
    deps = {
        role: obtain_model(dep, dep_preset, dataset, seed, device, data_root=data_root, loaded_data=given_data,
                           progress=progress, compile=compile, mode=mode if mode == SOURCE_DOMAIN else "")
        for role, (dep, dep_preset) in baseline.dependencies(preset).items()
    }
    meta["dependencies"] = {r: {"model": d.name, "preset": d.preset, "checkpoint_sha256": d.checkpoint_sha256}
                            for r, d in deps.items()}

    module = untrained if untrained is not None else build_seeded(baseline, preset, spec, seed)
    state = load_checkpoint(path, meta) if path.exists() or previous(path).exists() else None
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
                console.print(f"resuming {name}/{preset} on {dataset} (seed {seed}) from step {state['step']} of stage "
                              f"'{at}' ({path})")
            images = loaded_data or data.load(dataset, data_root)
            trainer = Trainer(device, progress=progress, console=console, compile=compile)
            summaries, finished = trainer.fit(
                module, stages, images, path, meta, seed, resume_state=state, stop_after_steps=stop_after_steps,
                paired=mode == "paired",
            )
            if not finished:
                raise DmzbenchError(f"training of {name}/{preset} stopped early; run the same command to resume")
    module.to(device).eval()
    return LoadedModel(
        name, preset, baseline, module, baseline.adapter(module, preset, spec), path, sha256_file(path), summaries,
        time.monotonic() - t0, meta["dependencies"],
    )


def _no_features(split: str) -> torch.Tensor:
    raise DmzbenchError("a skipped task has no model to take features from")


@torch.no_grad()
def encode_all(adapter: ModelAdapter, images: torch.Tensor, device: torch.device, batch_size: int = 500) -> torch.Tensor:
    dim = int(torch.tensor(adapter.info.latent_shape).prod())
    chunks = []
    for i in range(0, len(images), batch_size):
        z = adapter.encode(to_model_range(images[i : i + batch_size]).to(device))
        n = len(images[i : i + batch_size])
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (n, dim):
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise preflight.encode_shape_error(adapter.info.name, got, n, dim)
        chunks.append(z.float().cpu())
    return torch.cat(chunks)


def feature_cache(loaded: LoadedModel, images: ImageData, device: torch.device):
    """split -> (N, D) features, computed once per (checkpoint content, data set, split) and kept on disk."""
    from dmzbench.atomic import sha256_json

    def get(split: str) -> torch.Tensor:
        key = sha256_json({"checkpoint": loaded.checkpoint_sha256, "data": images.spec.name, "split": split,
                           "n": images.split_sizes[split], "encode": "v1"})[:32]
        path = runs.features_path(key)
        if path.exists():
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # a damaged cache entry is recomputed, not trusted
                path.unlink(missing_ok=True)
        feats = encode_all(loaded.adapter, images.split(split)[0], device)
        torch_save(path, feats)
        return feats

    return get


def task_needs(task_cls: Any, config: Any) -> tuple[str, frozenset[str]]:
    """The training mode and adapter capabilities a task needs for ``config`` (transfer's depend on its protocol)."""
    if hasattr(task_cls, "needs"):
        return task_cls.needs(config)
    return getattr(task_cls, "training_mode", ""), frozenset(task_cls.requires)


def run_task(
    model: str,
    task: str,
    *,
    dataset: str | None = None,
    preset: str | None = None,
    seed: int = 0,
    overrides: list[str] | None = None,
    device: torch.device,
    results_dir: Path = Path("results"),
    data_root: str | None = None,
    progress: bool = True,
    compile: bool = False,
    suite: dict[str, str] | None = None,
) -> ResultRecord | None:
    """Run one task on one model and write its record; None on non-zero ranks of a torchrun launch. ``suite`` (name,
    note) is kept in the record so that any page built from it carries the suite's banner."""
    t0 = time.monotonic()
    task_cls = registry.get("task", task)
    baseline = get_baseline(model)
    preset = preset or baseline.default_preset
    check_preset(baseline, preset)
    dataset = dataset or task_cls.default_dataset
    if dataset not in registry.names("dataset"):
        raise did_you_mean("dataset", dataset, registry.names("dataset"))
    from dmzbench import validate

    validate.seed(seed)
    validate.writable_dir(results_dir, "--results")  # before the task runs, not after
    config = apply_overrides(task_cls.Config, overrides or [])
    # Everything decidable from the arguments is checked before the data set is loaded (a usage error must not depend
    # on whether the data is on this machine): what the data set provides, preset vs image size (raised by build),
    # capabilities, the adapter's feature shape.
    preflight.check_data_serves(task, task_cls, dataset)
    mode, requires = task_needs(task_cls, config)
    # Capabilities come from the architecture, not the weights: a task the model cannot do is recorded as skipped
    # (never faked) before any training is spent on it.
    spec = data.spec_of(dataset)
    untrained = build_seeded(baseline, preset, spec, seed)
    untrained_adapter = baseline.adapter(untrained, preset, spec)
    info = untrained_adapter.info
    missing = [cap for cap in sorted(requires) if not can(untrained_adapter, cap)]
    if not missing and "encode" in requires:
        preflight.check_encode_shape(untrained_adapter, untrained, spec)

    images = data.load(dataset, data_root)
    if hasattr(task_cls, "validate"):  # data/config checks that must fail before any training
        task_cls.validate(images, config)
    if mode == "paired" and not images.paired:  # a plugin data set that does not declare what it provides
        raise UsageError(f"task {task} needs a paired data set; {dataset} is not paired")
    loaded = None
    if not missing:
        loaded = obtain_model(model, preset, dataset, seed, device, loaded_data=images, progress=progress, mode=mode,
                              compile=compile, untrained=untrained)
    from dmzbench import distributed

    if not distributed.is_main():  # under torchrun the other ranks only helped train
        return None

    task_record = {"name": task, "version": task_cls.version, "config": dataclasses.asdict(config), "mode": mode,
                   "source": registry.source("task", task)}
    out_dir = Path(results_dir) / task / "artifacts" / run_stem(model, preset, dataset, seed, config_key(task_record))
    ctx = TaskContext(device=device, seed=seed, output_dir=out_dir,
                      cached_features=feature_cache(loaded, images, device) if loaded else _no_features,
                      log=lambda msg: console.print(msg))

    def model_in_mode(other_mode: str) -> ModelAdapter:
        other = obtain_model(model, preset, dataset, seed, device, loaded_data=images, progress=progress,
                             mode=other_mode, compile=compile)
        ctx.details.setdefault("models", {})[other_mode] = {"checkpoint_sha256": other.checkpoint_sha256,
                                                            "dependencies": other.dependencies,
                                                            "train": train_summary(other.summaries)}
        return other.adapter

    ctx.model_in_mode = model_in_mode
    t_task = time.monotonic()
    if loaded is None:  # the leaderboard shows the reason in the empty cell
        metrics, ctx.details["skipped"] = {}, f"{model} cannot {' or '.join(missing)}"
        console.print(f"skipped: {ctx.details['skipped']}")
    else:
        metrics = task_cls().run(loaded.adapter, images, config, ctx)
    record = ResultRecord(
        model={"name": model, "family": baseline.family, "preset": preset,
               "checkpoint_sha256": loaded.checkpoint_sha256 if loaded else None,
               "source": registry.source("model", model),
               "source_version": distribution_version(registry.source("model", model)), "info": dataclasses.asdict(info),
               "dependencies": loaded.dependencies if loaded else {}, "config": baseline.preset_config(preset)}
        | record_settings(baseline, preset),
        task={**task_record, "details": ctx.details},
        dataset={"name": dataset, "splits": images.split_sizes, "source": images.source,
                 "content_sha256": data.content_sha256(images), "preprocessing": images.preprocessing},
        seed=seed,
        metrics={k: float(v) for k, v in metrics.items()},
        timings={"model_s": round(loaded.seconds, 3) if loaded else 0.0, "task_s": round(time.monotonic() - t_task, 3),
                 "total_s": round(time.monotonic() - t0, 3)},
        train=train_summary(loaded.summaries if loaded else []),
        device=runs.device_name(device),
        suite=suite,
        reproduce=reproduce_command(model, preset, task, dataset, seed, overrides or [], compile),
    )
    record.write(results_dir)
    return record



