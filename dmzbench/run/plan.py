"""Names become objects in one place: the command line's (or the Python API's) model, task and data-set names and
options are resolved once into a ``RunPlan`` holding the baseline object, the task class, the data-set source and the
typed task config. Everything below it (``dmzbench.run.runner``) takes these objects and never looks a name up again.

A ``ModelSpec`` is what one trained model is keyed on (its checkpoint path and meta); it carries the resolved baseline
and data-set source along, so obtaining the model does not consult the registry either (a dependency such as PDAE's
``ddpm`` is another name, resolved once where it is needed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dmzbench import registry
from dmzbench.api import Baseline, ModelAdapter
from dmzbench.config import apply_overrides
from dmzbench.data import model_default_dataset
from dmzbench.presets import SEPARATOR, with_settings
from dmzbench.presets import resolve as resolve_preset

if TYPE_CHECKING:  # guard.py imports the cost model (torch, the API); a plan only carries its policy
    from dmzbench.run import guard


@dataclass(frozen=True)
class ModelSpec:
    """What one trained model is keyed on (its checkpoint path and meta), and how to obtain it. ``baseline`` and
    ``dataset_source`` are the objects the names resolved to (None: looked up by name, for callers such as tests that
    build a spec by hand); they are not part of the key."""

    model: str
    preset: str
    dataset: str
    seed: int
    device: torch.device
    mode: str = ""  # training mode: "" (plain), "paired" or "source-domain"
    data_root: str | None = None
    progress: bool = True
    compile: bool = False
    baseline: Baseline | None = field(default=None, compare=False, repr=False)
    dataset_source: type | None = field(default=None, compare=False, repr=False)

    def in_mode(self, mode: str) -> ModelSpec:
        return dataclasses.replace(self, mode=mode)


@dataclass(frozen=True)
class InMemoryModel:
    """A model given as an object implementing the adapter protocol (never registered, never cached by name). Its
    record names its class, module and the sha256 of its weights (None when it holds no torch module)."""

    adapter: ModelAdapter
    cls: str
    module: str
    weights_sha256: str | None

    @property
    def preset(self) -> str:
        """The record's preset: the adapter's own, with the weights' hash, so two in-memory models with other weights
        are two rows (and two record files), never one."""
        return f"{self.adapter.info.preset or 'in-memory'}@{(self.weights_sha256 or 'unhashed')[:8]}"

    def section(self) -> dict[str, Any]:
        return {"class": self.cls, "module": self.module, "weights_sha256": self.weights_sha256}


@dataclass(frozen=True)
class RunPlan:
    """One run, resolved: a task on a model, every name turned into its object and the options into the typed config.
    ``in_memory`` is set (and ``baseline`` None) for a model given as an object."""

    model: str
    preset: str
    task: str
    dataset: str
    seed: int
    device: torch.device
    baseline: Baseline | None
    model_source: str
    task_cls: type
    task_source: str
    dataset_source: type
    config: Any  # the task's Config dataclass, overrides applied
    overrides: tuple[str, ...] = ()  # as given (KEY=VALUE), for the record's reproduce command
    results_dir: Path | None = Path("results")  # None: the record is not written (the Python API's default)
    data_root: str | None = None
    progress: bool = True
    compile: bool = False
    suite: tuple[tuple[str, str], ...] | None = None  # the suite's banner (name, note) as pairs, kept in the record
    in_memory: InMemoryModel | None = None
    limits: guard.Policy | None = None  # --max-hours / --yes (dmzbench/run/guard.py); None: $DMZBENCH_MAX_HOURS or 2 h

    def model_spec(self, mode: str = "") -> ModelSpec:
        return ModelSpec(self.model, self.preset, self.dataset, self.seed, self.device, mode, self.data_root,
                         self.progress, self.compile, self.baseline, self.dataset_source)


def model_preset(baseline: Baseline, preset: str | None, settings: list[str] | tuple[str, ...] | None = None) -> str:
    """The canonical preset identifier of ``--preset P -m KEY=VALUE ...`` (``P+KEY=VALUE,...``; dmzbench/presets.py),
    the model's default preset when none is given, checked against the family's typed presets."""
    preset = preset or baseline.default_preset
    if settings or SEPARATOR in preset:  # an identifier given to --preset is made canonical too
        preset = with_settings(baseline, preset, list(settings or ()))
    resolve_preset(baseline, preset)
    return preset


def dataset_and_config(task: registry.Resolved, dataset: str | None,
                       overrides: list[str] | tuple[str, ...] | None) -> tuple[registry.Resolved, Any]:
    """The data set (the task's default when None), looked up once, and the task's typed config."""
    d = registry.resolve("dataset", dataset or task.obj.default_dataset)
    return d, apply_overrides(task.obj.Config, list(overrides or ()))


def resolve(model: str, task: str, *, dataset: str | None = None, preset: str | None = None,
            settings: list[str] | tuple[str, ...] | None = None, seed: int = 0,
            overrides: list[str] | tuple[str, ...] | None = None, device: torch.device,
            results_dir: Path | None = Path("results"), data_root: str | None = None, progress: bool = True,
            compile: bool = False, suite: dict[str, str] | None = None, limits: guard.Policy | None = None) -> RunPlan:
    """The plan of ``dmzbench run`` (or ``dmzbench.evaluate``) arguments: unknown names refused with a did-you-mean
    (case does not count), defaults filled in (the model's preset, the task's data set), options typed."""
    t = registry.resolve("task", task)
    m = registry.resolve("model", model)
    baseline = m.obj()
    preset = model_preset(baseline, preset, settings)
    d, config = dataset_and_config(t, dataset, overrides)
    return RunPlan(m.name, preset, t.name, d.name, seed, device, baseline, m.source, t.obj, t.source, d.obj, config,
                   tuple(overrides or ()), None if results_dir is None else Path(results_dir), data_root, progress,
                   compile, None if suite is None else tuple(suite.items()), limits=limits)


def model_spec(model: str, preset: str | None = None, settings: list[str] | tuple[str, ...] | None = None,
               dataset: str | None = None, seed: int = 0, *, device: torch.device, data_root: str | None = None,
               progress: bool = True, compile: bool = False) -> ModelSpec:
    """The ``ModelSpec`` of ``dmzbench train`` (or ``dmzbench.load``) arguments, each name looked up once: the model's
    default preset and data set when none is given (``Baseline.default_dataset``, else the built-in default)."""
    m = registry.resolve("model", model)
    baseline = m.obj()
    preset = model_preset(baseline, preset, settings)
    d = registry.resolve("dataset", dataset or model_default_dataset(m.obj))
    return ModelSpec(m.name, preset, d.name, seed, device, data_root=data_root, progress=progress, compile=compile,
                     baseline=baseline, dataset_source=d.obj)
