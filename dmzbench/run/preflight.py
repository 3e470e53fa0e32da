"""Checks a run can decide from its arguments alone, made before any data set is loaded or any training is spent.

A usage error must not depend on whether the data is on this machine: asking for AUROC on a set without attributes, or
running a plugin whose ``encode`` breaks its own ``latent_shape``, fails the same way with or without Fashion-MNIST.
The runner calls these after the names, presets and task options are checked and before ``data.load``.
"""

from __future__ import annotations

import torch

from dmzbench import registry
from dmzbench.api import DataSpec, ModelAdapter, dataset_provides, task_declaration
from dmzbench.errors import DmzbenchError, UsageError

# need -> (what the task needs, what the data set lacks), for the one-line error
NEEDS = {"pairs": ("a paired data set", "is not paired"), "attributes": ("a data set with attributes", "has no attributes")}


def task_data_needs(task_cls: type) -> frozenset[str]:
    """What a task needs a data set to provide beyond images and labels: its ``data_needs``, plus ``pairs`` for a
    task trained in paired mode (domain transfer)."""
    needs = set(task_declaration(task_cls, "data_needs"))
    if task_declaration(task_cls, "training_mode") == "paired":
        needs.add("pairs")
    return frozenset(needs)


def check_data_serves(task: str, task_cls: type, dataset: str, source: type | None = None) -> None:
    """Refuse a data set that does not provide what the task needs, from the source's ``provides`` declaration (a
    source without one is checked after loading, by the task's ``validate``); ``source`` is the data set's registered
    class when the caller already resolved the name."""
    provides = dataset_provides(source or registry.get("dataset", dataset))
    if provides is None:
        return
    for need in sorted(task_data_needs(task_cls) - set(provides)):
        wanted, lacks = NEEDS.get(need, (f"a data set with {need}", f"has no {need}"))
        providers = [n for n in registry.names("dataset") if need in (dataset_provides(registry.get("dataset", n)) or ())]
        raise UsageError(f"task {task} needs {wanted} ({', '.join(providers) or 'none registered'}); "
                         f"data set {dataset} {lacks}")


def encode_shape_error(name: str, got: object, n: int, dim: int) -> DmzbenchError:
    return DmzbenchError(f"model {name}'s encode returned {got} for {n} images, expected ({n}, {dim}) from its "
                         "latent_shape; fix the adapter (dmzbench check --model NAME shows all checks)")


def check_encode_shape(adapter: ModelAdapter, module: torch.nn.Module, spec: DataSpec, n: int = 2) -> None:
    """Encode ``n`` blank images with the untrained model and check the features' shape against ``latent_shape``, so a
    broken adapter fails before the data is loaded and the model trained. Leaves the module's mode and the global
    random state as they were (the run's initial weights and training do not change)."""
    dim = int(torch.tensor(adapter.info.latent_shape).prod())
    x = torch.zeros(n, spec.channels, spec.image_size, spec.image_size)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            z = adapter.encode(x)
    finally:
        module.train(was_training)
    if not isinstance(z, torch.Tensor) or tuple(z.shape) != (n, dim):
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise encode_shape_error(adapter.info.name, got, n, dim)
