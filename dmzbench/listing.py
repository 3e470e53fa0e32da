"""What ``dmzbench ls`` shows: models with presets, tasks with options and declared metrics, data sets, suites.

Describing a model or task means importing it, and importing any of them imports torch (seconds). The description is
therefore cached under ``$DMZBENCH_HOME/cache/``, keyed by the registered entry points, the installed distributions'
versions and the size and mtime of every source file of the packages that define them: any edit or install makes a
new key, and the next ``ls`` imports once and caches again. Hand-registered (``--import``) objects are never cached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from dmzbench import registry, suites

KINDS = {"models": "model", "tasks": "task", "datasets": "dataset"}


def _home() -> Path:
    # the rule of dmzbench.workspace.home, which this module cannot import (workspace imports torch)
    if os.environ.get("DMZBENCH_HOME"):
        return Path(os.environ["DMZBENCH_HOME"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dmzbench"


def describe(kind: str, name: str) -> dict[str, Any]:
    obj = registry.get(kind, name)
    row: dict[str, Any] = {"name": name, "from": registry.source(kind, name)}
    if kind == "model":
        from dmzbench.data import model_default_dataset  # here: dmzbench.data imports torch, the listing must not

        row.update(presets=list(obj.presets), default_preset=obj.default_preset,
                   default_dataset=model_default_dataset(obj), trainable=getattr(obj, "trainable", True))
    elif kind == "task":
        options = {f.name: f.default for f in dataclasses.fields(obj.Config)}
        row.update(version=obj.version, default_dataset=obj.default_dataset, requires=sorted(obj.requires),
                   section=getattr(obj, "group", None) or name,
                   options={k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
                   metrics=[{"name": m.name, "direction": {True: "higher", False: "lower", None: None}[m.higher_is_better],
                             "chance": m.chance, "uncertainty": m.uncertainty or None, "shown": m.shown,
                             "meaning": m.meaning} for m in getattr(obj, "metrics", ())])
    else:
        s = obj.spec
        row.update(channels=s.channels, image_size=s.image_size, classes=s.num_classes)
    return row


def _sources(target: str) -> list[Path]:
    """The source files whose edits could change what ``target`` ("module:attr") describes: every .py file of its
    top-level package (or the module file itself), found without importing the module."""
    top = target.partition(":")[0].split(".")[0]
    spec = find_spec(top)
    if spec is None or not spec.origin:
        return []
    origin = Path(spec.origin)
    return sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]


def fingerprint() -> str:
    h = hashlib.sha256()
    files: set[Path] = set(Path(__file__).parent.rglob("*.py"))
    for group in registry.GROUPS.values():
        for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
            dist = f"{ep.dist.name}=={ep.dist.version}" if ep.dist is not None else "?"
            h.update(f"{group}|{ep.name}|{ep.value}|{dist}\n".encode())
            files.update(_sources(ep.value))
    for f in sorted(files):
        st = f.stat()
        h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    h.update(sys.version.encode())
    return h.hexdigest()[:24]


def listing() -> dict[str, list[dict[str, Any]]]:
    """Every registered model, task and data set described, plus the suites (cached; see the module docstring)."""
    local = {kind: set(registry._local[kind]) for kind in KINDS.values()}
    cache = _home() / "cache" / f"ls-{fingerprint()}.json"
    described = None
    if cache.exists():
        try:
            described = json.loads(cache.read_text())
        except (OSError, json.JSONDecodeError):  # a damaged cache is rebuilt, not trusted
            described = None
    if described is None:
        described = {plural: [describe(kind, n) for n in registry.names(kind) if n not in local[kind]]
                     for plural, kind in KINDS.items()}
        from dmzbench.atomic import write_bytes  # here: atomic imports torch, which a cached ls never needs

        try:
            write_bytes(cache, json.dumps(described, default=str).encode())
        except Exception:  # an unwritable cache only costs the next ls its speed
            pass
    for plural, kind in KINDS.items():
        described[plural] += [describe(kind, n) for n in sorted(local[kind])]
        described[plural].sort(key=lambda r: r["name"])
    described["suites"] = [{"name": s.name, "presets": list(s.presets), "options": s.options, "note": s.note}
                           for s in suites.all_suites()]
    return described
