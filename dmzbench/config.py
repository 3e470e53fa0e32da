"""``-o key=value`` overrides onto a task's config dataclass, with types checked and unknown keys named."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from dmzbench.errors import UsageError, did_you_mean

_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _coerce(key: str, raw: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        if raw not in choices:
            raise UsageError(f"option {key}={raw!r} is not one of: {', '.join(map(str, choices))}")
        return raw
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if raw.lower() in ("none", "null") and len(args) < len(typing.get_args(annotation)):
            return None
        return _coerce(key, raw, args[0])
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(annotation) or (str,)
        return (tuple if origin is tuple else list)(_coerce(key, part, inner) for part in raw.split(",") if part)
    try:
        if annotation is bool:
            return _BOOL[raw.lower()]
        if annotation is float:
            value = float(raw)
            if not math.isfinite(value):  # nan/inf pass float() but no rate, weight or size is either
                raise ValueError(raw)
            return value
        if annotation in (int, str):
            return annotation(raw)
    except (ValueError, KeyError):
        kind = {bool: "true or false", int: "an integer", float: "a finite number"}.get(annotation, str(annotation))
        raise UsageError(f"option {key}={raw!r} must be {kind}") from None
    raise UsageError(f"option {key} has a type ({annotation}) that cannot be set from the command line")


def coerce(key: str, raw: str, annotation: Any) -> Any:
    """``raw`` as a value of type ``annotation`` (int, float, bool, str, Literal, Optional, tuple/list of those), or a
    one-line usage error naming ``key``; also used for model settings (dmzbench/presets.py)."""
    return _coerce(key, raw, annotation)


def apply_overrides(config_cls: type, overrides: list[str]) -> Any:
    """Build ``config_cls`` from its defaults and ``["key=value", ...]``; validates with ``__post_init__`` if any."""
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"option '{item}' is not of the form key=value (valid keys: {', '.join(sorted(fields))})")
        if key not in fields:
            raise did_you_mean("option", key, fields)
        values[key] = _coerce(key, raw.strip(), hints[key])
    try:
        config = config_cls(**values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    check_bounds(config, values)
    return config


def at_most(default: Any, bound: int) -> Any:
    """A config field with an upper bound: ``n_samples: int = at_most(10_000, 200_000)``. A value above it is refused
    before any work (a typo of a few zeros would otherwise run until killed)."""
    return dataclasses.field(default=default, metadata={"max": bound})


def check_bounds(config: Any, values: dict[str, Any]) -> None:
    for f in dataclasses.fields(config):
        bound = f.metadata.get("max")
        value = getattr(config, f.name)
        if bound is None or f.name not in values:
            continue
        too_big = [v for v in (value if isinstance(value, (tuple, list)) else [value]) if v > bound]
        if too_big:
            raise UsageError(f"option {f.name}={too_big[0]} is above its bound {bound:,}; use at most {bound}")
