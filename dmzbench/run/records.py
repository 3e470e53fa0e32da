"""The result record: one JSON file per (model, preset, dataset, task, seed), with everything needed to trust it."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dmzbench import __version__, registry
from dmzbench.atomic import sha256_file, sha256_json, write_json
from dmzbench.errors import DmzbenchError

SCHEMA_VERSION = 1
LIBRARIES = ("torch", "torchvision", "diffusers", "torch-fidelity", "scikit-learn", "numpy")
# Config fields that change how fast a task runs, not what it measures: left out of the comparability key.
SPEED_ONLY_FIELDS = frozenset({"batch_size"})


@dataclass(frozen=True)
class ResultRecord:
    model: dict[str, Any]  # name, family, preset, checkpoint_sha256, source
    task: dict[str, Any]  # name, version, config
    dataset: dict[str, Any]  # name, splits, source
    seed: int
    metrics: dict[str, float]
    timings: dict[str, float]
    train: dict[str, Any]  # steps, images, seconds, loss_start, loss_end, stages
    device: str
    libraries: dict[str, str] = field(default_factory=lambda: library_versions())
    dmzbench: dict[str, str | None] = field(default_factory=lambda: {"version": __version__, "commit": git_commit()})
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    schema_version: int = SCHEMA_VERSION
    # Added later (records without them still load): the suite that ran it (name, note), the machine's software and
    # hardware, and the command that reproduces the record.
    suite: dict[str, str] | None = None
    environment: dict[str, Any] = field(default_factory=lambda: environment())
    reproduce: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"schema_version": d.pop("schema_version"), **d}

    def filename(self) -> str:
        m = self.model
        stem = run_stem(m["name"], m["preset"], self.dataset["name"], self.seed, config_key(self.task))
        return f"{self.task['name']}/{stem}.json"

    def write(self, results_dir: Path) -> Path:
        """Write the record atomically. When it cannot be written (a full disk, a folder made read-only during the
        task), the computed result is not thrown away: it goes to stdout as JSON, and the error says so."""
        path = Path(results_dir) / self.filename()
        try:
            return write_json(path, self.to_dict())
        except DmzbenchError as exc:
            print(json.dumps(self.to_dict(), indent=2), flush=True)
            raise DmzbenchError(f"{exc} -- the record is printed on stdout instead; save it as {path}") from None

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (atomically): to ``path`` if it names a .json file, else into the results folder
        ``path`` under its usual name (``<task>/<model>-<preset>-...json``, where ``dmzbench.records`` finds it)."""
        path = Path(path)
        return write_json(path, self.to_dict()) if path.suffix == ".json" else self.write(path)


def task_section(name: str, version: str, config: dict[str, Any], mode: str, source: str) -> dict[str, Any]:
    """A record's ``task`` before the task ran (its ``details`` are added after): what the comparability key reads.
    ``source`` is the distribution that registered the task (its version is recorded) or the ``--import`` file (its
    sha256 is recorded), so a plugin task's number names the code that made it."""
    return {"name": name, "version": version, "config": config, "mode": mode, **source_provenance(source)}


def source_provenance(source: str) -> dict[str, Any]:
    """``source`` with the installed version of that distribution, or, for a local ``--import`` file, its sha256."""
    out: dict[str, Any] = {"source": source, "source_version": distribution_version(source)}
    if Path(source).is_file():
        out["source_sha256"] = sha256_file(source)
    return out


def model_section(name: str, family: str, preset: str, checkpoint_sha256: str | None, source: str,
                  info: dict[str, Any], dependencies: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "family": family, "preset": preset, "checkpoint_sha256": checkpoint_sha256,
            **source_provenance(source), "info": info, "dependencies": dependencies, "config": config}


def dataset_section(name: str, splits: dict[str, int], source: str, content_sha256: str,
                    preprocessing: str) -> dict[str, Any]:
    return {"name": name, "splits": splits, "source": source, "content_sha256": content_sha256,
            "preprocessing": preprocessing}


def timings_section(model_s: float, task_s: float, total_s: float) -> dict[str, float]:
    return {"model_s": round(model_s, 3), "task_s": round(task_s, 3), "total_s": round(total_s, 3)}


