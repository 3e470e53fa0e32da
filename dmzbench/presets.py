"""Typed presets and model settings (``-m KEY=VALUE``).

A family's presets are instances of one frozen dataclass (its ``Config``, e.g. ``DMZConfig``). A run can change fields
of a preset from the command line: ``--preset smoke -m bits=32 -m steps=3000`` becomes the canonical preset identifier
``smoke+bits=32,steps=3000`` (keys sorted, values re-rendered from their typed form, settings equal to the preset's own
value dropped). That identifier is what flows as ``preset`` everywhere, so it is part of the checkpoint's path and meta,
the record and the leaderboard row, and a setting can never silently reuse another configuration's checkpoint.

A tuple value keeps its commas (``channel_mult=1,2,2``): in an identifier a comma-separated piece without ``=``
continues the previous value. Families that still declare their presets as plain dicts (plugins, tests) keep working;
they only cannot take settings.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any

from dmzbench.config import coerce
from dmzbench.errors import UsageError, did_you_mean

SEPARATOR = "+"


def parse_preset(name: str) -> tuple[str, dict[str, str]]:
    """``"smoke+bits=32,steps=3000"`` -> ``("smoke", {"bits": "32", "steps": "3000"})`` (raw strings)."""
    base, sep, rest = name.partition(SEPARATOR)
    settings: dict[str, str] = {}
    if not sep:
        return base, settings
    key = None
    for piece in rest.split(","):
        if "=" in piece:
            key, _, value = piece.partition("=")
            key = key.strip()
            if not key:
                raise UsageError(f"preset '{name}': setting '{piece}' has no key (form: preset+KEY=VALUE,KEY=VALUE)")
            settings[key] = value.strip()
        elif key is None:
            raise UsageError(f"preset '{name}': '{piece}' is not of the form KEY=VALUE")
        else:  # a tuple value's next item
            settings[key] += "," + piece.strip()
    return base, settings


def render(value: Any) -> str:
    """A typed setting as it appears in a preset identifier."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(render(v) for v in value)
    return str(value)


def canonical(base: str, settings: Mapping[str, Any]) -> str:
    """The preset identifier of ``base`` with typed ``settings`` (keys sorted); just ``base`` without settings."""
    if not settings:
        return base
    return base + SEPARATOR + ",".join(f"{k}={render(settings[k])}" for k in sorted(settings))


def config_class(baseline: Any) -> type | None:
    """The family's preset dataclass: its ``Config`` attribute, else the type of its presets when they are dataclasses."""
    cls = getattr(baseline, "Config", None)
    if cls is not None and dataclasses.is_dataclass(cls):
        return cls
    values = list(getattr(baseline, "presets", {}).values())
    if values and dataclasses.is_dataclass(values[0]):
        return type(values[0])
    return None


def _typed(cls: type, raw: Mapping[str, str], what: str) -> dict[str, Any]:
    """``raw`` setting strings as typed values of ``cls``'s fields; unknown keys and negative numbers refused."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    typed = {}
    for key, value in raw.items():
        if key not in fields:
            raise did_you_mean(f"setting of model {what}", key, fields)
        try:
            typed[key] = coerce(key, value, hints[key])
        except UsageError as exc:
            raise UsageError(f"model setting {str(exc).removeprefix('option ')} (model {what})") from None
        numbers = typed[key] if isinstance(typed[key], (tuple, list)) else [typed[key]]
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0 for v in numbers):
            raise UsageError(f"model setting {key}={value} must not be negative (model {what})")
    return typed


def base_config(presets: Mapping[str, Any], base: str, cls: type | None, what: str = "the model") -> Any:
    """The preset ``base`` as an instance of ``cls`` (a plain-dict preset is converted; its missing fields take the
    dataclass's defaults)."""
    if base not in presets:
        raise did_you_mean(f"preset of {what}", base, presets)
    value = presets[base]
    if cls is None or isinstance(value, cls):
        return value
    return cls(**value)


def resolve_preset(presets: Mapping[str, Any], name: str, cls: type | None = None, what: str = "the model") -> Any:
    """The configuration that preset identifier ``name`` stands for: the base preset with its settings applied
    (``dataclasses.replace``); settings are type-checked against ``cls`` and unknown keys named."""
    base, raw = parse_preset(name)
    cfg = base_config(presets, base, cls, what)
    if not raw:
        return cfg
    if not dataclasses.is_dataclass(cfg):
        raise UsageError(f"{what}'s presets are plain dicts, so it takes no model settings (-m); declare them as a "
                         "frozen dataclass (docs/adding-a-model.md)")
    try:
        return dataclasses.replace(cfg, **_typed(type(cfg), raw, what))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"preset {name} of {what}: {exc}") from None


def resolve(baseline: Any, name: str) -> Any:
    """``resolve_preset`` for a registered family (``baseline.presets`` and its ``Config``)."""
    return resolve_preset(baseline.presets, name, config_class(baseline), baseline.name)


