"""Every metric a task returns, under every protocol it offers, is declared on the task, and a declared metric's
uncertainty is under the key the task really writes (the leaderboard's ± reads ``Metric.uncertainty``)."""

import math
import typing
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from dmzbench import registry
from dmzbench.api import TaskContext
from dmzbench.run.runner import run_task
from tests.conftest import tiny_data

UNCERTAINTY_SUFFIXES = ("_std", "_sem")


def declaration_problems(task, metrics: dict[str, float]) -> list[str]:
    """What is wrong between ``task.metrics`` and one result dict ``metrics`` (empty: nothing)."""
    declared = task.metrics
    # a family's uncertainty names its members' keys through the family's * (fid_T* -> fid_T*_std: fid_T10_std)
    uncertainties = {m.uncertainty_of(k) for m in declared if m.uncertainty for k in metrics if m.matches(k)}
    problems = []
    for key in metrics:
        if key in uncertainties:
            continue
        if not any(m.matches(key) for m in declared):
            problems.append(f"{key!r} is returned but not declared")
        elif any(part in key for part in UNCERTAINTY_SUFFIXES):
            # an uncertainty that only a wildcard (auroc_*) covers is read as a score, and its metric shows no ±
            problems.append(f"{key!r} looks like an uncertainty but no metric declares it")
    for m in declared:
        # a non-finite score (PSNR of identical images) has no uncertainty, and the task leaves it out on purpose
        finite = [k for k in metrics if k not in uncertainties and m.matches(k) and math.isfinite(metrics[k])]
        for k in finite if m.uncertainty else []:
            if m.uncertainty_of(k) not in metrics:
                problems.append(f"{m.name!r} is returned without its declared uncertainty {m.uncertainty!r}")
                break
    return problems


def protocols(task) -> tuple[str | None, ...]:
    """The values of the task config's ``protocol`` option (None: the task has one protocol)."""
    hints = typing.get_type_hints(task.Config)
    if "protocol" not in {f.name for f in fields(task.Config)}:
        return (None,)
    return typing.get_args(hints["protocol"])


def test_the_check_catches_an_undeclared_uncertainty_key():
    auroc = registry.get("task", "auroc")()
    bad = {"auroc_mean": 0.7, "auroc_fold_std": 0.01, "skipped_folds": 0.0, "auroc_a": 0.7}
    assert declaration_problems(auroc, bad) == [
        "'auroc_fold_std' looks like an uncertainty but no metric declares it",
        "'auroc_mean' is returned without its declared uncertainty 'auroc_mean_std'",
    ]
    assert declaration_problems(auroc, {"auroc_mean": 0.7, "auroc_mean_std": 0.01, "surprise": 1.0}) == [
        "'surprise' is returned but not declared"]


# -------------------------------------------------------------------- probe and AUROC on given features, every protocol
def _features_data(n_train=120, n_test=80, dim=6, attributes=3):
    rng = np.random.default_rng(0)
    tx, vx = rng.normal(size=(n_train, dim)), rng.normal(size=(n_test, dim))
    ty, vy = (tx[:, 0] > 0).astype(np.int64), (vx[:, 0] > 0).astype(np.int64)
    ta = np.stack([tx[:, i] > 0 for i in range(attributes)], 1).astype(np.int64)
    va = np.stack([vx[:, i] > 0 for i in range(attributes)], 1).astype(np.int64)
    base = tiny_data(n=n_train + n_test)
    data = base.__class__(base.spec, base.train_images[:n_train], torch.from_numpy(ty), base.test_images[:n_test],
                          torch.from_numpy(vy), "t", train_attributes=torch.from_numpy(ta),
                          test_attributes=torch.from_numpy(va),
                          attribute_names=tuple(f"a{i}" for i in range(attributes)))
    feats = {"train": torch.from_numpy(tx), "test": torch.from_numpy(vx)}
    return data, TaskContext(torch.device("cpu"), 0, Path("."), cached_features=lambda s: feats[s],
                             log=lambda m: None)


FEATURE_TASKS = ("probe", "auroc")


@pytest.mark.parametrize("name, protocol", [(n, p) for n in FEATURE_TASKS
                                            for p in protocols(registry.get("task", n))])
def test_feature_tasks_declare_what_they_return(name, protocol):
    task = registry.get("task", name)()
    data, ctx = _features_data()
    config = task.Config(protocol=protocol, max_images=0 if protocol == "dmz-official" else 10_000)
    metrics = task.run(None, data, config, ctx)
    assert metrics and declaration_problems(task, metrics) == []


# ------------------------------------------------- the tasks that need a model: the untrained DMZ / PDAE, tiny settings
# task -> (model, dataset, overrides) for each protocol; PDAE so that recon's inferred x_T is returned too
MODEL_RUNS = {
    "fid": ("dmz", None, ["n_samples=8", "steps=2", "n_reference=100"]),
    "recon": ("pdae", None, ["n_images=4", "steps=2", "invert_steps=2", "batch_size=4"]),
    "interp": ("dmz", None, ["n_pairs=2", "frames=3", "steps=2"]),
    "transfer": ("dmz", None, ["n_images=4", "steps=2", "bridge_epochs=1", "bridge_train_images=100"]),
}


def test_every_task_is_checked_here():
    assert set(registry.names("task")) == set(FEATURE_TASKS) | set(MODEL_RUNS)


@pytest.mark.fashion_mnist
@pytest.mark.parametrize("name, protocol", [(n, p) for n in MODEL_RUNS for p in protocols(registry.get("task", n))])
def test_model_tasks_declare_what_they_return(name, protocol, tmp_path):
    model, dataset, overrides = MODEL_RUNS[name]
    if protocol is not None:
        overrides = [*overrides, f"protocol={protocol}"]
    if name == "transfer" and protocol != "bridge":
        overrides = [o for o in overrides if not o.startswith("bridge_")]
    rec = run_task(model, name, preset="init", dataset=dataset, device=torch.device("cpu"), results_dir=tmp_path,
                   progress=False, overrides=overrides)
    assert rec.metrics and declaration_problems(registry.get("task", name)(), rec.metrics) == []