def metric_values(task: str, metrics: Any) -> dict[str, float]:
    """A task's result dict as the record's floats; a value that is not a number (None, a string, a tensor of many
    values) is the task's bug, named in one line rather than a traceback or a record no leaderboard can read. NaN and
    inf stay (a metric can be undefined); the leaderboard never ranks or plots them."""
    if not isinstance(metrics, dict):
        raise DmzbenchError(f"task {task} returned {type(metrics).__name__}, not a dict of metric name -> number; fix "
                            "the task's run()")
    out = {}
    for key, value in metrics.items():
        try:
            if isinstance(value, (str, bytes, bool)) or value is None:
                raise TypeError
            out[str(key)] = float(value)
        except (TypeError, ValueError, RuntimeError):
            raise DmzbenchError(f"task {task} returned metric {key} = {value!r:.60}, not a number; fix the task's "
                                "run()") from None
    return out


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:  # binary garbage is not UTF-8
        raise DmzbenchError(f"{path} is not a readable result record ({exc}); delete it or re-run its task") from None
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        raise DmzbenchError(f"{path} is not a dmzbench result record of schema {SCHEMA_VERSION}; delete it or re-run")
    return record


def config_key(task: dict[str, Any]) -> str:
    """8 hex digits of a record's task version and config (speed-only fields left out). Records whose keys differ
    measured different things (another N, protocol, step count or feature space) and are never ranked together; the
    key is in the file name, so a rerun with other options sits beside the earlier record."""
    config = {k: v for k, v in (task.get("config") or {}).items() if k not in SPEED_ONLY_FIELDS}
    return sha256_json({"version": str(task.get("version")), "config": config})[:8]


def run_stem(model: str, preset: str, dataset: str, seed: int, key: str) -> str:
    return f"{model}-{preset}-{dataset}-seed{seed}-{key}"


def reproduce_command(model: str, preset: str, task: str, dataset: str, seed: int, overrides: list[str],
                      compile: bool = False) -> str:
    """The one command that makes this record again (in a dmzbench checkout at the recorded commit); a model, task or
    data set registered from a local file is imported again with ``--import FILE``."""
    files = [registry.imported_file(kind, name) for kind, name in (("model", model), ("task", task),
                                                                    ("dataset", dataset))]
    imports = [a for f in dict.fromkeys(f for f in files if f) for a in ("--import", f)]
    args = ["dmzbench", *imports, "run", "--model", model, "--preset", preset, "--task", task, "--dataset", dataset,
            "--seed", str(seed)] + [a for o in overrides for a in ("-o", o)] + (["--compile"] if compile else [])
    return shlex.join(args)


def environment() -> dict[str, Any]:
    """Python, OS, CPU and, when present, CUDA and GPU: what a number may depend on besides the code."""
    import torch  # here, not at the top: reading records (the leaderboard, ``dmzbench ls``) must not pay for torch

    env: dict[str, Any] = {"python": sys.version.split()[0], "os": platform.platform(), "cpu": platform.machine(),
                           "torch_threads": torch.get_num_threads(), "cuda_build": torch.version.cuda, "gpu": None}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def distribution_version(source: str) -> str | None:
    """The installed version of the distribution that registered a model or task (None for a local --import file)."""
    try:
        return version(source)
    except (PackageNotFoundError, ValueError):
        return None


def library_versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


def git_commit() -> str | None:
    """The commit of the dmzbench checkout in use (else ``$DMZBENCH_COMMIT``, else None); '+dirty' if it has local
    changes."""
    repo = Path(__file__).resolve().parents[2]  # dmzbench/run/records.py -> the checkout
    if not (repo / ".git").exists():
        # a copy without .git (the GPU sprint's device copy) is told its commit by the script that carried it
        return os.environ.get("DMZBENCH_COMMIT") or None
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True, timeout=5)  # noqa: E731
        commit = run("rev-parse", "HEAD").stdout.strip()
        # leaderboards/ holds outputs (records, pages), not code: regenerating them must not mark the code dirty
        dirty = run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)leaderboards").stdout.strip()
        return (commit + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None

