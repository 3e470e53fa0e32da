"""Adapter bases shared by several families, so that each family file only says what is its own.

- ``SemanticLatentAdapter`` (DiffAE, PDAE): a vector z from an encoder conditions a DDIM decoder; reconstruction from a
  random or an inferred (DDIM-inverted) x_T; generation samples z from a latent DDIM first.
- ``SpatialLatentAdapter`` (SD-VAE, DGAE): a Gaussian spatial latent; probes see its flattened posterior mean;
  generation samples z from a spatial latent diffusion model, then decodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from dmzbench.api import ModelInfo
from dmzbench.diffusion import GaussianDiffusion
from dmzbench.diffusion.sampling import ddim_invert, ddim_sample, randn
from dmzbench.nn.latent_diffusion import LatentDiffusion

Denoiser = Callable[[Tensor, Tensor], Tensor]


class _Base:
    info: ModelInfo
    model: nn.Module

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def image_shape(self, n: int) -> tuple[int, int, int, int]:
        return (n, self.info.channels, self.info.image_size, self.info.image_size)


class SemanticLatentAdapter(_Base):
    diffusion: GaussianDiffusion
    latent: LatentDiffusion
    ddim_grid: str = "even"  # the family's DDIM grid (dmzbench.diffusion.schedules.ddim_grid)
    # Inversion steps of the family's official protocols; None = as many as the decoder takes.
    recon_invert_steps: int | None = None
    interp_invert_steps: int | None = None
    family_name: str = ""  # a subclass that sets it and ``sampler`` gets this __init__
    sampler: str = ""

    def __init__(self, model: nn.Module, preset: str):
        """Wrap ``model`` (with ``spec``, ``diffusion``, ``latent`` and a (z_dim,) semantic latent ``z_dim``)."""
        self.model, self.diffusion, self.latent = model, model.diffusion, model.latent
        s = model.spec
        self.info = ModelInfo(self.family_name, self.family_name, preset, s.image_size, s.channels, (model.z_dim,),
                              "continuous", can_invert=True, sampler=self.sampler, can_interpolate=True)

    def semantic(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def denoiser(self, z: Tensor, steps: int, *, generating: bool = False) -> Denoiser:
        """eps(x_t, t_model) conditioned on z, for a sampler of ``steps`` steps (``generating``: decoding a z sampled
        from the latent DDIM, where PDAE drops its gradient estimator in the least noisy steps)."""
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        return self.semantic(x.to(self.device)).float()

    @torch.no_grad()
    def decode(self, z: Tensor, steps: int, x_T: Tensor | None = None, generator: torch.Generator | None = None, *,
               generating: bool = False) -> Tensor:
        x_T = x_T if x_T is not None else randn(self.image_shape(len(z)), generator, self.device)
        return ddim_sample(self.denoiser(z, steps, generating=generating), self.diffusion, self.image_shape(len(z)),
                           steps, x_T=x_T, device=self.device, grid=self.ddim_grid)

    def invert(self, x: Tensor, z: Tensor, steps: int) -> Tensor:
        """The inferred x_T of images ``x`` under their own z, by DDIM inversion with ``steps`` steps."""
        return ddim_invert(self.denoiser(z, steps), self.diffusion, x, steps, grid=self.ddim_grid)

    def invert_steps_for(self, purpose: Literal["recon", "interp"], decode_steps: int) -> int:
        """How many inversion steps the family's official ``purpose`` protocol takes (the tasks' default)."""
        official = self.recon_invert_steps if purpose == "recon" else self.interp_invert_steps
        return official if official is not None else decode_steps

    @torch.no_grad()
    def decode_latent(self, z: Tensor, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        """``encode``'s z back to images from a random x_T (the ``decode`` capability)."""
        return self.decode(z.to(self.device), steps, generator=generator)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None,
                    x_T: Literal["random", "inferred"] = "random", invert_steps: int | None = None) -> Tensor:
        x = x.to(self.device)
        z = self.encode(x)
        start = None
        if x_T == "inferred":
            start = self.invert(x, z, invert_steps or self.invert_steps_for("recon", steps))
        return self.decode(z, steps, start, generator)

    @torch.no_grad()
    def generate(self, n: int, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        z = self.latent.sample(n, steps, generator)
        return self.decode(z, steps, generator=generator, generating=True)

    @torch.no_grad()
    def interpolate(self, a: Tensor, b: Tensor, *, frames: int, steps: int, seed: int,
                    invert_steps: int | None = None) -> Tensor:
        """DiffAE's way: lerp on z_sem, slerp on the DDIM-inverted x_T, then DDIM (deterministic, so ``seed`` is unused).
        The inversion takes ``invert_steps`` (default: the family's official count)."""
        pair = torch.stack([a, b]).to(self.device)
        z = self.encode(pair)
        n_inv = invert_steps or self.invert_steps_for("interp", steps)
        x_T = torch.cat([self.invert(pair[i : i + 1], z[i : i + 1], n_inv) for i in range(2)])
        w = torch.linspace(0, 1, frames, device=self.device)[:, None]
        z_path = (1 - w) * z[0] + w * z[1]
        return self.decode(z_path, steps, slerp(x_T[0], x_T[1], w.flatten()))


class SpatialLatentAdapter(_Base):
    latent: LatentDiffusion
    family_name: str = ""  # a subclass that sets it and ``sampler`` gets this __init__
    sampler: str = ""

    def __init__(self, model: nn.Module, preset: str):
        """Wrap ``model`` (with ``spec``, ``latent``, ``latent_shape`` and ``posterior_mean``)."""
        self.model, self.latent = model, model.latent
        s = model.spec
        self.info = ModelInfo(self.family_name, self.family_name, preset, s.image_size, s.channels, model.latent_shape,
                              "continuous", sampler=self.sampler, can_interpolate=True)

    def posterior_mean(self, x: Tensor) -> Tensor:
        return self.model.posterior_mean(x)

    def decode(self, z: Tensor, steps: int, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        return self.posterior_mean(x.to(self.device)).flatten(1).float()

    @torch.no_grad()
    def decode_latent(self, z: Tensor, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        """``encode``'s flattened posterior mean back to images (the ``decode`` capability)."""
        return self.decode(z.to(self.device).view(len(z), *self.info.latent_shape), steps, generator).clamp(-1, 1)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        return self.decode(self.posterior_mean(x.to(self.device)), steps, generator).clamp(-1, 1)

    @torch.no_grad()
    def generate(self, n: int, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        return self.decode(self.latent.sample(n, steps, generator), steps, generator).clamp(-1, 1)

    @torch.no_grad()
    def interpolate(self, a: Tensor, b: Tensor, *, frames: int, steps: int, seed: int) -> Tensor:
        """Lerp between the two posterior means; every frame decoded with the same noise."""
        z = self.posterior_mean(torch.stack([a, b]).to(self.device))
        w = torch.linspace(0, 1, frames, device=self.device).view(-1, *([1] * (z.ndim - 1)))
        path = (1 - w) * z[:1] + w * z[1:]
        return torch.cat([self.decode(p[None], steps, torch.Generator().manual_seed(seed)) for p in path]).clamp(-1, 1)


def slerp(a: Tensor, b: Tensor, w: Tensor) -> Tensor:
    """Spherical interpolation between two noise tensors, for weights ``w`` (K,) -> (K, *a.shape)."""
    af, bf = a.flatten(), b.flatten()
    omega = torch.arccos((af @ bf / (af.norm() * bf.norm())).clamp(-1, 1))
    w = w.view(-1, 1)
    if omega.abs() < 1e-6:
        out = (1 - w) * af + w * bf
    else:
        out = (torch.sin((1 - w) * omega) * af + torch.sin(w * omega) * bf) / torch.sin(omega)
    return out.view(len(w), *a.shape)
