"""Checkpoint I/O of the runner: what a checkpoint was made for (its meta), and reading one back verified.

Writing is the trainer's (``dmzbench.train``, through ``dmzbench.atomic.save_checkpoint``); where a checkpoint lives is
the workspace's (``dmzbench.workspace.checkpoint_path``). The meta keys are part of the checkpoint format: never rename
them (a checkpoint whose meta differs from what is asked for is refused).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from dmzbench.api import Baseline, DataSpec
from dmzbench.atomic import CorruptCheckpoint, damaged, load_checkpoint_file, previous, write_bytes
from dmzbench.errors import DmzbenchError
from dmzbench.train import CHECKPOINT_FORMAT

console = Console(stderr=True)


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


def has_checkpoint(path: Path) -> bool:
    """Whether there is something to load at ``path``: the checkpoint, or the previous good one beside it."""
    return path.exists() or previous(path).exists()


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
                      f"checkpoint (stage {state['stage_index']}, step {state['step']}) from {prev.name}",
                      soft_wrap=True)  # one line: a path broken across lines cannot be copied from a log
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