def with_settings(baseline: Any, preset: str, settings: list[str]) -> str:
    """The canonical identifier of ``preset`` with ``["KEY=VALUE", ...]`` applied (validated now, before any data is
    loaded); settings that equal the preset's own value are dropped, so ``-m bits=16`` on a 16-bit preset is the
    preset itself."""
    base, raw = parse_preset(preset)
    for item in settings or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"model setting '{item}' is not of the form KEY=VALUE")
        raw[key.strip()] = value.strip()
    cls = config_class(baseline)
    cfg = base_config(baseline.presets, base, cls, baseline.name)
    if not raw:
        return base
    if not dataclasses.is_dataclass(cfg):
        resolve_preset(baseline.presets, canonical(base, raw), cls, baseline.name)  # raises the one-line error
    typed = _typed(type(cfg), raw, baseline.name)
    changed = {k: v for k, v in typed.items() if not _same(getattr(cfg, k), v)}
    name = canonical(base, changed)
    resolve_preset(baseline.presets, name, cls, baseline.name)  # the dataclass's own checks (__post_init__)
    return name


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return list(a) == list(b)
    return a == b


def settings_of(name: str, baseline: Any) -> dict[str, Any]:
    """The typed settings of preset identifier ``name`` (empty for a plain preset), for the result record."""
    base, raw = parse_preset(name)
    cls = config_class(baseline)
    return _typed(cls, raw, baseline.name) if raw and cls is not None else {}


def record_settings(baseline: Any, name: str) -> dict[str, Any]:
    """``{"settings": {...}}`` for a result record's model entry when ``name`` has model settings, else ``{}`` (records
    of plain presets stay as they were)."""
    settings = settings_of(name, baseline)
    return {"settings": settings} if settings else {}


def config_dict(cfg: Any) -> dict[str, Any]:
    """The JSON-able dict of a preset (what checkpoints and records store as ``config``). A field whose metadata says
    ``omit_default`` is left out while it has its default, so adding such a field keeps older configs' dicts."""
    if not dataclasses.is_dataclass(cfg):
        return dict(cfg)
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata.get("omit_default") and value == f.default:
            continue
        out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return out


def omit_default(default: Any) -> Any:
    """A preset field left out of ``config_dict`` while it has its ``default``."""
    return dataclasses.field(default=default, metadata={"omit_default": True})


def check_image_size(cfg: Any, spec: Any, preset: str) -> None:
    """Refuse a preset made for another image size (``image_size`` None: any size)."""
    size = cfg.get("image_size") if isinstance(cfg, Mapping) else getattr(cfg, "image_size", None)
    if size and size != spec.image_size:
        raise UsageError(f"preset {preset} is for {size} px images, {spec.name} has {spec.image_size} px; "
                         "use smoke/small or a data set of that size")


def resolve_for(baseline: Any, preset: str, spec: Any) -> Any:
    """What every family's ``build`` starts with: the resolved preset, refused if made for another image size."""
    cfg = resolve(baseline, preset)
    check_image_size(cfg, spec, preset)
    return cfg


# ------------------------------------------------------------------------------------------------ field validation
# Each family's typed preset checks its own fields in ``__post_init__`` with these, so a bad model setting (``-m
# heads=0``, ``-m channel_mult=``, ``-m cross_attention_levels=7``) is one line before any data is loaded, not a
# traceback from deep inside the network's constructor or a model that trains but cannot work. ``resolve_preset``
# turns their ValueError into the usage error ``preset P of M: <what>``.
def check_fields(cfg: Any, *, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                 nonempty: tuple[str, ...] = (), fractions: tuple[str, ...] = (),
                 levels: tuple[str, ...] = (), depth_of: str = "") -> None:
    """``positive``: numbers (or each item of a tuple) > 0 (None = the default); ``non_negative``: >= 0 (a stage of 0
    steps is skipped); ``nonempty``: tuples with at least one item; ``fractions``: in [0, 1]; ``levels``: tuples of
    UNet level indices within ``len(getattr(cfg, depth_of))``. Every float field must be finite."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        items = value if isinstance(value, (tuple, list)) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise ValueError(f"{f.name}={render(value)} must be a finite number")
    for name in positive:
        value = getattr(cfg, name)
        items = value if isinstance(value, (tuple, list)) else [value]
        if any(v is not None and v <= 0 for v in items):
            raise ValueError(f"{name}={render(value)} must be positive")
    for name in non_negative:
        if (getattr(cfg, name) or 0) < 0:
            raise ValueError(f"{name}={render(getattr(cfg, name))} must not be negative")
    for name in nonempty:
        if not getattr(cfg, name):
            raise ValueError(f"{name} is empty; give at least one value ({name}=1,2)")
    for name in fractions:
        value = getattr(cfg, name)
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"{name}={render(value)} must lie in [0, 1]")
    depth = len(getattr(cfg, depth_of)) if depth_of else 0
    for name in levels:
        outside = [v for v in getattr(cfg, name) if not 0 <= v < depth]
        if outside:
            raise ValueError(f"{name}={render(getattr(cfg, name))}: level {outside[0]} is outside the UNet's "
                             f"{depth} levels (0..{depth - 1}, one per {depth_of} entry)")
