"""Every adapter output a task scores is checked here, once, before any task sees it.

``checked(adapter, model)`` wraps an adapter so that each scored method (``encode``, ``encode_sample``,
``reconstruct``, ``generate``, ``decode_latent``, ``interpolate``) has its result checked for type, shape, count,
dtype, finiteness and range, and so that an exception the adapter raises becomes one line naming the model and the
method. A number computed from NaN samples, out-of-range images or the wrong count is worse than no number: the FID of
NaN samples is still a float. The runner hands tasks only checked adapters (``dmzbench.run.runner.obtain``), so a task
never records a number from broken outputs and no task repeats these checks.

Only the methods the adapter really has are wrapped: ``can(adapter, "decode")`` and the adapter protocols'
``isinstance`` checks see the same members as on the adapter itself.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from dmzbench.api import CapabilityMissing, ModelAdapter
from dmzbench.errors import DmzbenchError

# Images cross the seams in [-1, 1]; a float32 round-off above the bound is not a fault (a clamp in bf16 and back).
RANGE_SLACK = 1e-3
SCORED = ("encode", "encode_sample", "reconstruct", "generate", "decode_latent", "interpolate")
IMAGE_METHODS = ("reconstruct", "generate", "decode_latent", "interpolate")


class OutputError(DmzbenchError):
    """An adapter returned something a task must not score (exit 1)."""


class AdapterRaised(DmzbenchError):
    """An adapter method raised an exception of its own (exit 1; ``--debug`` shows the chained traceback)."""


def _fix(model: str) -> str:
    return f"fix the adapter (dmzbench check --model {model} runs the conformance checks)"


def _describe(value: Any) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else f"a {type(value).__name__}"


def _finite_and_in_range(out: Tensor, model: str, method: str, low: float | None, high: float | None,
                         what: str) -> None:
    values = out.detach()
    bad = ~torch.isfinite(values)
    if bad.any():
        kinds = "/".join(k for k, m in (("NaN", torch.isnan(values)), ("inf", torch.isinf(values))) if m.any())
        raise OutputError(f"model {model}'s {method} returned {kinds} values ({int(bad.sum()):,} of "
                          f"{values.numel():,}); {what} must be finite: {_fix(model)}")
    if low is None or values.numel() == 0:
        return
    lo, hi = values.min().item(), values.max().item()
    if lo < low - RANGE_SLACK or hi > high + RANGE_SLACK:
        raise OutputError(f"model {model}'s {method} returned values in [{lo:.4g}, {hi:.4g}]; {what} must lie in "
                          f"[{low:g}, {high:g}]: {_fix(model)}")


def check_features(out: Any, adapter: ModelAdapter, model: str, n: int, method: str = "encode") -> Tensor:
    """``encode``'s (n, prod(latent_shape)) features, real and finite; a binary latent's bit probabilities in [0, 1].
    ``encode_sample`` (a posterior draw in the family's own form) has n rows of any width."""
    dim = math.prod(adapter.info.latent_shape)
    if method == "encode" and (not isinstance(out, Tensor) or tuple(out.shape) != (n, dim)):
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        # the wording of the check the runner makes before any training (dmzbench.run.preflight)
        raise OutputError(f"model {model}'s encode returned {got} for {n} images, expected ({n}, {dim}) from its "
                          f"latent_shape; {_fix(model)}")
    if not isinstance(out, Tensor) or out.ndim != 2 or len(out) != n:
        raise OutputError(f"model {model}'s {method} returned {_describe(out)} for {n} images, expected ({n}, D); "
                          f"{_fix(model)}")
    if out.is_complex():
        raise OutputError(f"model {model}'s {method} returned dtype {out.dtype}, expected real numbers; {_fix(model)}")
    binary = method == "encode" and adapter.info.latent_kind == "binary"
    _finite_and_in_range(out.float(), model, method, 0.0 if binary else None, 1.0 if binary else None,
                         "a binary latent's bit probabilities" if binary else "features")
    return out


def check_images(out: Any, adapter: ModelAdapter, model: str, method: str, count: int) -> Tensor:
    """``count`` float images (count, C, H, W) of the model's size, finite, in [-1, 1]."""
    info = adapter.info
    expected = (count, info.channels, info.image_size, info.image_size)
    if not isinstance(out, Tensor) or tuple(out.shape) != expected:
        raise OutputError(f"model {model}'s {method} returned {_describe(out)}, expected {expected} "
                          f"({count} images of {info.channels}x{info.image_size}x{info.image_size}); {_fix(model)}")
    if not out.is_floating_point():
        raise OutputError(f"model {model}'s {method} returned dtype {out.dtype}, expected floating-point images in "
                          f"[-1, 1]; {_fix(model)}")
    _finite_and_in_range(out, model, method, -1.0, 1.0, "images")
    return out


def _image_count(method: str, args: tuple, kwargs: dict) -> int:
    """How many images ``method`` was asked for, from its arguments."""
    if method == "generate":
        return int(args[0] if args else kwargs["n"])
    if method == "interpolate":
        return int(kwargs["frames"] if "frames" in kwargs else args[2])
    return len(args[0] if args else kwargs["z" if method == "decode_latent" else "x"])


def _guarded(method: str, fn: Callable, adapter: ModelAdapter, model: str) -> Callable:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            out = fn(*args, **kwargs)
        except (DmzbenchError, CapabilityMissing):  # already one line, or a capability the task checks for
            raise
        except Exception as exc:  # the plugin's own bug: one line, the traceback stays chained for --debug
            raise AdapterRaised(f"model {model}'s {method} raised {type(exc).__name__}: {exc} "
                                "(--debug shows the traceback)") from exc
        if method in IMAGE_METHODS:
            return check_images(out, adapter, model, method, _image_count(method, args, kwargs))
        n = len(args[0] if args else kwargs["x"])
        return check_features(out, adapter, model, n, method)

    return call


class CheckedAdapter:
    """``adapter`` with every scored output checked (see the module docstring); other members are the adapter's own.

    Methods are bound as instance attributes (not found through ``__getattr__`` alone), so the adapter protocols'
    ``isinstance`` checks, which look members up statically on Python 3.12+, see the same members as on the adapter."""

    def __init__(self, adapter: ModelAdapter, model: str):
        self.__dict__["_inner"] = adapter
        self.info = adapter.info
        for name in _callables(adapter):
            fn = getattr(adapter, name)
            setattr(self, name, _guarded(name, fn, adapter, model) if name in SCORED else fn)

    def __getattr__(self, name: str) -> Any:  # data attributes and properties (``device``, ``model``, ...)
        return getattr(self.__dict__["_inner"], name)


def _callables(adapter: Any) -> list[str]:
    names = set()
    for cls in type(adapter).__mro__[:-1]:  # not object's
        names.update(n for n, v in vars(cls).items() if not n.startswith("_")
                     and (inspect.isfunction(v) or isinstance(v, (staticmethod, classmethod))))
    names.update(n for n, v in vars(adapter).items() if not n.startswith("_") and callable(v))
    return sorted(names)


def checked(adapter: ModelAdapter, model: str | None = None) -> ModelAdapter:
    """``adapter`` with its scored outputs checked; ``model`` names it in errors (default: its ``info.name``)."""
    if isinstance(adapter, CheckedAdapter):
        return adapter
    return CheckedAdapter(adapter, model or adapter.info.name)  # type: ignore[return-value]
