"""Run a suite under a time budget, resumably: what is already recorded is not rerun, what cannot fit is not started.

``dmzbench suite small --budget 360 --results leaderboards/small/results`` walks the suite's run groups in priority
order (``catalog.plan``). For each group it estimates the seconds (``budget.py``: training the model if no finished
checkpoint exists, plus each missing task run), skips the group if the estimate does not fit in what is left, and
otherwise runs its missing runs. A run counts as recorded when a record with the same model, preset, task, data set,
seed and task config exists in the results folder, whatever its file name. The outcome of every group (ran, recorded
earlier, skipped for time, failed, remaining) is returned as rows for a table and a JSON summary.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dmzbench import data, registry, workspace
from dmzbench.api import can, task_declaration, task_needs
from dmzbench.config import apply_overrides
from dmzbench.errors import DmzbenchError, Interrupted, UsageError
from dmzbench.run.records import SCHEMA_VERSION
from dmzbench import budget
from dmzbench.suite.catalog import PlannedRun, RunGroup


def _canonical(config: Any) -> str:
    return json.dumps(config, sort_keys=True, default=list)


def run_key(model: str, preset: str, task: str, dataset: str, seed: int, config: dict[str, Any]) -> tuple:
    # a JSON round trip turns the config's tuples into lists, as they are in a record
    return model, preset, task, dataset, seed, _canonical(json.loads(json.dumps(config, default=list)))


def recorded_runs(results: Path) -> dict[tuple, dict[str, Any]]:
    """Key -> (device, date, commit, file) of every readable record under ``results`` (damaged or foreign files are
    ignored here: the leaderboard reports them)."""
    keys: dict[tuple, dict[str, Any]] = {}
    for path in Path(results).rglob("*.json") if Path(results).exists() else []:
        if "artifacts" in path.parts:
            continue
        try:
            r = json.loads(path.read_text())
            if r.get("schema_version") != SCHEMA_VERSION:
                continue
            key = run_key(r["model"]["name"], r["model"]["preset"], r["task"]["name"], r["dataset"]["name"],
                          r["seed"], r["task"]["config"])
            keys[key] = {"device": r.get("device", "?"), "date": str(r.get("created_at", "?"))[:10],
                         "commit": str((r.get("dmzbench") or {}).get("commit") or "?")[:12],
                         "file": str(path.relative_to(results))}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return keys


def planned_key(run: PlannedRun) -> tuple:
    baseline = registry.get("model", run.model)
    preset = run.preset or baseline.default_preset
    config = dataclasses.asdict(apply_overrides(registry.get("task", run.task).Config, list(run.options)))
    return run_key(run.model, preset, run.task, run.dataset, run.seed, config)


@dataclass
class GroupEstimate:
    group: RunGroup
    missing: list[PlannedRun]
    train_s: float
    task_s: float
    flops_source: str = "counted"

    @property
    def seconds(self) -> float:
        return self.train_s + self.task_s


_FLOPS_CACHE: dict[tuple[str, str, str], tuple[budget.ModelFlops, Any]] = {}


def model_flops(model: str, preset: str, dataset: str) -> tuple[budget.ModelFlops, Any]:
    key = (model, preset, dataset)
    if key not in _FLOPS_CACHE:
        _FLOPS_CACHE[key] = budget.inspect_model_cached(registry.get("model", model)(), preset, data.spec_of(dataset))
    return _FLOPS_CACHE[key]


def _untrained_seconds(model: str, preset: str, dataset: str, seed: int, mode: str, device: budget.DeviceProfile,
                       fresh: bool = False, planned: set[tuple] | None = None) -> float:
    """Training seconds still to spend for this model and its dependencies (0 for a finished checkpoint; ``fresh``:
    as if no checkpoint existed). ``planned``: the models earlier groups of the same plan train (PDAE's frozen ddpm,
    then the ddpm group itself), counted once; the models priced here are added to it."""
    baseline = registry.get("model", model)()
    total = sum(_untrained_seconds(dep, dep_preset, dataset, seed, "", device, fresh, planned)
                for dep, dep_preset in baseline.dependencies(preset).values())
    key = (model, preset, dataset, seed, mode)
    if planned is not None and key in planned:
        return total
    if fresh or not workspace.checkpoint_path(model, preset, dataset, seed, mode).exists():
        total += budget.training_seconds(model_flops(model, preset, dataset)[0], model, device)
        if planned is not None:
            planned.add(key)
    return total


def estimate(group: RunGroup, recorded: dict[tuple, Any], device: budget.DeviceProfile, fresh: bool = False,
             planned: set[tuple] | None = None) -> GroupEstimate:
    """The seconds of a group's runs not in ``recorded`` (``fresh``: as if nothing were trained yet; ``planned``: the
    models earlier groups of this plan train, see ``_untrained_seconds``)."""
    missing = [r for r in group.runs if planned_key(r) not in recorded]
    if not missing:
        return GroupEstimate(group, [], 0.0, 0.0)
    preset = group.preset or registry.get("model", group.model).default_preset
    flops, adapter = model_flops(group.model, preset, group.dataset)
    able = []
    task_s = 0.0
    for run in missing:
        task_cls = registry.get("task", run.task)
        config = apply_overrides(task_cls.Config, list(run.options))
        if not all(can(adapter, cap) for cap in task_needs(task_cls, config)[1]):
            continue  # recorded as skipped in a fraction of a second, no training
        cost_of = task_declaration(task_cls, "cost")  # optional: a plugin task may declare none
        cost = cost_of(config, adapter.info, flops.invert_steps_for) if cost_of else budget.UNDECLARED_TASK_COST
        task_s += budget.task_seconds(cost, flops, group.model, device)
        task_s += sum(_untrained_seconds(group.model, preset, group.dataset, run.seed, mode, device, fresh, planned)
                      for mode in cost.other_modes)
        able.append(run)
    # a snapshot group's checkpoint is written while the preset it is a snapshot of trains (planned just before it)
    train_s = (_untrained_seconds(group.model, preset, group.dataset, group.runs[0].seed, group.mode, device, fresh,
                                  planned) if able and not group.snapshot_of else 0.0)
    return GroupEstimate(group, missing, train_s, task_s + device.group_overhead_s)


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` -> (K, N), 1 <= K <= N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise UsageError(f"--shard must be K/N with 1 <= K <= N (e.g. 1/4), got {text!r}")
    return k, n


def shard(groups: list[RunGroup], k: int, n: int, device: budget.DeviceProfile) -> list[RunGroup]:
    """The K-th of N deterministic shares of ``groups``, balanced by the cost model, in the suite's order.

    Every shard process computes the same partition whatever is already trained or recorded: each group is priced
    in full (training as if no checkpoint existed, every run as if unrecorded), then the groups go, largest first, to
    the share with the least work so far (ties: the lower share, then the suite's order). Every process must use the
    same suite arguments and cost model (``--profile``)."""
    costs = [estimate(g, {}, device, fresh=True).seconds for g in groups]
    loads = [0.0] * n
    share_of = {}
    for i in sorted(range(len(groups)), key=lambda i: (-costs[i], i)):
        j = min(range(n), key=lambda j: (loads[j], j))
        share_of[i] = j
        loads[j] += costs[i]
    return [g for i, g in enumerate(groups) if share_of[i] == k - 1]


@dataclass
class GroupOutcome:
    label: str
    status: str  # ran | recorded earlier | skipped: time | failed | not started
    runs: int
    estimate_s: float
    actual_s: float = 0.0
    detail: str = ""

    def row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run_budgeted(groups: list[RunGroup], results: Path, device_profile: budget.DeviceProfile,
                 budget_s: float | None, run_one: Callable[[PlannedRun], None], log: Callable[[str], None] = print,
                 ) -> list[GroupOutcome]:
    """Run the missing runs of each group that fits in what is left of ``budget_s`` (None: no limit)."""
    t0 = time.monotonic()
    recorded = recorded_runs(results)
    outcomes = []
    for group in groups:
        est = estimate(group, recorded, device_profile)
        if not est.missing:
            outcomes.append(GroupOutcome(group.label, "recorded earlier", len(group.runs), 0.0))
            continue
        left = None if budget_s is None else budget_s - (time.monotonic() - t0)
        if left is not None and est.seconds > left:
            outcomes.append(GroupOutcome(group.label, "skipped: time", len(est.missing), est.seconds,
                                         detail=f"needs ~{est.seconds:.0f} s, {max(left, 0):.0f} s left"))
            continue
        start = time.monotonic()
        log(f"{group.label}: {len(est.missing)} run(s), estimated {est.seconds:.0f} s "
            f"(training {est.train_s:.0f} s)")
        try:
            for run in est.missing:
                run_one(run)
            outcomes.append(GroupOutcome(group.label, "ran", len(est.missing), est.seconds, time.monotonic() - start))
        except Interrupted:  # the user stopped the suite, not this group: nothing further starts
            raise
        except DmzbenchError as exc:  # one broken group must not cost the rest of a GPU lend
            outcomes.append(GroupOutcome(group.label, "failed", len(est.missing), est.seconds,
                                         time.monotonic() - start, str(exc)[:300]))
            log(f"{group.label}: failed: {exc}")
    return outcomes


def plan_rows(groups: list[RunGroup], results: Path, device_profile: budget.DeviceProfile,
              budget_s: float | None = None) -> list[dict[str, Any]]:
    """The plan without running anything: per group, the estimate, the running total, and whether a budget of
    ``budget_s`` reaches it (groups that do not fit are passed over, as the budgeted run does)."""
    recorded = recorded_runs(results)
    rows, total, planned = [], 0.0, set()
    for i, group in enumerate(groups, 1):
        before = set(planned)
        est = estimate(group, recorded, device_profile, planned=planned)
        fits = budget_s is None or total + est.seconds <= budget_s
        if est.missing and fits:
            total += est.seconds
        else:  # a group passed over trains nothing for the groups after it
            planned = before
        status = ("recorded" if not est.missing else "in budget" if budget_s is not None and fits
                  else "over budget" if budget_s is not None else "to run")
        rows.append({"order": i, "group": group.label, "tasks": ",".join(r.task for r in group.runs),
                     "missing": len(est.missing), "train_s": round(est.train_s, 1), "tasks_s": round(est.task_s, 1),
                     "estimate_s": round(est.seconds, 1), "cumulative_s": round(total, 1), "status": status})
    return rows


def remaining(outcomes: list[GroupOutcome]) -> list[str]:
    return [o.label for o in outcomes if o.status not in ("ran", "recorded earlier")]


def status_rows(groups: list[RunGroup], results: Path) -> list[dict[str, Any]]:
    """Every planned run of a suite: where and when its record was made, or "not yet run"."""
    recorded = recorded_runs(results)
    rows = []
    for group in groups:
        for run in group.runs:
            found = recorded.get(planned_key(run))
            rows.append({"model": run.model, "preset": run.preset or "default", "task": run.task,
                         "dataset": run.dataset, "status": "recorded" if found else "not yet run",
                         "device": found["device"] if found else "", "date": found["date"] if found else "",
                         "commit": found["commit"] if found else ""})
    return rows
