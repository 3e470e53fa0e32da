"""Learning-curve snapshots: a preset that declares ``snapshots`` (steps of its first, representation stage) also
keeps, while it trains, the checkpoint of each shorter run it passes through.

The snapshot at step k of preset P is the preset identifier P with the first stage's step count set to k and every
later stage's to 0 (the fields a family names in ``Baseline.stage_steps``): dmz ``cpu+steps=109``, diffae
``cpu+latent_steps=0,steps=79``. It is not a new concept for tasks, records or pages: it is that preset's own
checkpoint, which ``dmzbench run --preset cpu+steps=109`` would otherwise train from scratch. Step k of the trainer
depends only on (seed, stage, step), and a snapshot stage's learning rate may not depend on its total step count, so
the long run's weights at step k (EMA swapped in, as at the end of a stage) are bit-identical to the shorter run's at
the end of its first stage (tests/test_snapshots.py). A later stage of 0 steps still runs its ``prepare`` (latent
statistics) when the snapshot is first loaded, exactly as the shorter run does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmzbench.presets import parse_preset, resolve, with_settings


@dataclass(frozen=True)
class Snapshot:
    step: int  # of the first training stage
    preset: str  # the shorter run's preset identifier


@dataclass(frozen=True)
class SnapshotTarget:
    """Where the trainer writes one snapshot: the shorter run's checkpoint path and meta."""

    step: int
    path: Path
    meta: dict[str, Any]


def snapshots_of(baseline: Any, preset: str) -> list[Snapshot]:
    """The snapshots training ``preset`` keeps (none for a preset without ``snapshots``), shortest first."""
    cfg = resolve(baseline, preset)
    steps = (cfg.get("snapshots") if isinstance(cfg, Mapping) else getattr(cfg, "snapshots", None)) or ()
    if not steps:  # most presets (and plain-dict presets of plugins) keep none
        return []
    first, *later = baseline.stage_steps
    total = getattr(cfg, first)
    base, raw = parse_preset(preset)
    found = []
    for k in sorted(set(steps)):
        if 0 < k < total:
            settings = {**raw, first: str(k), **{name: "0" for name in later}}
            found.append(Snapshot(k, with_settings(baseline, base, [f"{a}={b}" for a, b in settings.items()])))
    return found


def parent_of(baseline: Any, preset: str) -> str | None:
    """The preset whose training writes ``preset`` as a snapshot (the preset without the step settings), if any."""
    base, raw = parse_preset(preset)
    first, *later = baseline.stage_steps
    if first not in raw or any(raw.get(name, "0") != "0" for name in later):
        return None
    rest = [f"{k}={v}" for k, v in raw.items() if k not in baseline.stage_steps]
    parent = with_settings(baseline, base, rest)
    return parent if preset in {s.preset for s in snapshots_of(baseline, parent)} else None
