"""Finds models, tasks and data sets through entry points: the built-ins are found exactly as a plugin's are.

The core never imports the built-ins (``dmzbench.baselines`` from baselines/, ``dmzbench.tasks`` from tasks/); ``pyproject.toml`` declares them under the groups below.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from dmzbench.errors import DmzbenchError, UsageError, did_you_mean

GROUPS = {"model": "dmzbench.models", "task": "dmzbench.tasks", "dataset": "dmzbench.datasets",
          "suite": "dmzbench.suites"}  # a suite entry point names a ``dmzbench.suite.catalog.Suite`` instance


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:attr"
    source: str  # the distribution that declared it, or the file it was imported from

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        obj = __import__(module, fromlist=[attr])
        return getattr(obj, attr)


_local: dict[str, dict[str, tuple[Any, str]]] = {kind: {} for kind in GROUPS}


@lru_cache(maxsize=None)
def _entries(kind: str) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for ep in entry_points(group=GROUPS[kind]):
        source = ep.dist.name if ep.dist is not None else "unknown distribution"
        entry = Entry(ep.name, ep.value, source)
        old = found.get(ep.name)
        if old is not None and old.target != entry.target:
            raise DmzbenchError(
                f"{kind} '{ep.name}' is registered twice: by {old.source} ({old.target}) and by {source} "
                f"({ep.value}); uninstall one or rename its entry point"
            )
        found[ep.name] = entry
    return found


def names(kind: str) -> list[str]:
    return sorted(set(_entries(kind)) | set(_local[kind]))


def register(kind: str, name: str, obj: Any, source: str) -> None:
    """Register an object by hand (``dmzbench --import file.py`` uses this); a clash names both sources."""
    if name in _entries(kind):
        raise DmzbenchError(
            f"{kind} '{name}' from {source} clashes with the one registered by {_entries(kind)[name].source}; rename it"
        )
    if name in _local[kind] and _local[kind][name][0] is not obj:
        raise DmzbenchError(f"{kind} '{name}' from {source} clashes with the one from {_local[kind][name][1]}; rename it")
    _local[kind][name] = (obj, source)


def get(kind: str, name: str) -> Any:
    """The registered class for ``name``, or a usage error with a "did you mean" suggestion."""
    if name in _local[kind]:
        return _local[kind][name][0]
    entries = _entries(kind)
    if name not in entries:
        raise did_you_mean(kind, name, names(kind))
    return entries[name].load()


@dataclass(frozen=True)
class Resolved:
    """One name looked up: its canonical spelling, the registered object and where it came from."""

    kind: str
    name: str
    obj: Any
    source: str


def canonical(kind: str, name: str) -> str:
    """``name`` as registered, matched case-insensitively when that is unambiguous (``DMZ`` -> ``dmz``), else a usage
    error with a "did you mean" suggestion."""
    known = names(kind)
    if name in known:
        return name
    folded = [k for k in known if k.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise did_you_mean(kind, name, known)


def resolve(kind: str, name: str) -> Resolved:
    """The one lookup of a name on its way from the command line (or the Python API) to a record
    (``dmzbench.run.plan``): canonical name, object and source together."""
    name = canonical(kind, name)
    return Resolved(kind, name, get(kind, name), source(kind, name))


def source(kind: str, name: str) -> str:
    return _local[kind][name][1] if name in _local[kind] else _entries(kind)[name].source


def imported_file(kind: str, name: str) -> str | None:
    """The file ``name`` was registered from by ``--import``, or None (an entry point, or registered by hand)."""
    if name not in _local[kind]:
        return None
    source = _local[kind][name][1]
    return source if Path(source).is_file() else None


def import_file(path: str) -> list[str]:
    """``dmzbench --import file.py``: run a local file and register the models (Baseline subclasses with a ``name``),
    tasks (classes with name, version, Config and run) and data sets (classes with name, spec and load) it defines."""
    # here: dmzbench.api imports torch, and the registry is read by the torch-free listing
    from dmzbench.api import Baseline

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--import {path}: no such file; give the path of a .py file that defines a Baseline")
    module_name = f"dmzbench_local_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise DmzbenchError(f"--import {path} failed: {type(exc).__name__}: {exc}") from None
    found = []
    for obj in vars(module).values():
        if not isinstance(obj, type) or obj.__module__ != module_name or not isinstance(getattr(obj, "name", None), str):
            continue
        if issubclass(obj, Baseline):
            kind = "model"
        elif all(hasattr(obj, a) for a in ("version", "Config", "run")):
            kind = "task"
        elif all(hasattr(obj, a) for a in ("spec", "load")):
            kind = "dataset"
        else:
            continue
        register(kind, obj.name, obj, str(file))
        found.append(f"{kind} {obj.name}")
    if not found:
        raise UsageError(f"--import {path} defines no model, task or data set (a Baseline subclass with a name, ...)")
    return found
