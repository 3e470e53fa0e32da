"""An adapter that checks what a user hands it: ``dmzbench.load`` returns its model's adapter wrapped in one, so a 28 px
image, a missing channel axis or values in 0..255 get one line that says what to pass instead of a silent wrong number.

The tasks never need it (they convert data sets with ``to_model_range`` themselves); it changes no computation: every
call goes to the wrapped adapter unchanged once its input passed, and every other attribute (``info``, ``invert``,
``interpolate``, ``decode_latent``, ...) is the wrapped adapter's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dmzbench.api import ModelAdapter
from dmzbench.errors import UsageError

RANGE_SLACK = 1e-3  # float rounding of [-1, 1] images (e.g. x / 127.5 - 1 in half precision) is not an error


def check_images(x: Any, info: Any, what: str) -> None:
    """One line naming the fix unless ``x`` is a float (B, C, H, W) batch of the model's channels and size in [-1, 1]."""
    shape = f"(B, {info.channels}, {info.image_size}, {info.image_size})"
    if not isinstance(x, Tensor):
        raise UsageError(f"{what} takes a torch.Tensor of shape {shape}, got {type(x).__name__}")
    if x.dim() == 3:
        raise UsageError(f"{what} takes a batch {shape}, got one image {tuple(x.shape)}; pass x[None]")
    if x.dim() != 4:
        raise UsageError(f"{what} takes a batch {shape}, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise UsageError(f"{what} takes float images in [-1, 1], got dtype {x.dtype}; convert uint8 images with "
                         "x.float() / 127.5 - 1")
    b, c, h, w = x.shape
    if c != info.channels:
        raise UsageError(f"{what}: {info.name} takes {info.channels}-channel images {shape}, got {c} channels")
    if (h, w) != (info.image_size, info.image_size):
        raise UsageError(f"{what}: {info.name} takes {info.image_size}x{info.image_size} images {shape}, got {h}x{w}; "
                         f"resize or pad them (Fashion-MNIST's 28 px images are padded to 32 by its data set)")
    if b == 0:
        raise UsageError(f"{what} got an empty batch {tuple(x.shape)}")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1 - RANGE_SLACK or hi > 1 + RANGE_SLACK:
        fix = "x / 127.5 - 1" if hi > 2 else "x.clamp(-1, 1)"
        raise UsageError(f"{what} takes values in [-1, 1], got {lo:.4g}..{hi:.4g}; rescale them ({fix})")


def check_count(value: Any, name: str, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what}: {name} must be a positive integer, got {value!r}")


class CheckedAdapter:
    """``adapter`` with its inputs checked (see the module docstring)."""

    def __init__(self, adapter: ModelAdapter):
        self._adapter = adapter
        self.info = adapter.info

    @property
    def unchecked(self) -> ModelAdapter:
        """The wrapped adapter."""
        return self._adapter

    def __getattr__(self, name: str) -> Any:  # everything not checked here is the wrapped adapter's
        return getattr(self._adapter, name)

    def encode(self, x: Tensor) -> Tensor:
        check_images(x, self.info, "encode")
        return self._adapter.encode(x)

    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None, **kwargs: Any) -> Tensor:
        check_images(x, self.info, "reconstruct")
        check_count(steps, "steps", "reconstruct")
        return self._adapter.reconstruct(x, steps=steps, generator=generator, **kwargs)

    def generate(self, n: int, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        check_count(n, "n", "generate")
        check_count(steps, "steps", "generate")
        return self._adapter.generate(n, steps=steps, generator=generator)

    def __repr__(self) -> str:
        return f"CheckedAdapter({self._adapter!r})"
