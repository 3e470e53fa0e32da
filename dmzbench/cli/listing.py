"""What ``dmzbench ls`` shows: models with presets, tasks with options and declared metrics, data sets, suites.

Describing a model or task means importing it, and importing any of them imports torch and diffusers (seconds). The
description is therefore cached under ``$DMZBENCH_HOME/cache/``, keyed by the registered entry points, the installed
distributions' versions and the size and mtime of every source file of the packages that define them: any edit or
install makes a new key, and the next ``ls`` describes again. Hand-registered (``--import``) objects are never cached.

The first ``ls`` after an install need not import anything either: ``listing_snapshot.json`` ships the description of
dmzbench's own entries, keyed by the *content* of dmzbench's source files (``builtin_fingerprint``); when they match,
only a plugin's entries are imported and described. ``python scripts/listing_snapshot.py`` rewrites it after an edit,
and ``tests/test_listing.py`` says when it is stale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from dmzbench import registry
from dmzbench.suite import catalog as suites

KINDS = {"models": "model", "tasks": "task", "datasets": "dataset"}
SNAPSHOT = Path(__file__).with_name("listing_snapshot.json")
OWN_DISTRIBUTION = "dmzbench"  # whose entries the snapshot describes


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
    files: set[Path] = set(Path(__file__).parents[1].rglob("*.py"))
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


def _own_entry_points() -> list:
    return sorted((ep for group in registry.GROUPS.values() for ep in entry_points(group=group)
                   if ep.dist is not None and ep.dist.name == OWN_DISTRIBUTION), key=lambda e: (e.group, e.name))


def builtin_fingerprint() -> str:
    """sha256 over dmzbench's own entry points and the content of every module of the packages that define them and
    of the core, each named by its module (an editable install keeps the built-in models and tasks outside
    ``dmzbench/``; a wheel keeps them inside: the same sources give the same fingerprint)."""
    roots: dict[str, Path] = {"dmzbench": Path(__file__).parents[1]}
    eps = _own_entry_points()
    for ep in eps:
        package = ep.value.partition(":")[0].rpartition(".")[0]
        spec = find_spec(package) if package else None
        if spec is not None and spec.submodule_search_locations:
            roots[package] = Path(list(spec.submodule_search_locations)[0])
    modules: dict[str, bytes] = {}
    for package, root in roots.items():
        for f in root.rglob("*.py"):
            name = ".".join((package, *f.relative_to(root).with_suffix("").parts))
            modules[name] = f.read_bytes()
    h = hashlib.sha256()
    for ep in eps:
        h.update(f"{ep.group}|{ep.name}|{ep.value}\n".encode())
    for name in sorted(modules):
        h.update(f"{name}|{len(modules[name])}\n".encode() + modules[name])
    return h.hexdigest()[:24]


def _snapshot() -> dict[str, dict[str, dict[str, Any]]] | None:
    """plural -> name -> row of dmzbench's own entries, from the shipped snapshot when it describes these sources."""
    try:
        data = json.loads(SNAPSHOT.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if data.get("fingerprint") != builtin_fingerprint():
        return None
    return {plural: {r["name"]: r for r in rows} for plural, rows in data["described"].items()}


def _describe_registered(local: dict[str, set[str]]) -> dict[str, list[dict[str, Any]]]:
    shipped = _snapshot()
    described = {}
    for plural, kind in KINDS.items():
        rows = []
        for n in registry.names(kind):
            if n in local[kind]:
                continue
            own = shipped is not None and registry.source(kind, n) == OWN_DISTRIBUTION and n in shipped[plural]
            rows.append(shipped[plural][n] if own else describe(kind, n))
        described[plural] = rows
    return described


def write_snapshot() -> Path:
    """Describe dmzbench's own entries (importing them) and ship that as ``listing_snapshot.json``."""
    described = {plural: [describe(kind, ep.name) for ep in _own_entry_points() if ep.group == registry.GROUPS[kind]]
                 for plural, kind in KINDS.items()}
    SNAPSHOT.write_text(json.dumps({"fingerprint": builtin_fingerprint(), "described": described}, indent=1,
                                   default=str) + "\n")
    return SNAPSHOT


def _write_cache(path: Path, text: str) -> None:
    """Temp file + rename, without dmzbench.atomic (it imports torch, which an ls from the snapshot never needs; a
    cache needs no fsync: a damaged one is rebuilt). An unwritable cache only costs the next ls its speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        pass


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
        described = _describe_registered(local)
        _write_cache(cache, json.dumps(described, default=str))
    for plural, kind in KINDS.items():
        described[plural] += [describe(kind, n) for n in sorted(local[kind])]
        described[plural].sort(key=lambda r: r["name"])
    described["suites"] = [{"name": s.name, "presets": list(s.presets), "options": s.options, "note": s.note}
                           for s in suites.all_suites()]
    return described
