"""The result record: one JSON file per (model, preset, dataset, task, seed), with everything needed to trust it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dmzbench import __version__
from dmzbench.atomic import write_json
from dmzbench.errors import DmzbenchError

SCHEMA_VERSION = 1
LIBRARIES = ("torch", "torchvision", "diffusers", "torch-fidelity", "scikit-learn", "numpy")


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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"schema_version": d.pop("schema_version"), **d}

    def filename(self) -> str:
        m, t = self.model, self.task
        variant = f"+{t['variant']}" if t.get("variant") else ""  # a non-default protocol never overwrites the default's
        return f"{t['name']}/{m['name']}-{m['preset']}-{self.dataset['name']}-seed{self.seed}{variant}.json"

    def write(self, results_dir: Path) -> Path:
        return write_json(Path(results_dir) / self.filename(), self.to_dict())


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DmzbenchError(f"{path} is not a readable result record ({exc}); delete it or re-run its task") from None
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        raise DmzbenchError(f"{path} is not a dmzbench result record of schema {SCHEMA_VERSION}; delete it or re-run")
    return record


def library_versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


def git_commit() -> str | None:
    """The commit of the dmzbench checkout in use (None for an installed wheel); '+dirty' if it has local changes."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True, timeout=5)  # noqa: E731
        commit = run("rev-parse", "HEAD").stdout.strip()
        # leaderboards/ holds outputs (records, pages), not code: regenerating them must not mark the code dirty
        dirty = run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)leaderboards").stdout.strip()
        return (commit + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None
