"""Samplers for any number of steps: respaced ancestral sampling (I-DDPM) and deterministic DDIM (eta = 0) with its
inversion, on each family's own DDIM grid (``schedules.ddim_grid``: ``even``, ``diffae``, ``pdae``).

``denoise(x_t, t_model)`` is the network: it takes the ORIGINAL timestep and returns eps (and, with learned variance,
the variance interpolation v stacked on the channel axis). Noise comes from ``generator`` on the CPU so that a seed gives
the same images on any device.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from dmzbench.diffusion.gaussian import GaussianDiffusion, extract
from dmzbench.diffusion.schedules import DDIMGrid, ddim_grid, space_timesteps

Denoiser = Callable[[Tensor, Tensor], Tensor]


def randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device)


def _start(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str,
           x_T: Tensor | None) -> tuple[torch.device, Tensor]:
    """What every sampler opens with: the device, and x_T (the one given, else noise drawn from ``generator``)."""
    device = torch.device(device)
    return device, (x_T.to(device) if x_T is not None else randn(shape, generator, device))


def _level(i: int, batch: int, device: torch.device) -> Tensor:
    """Level ``i`` of a respaced process, for each of ``batch`` images."""
    return torch.full((batch,), i, device=device, dtype=torch.long)


def _ddim_process(base: GaussianDiffusion, grid: str, steps: int) -> tuple[DDIMGrid, GaussianDiffusion]:
    """The family's DDIM grid of ``steps`` evaluations and the process respaced to it (sampler and inversion alike)."""
    plan = ddim_grid(grid, base.num_steps, steps)
    return plan, base.respaced(plan.timesteps)


@torch.no_grad()
def ancestral_sample(
    denoise: Denoiser,
    base: GaussianDiffusion,
    shape: tuple[int, ...],
    steps: int,
    *,
    learned_variance: bool,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    x_T: Tensor | None = None,
) -> Tensor:
    """Ancestral sampling of p(x_{t-1}|x_t) on the process respaced to ``steps`` steps; x0 predictions clipped to [-1, 1]."""
    device, x = _start(shape, generator, device, x_T)
    process = base.respaced(space_timesteps(base.num_steps, steps))
    for i in reversed(range(process.num_steps)):
        t = _level(i, shape[0], device)
        out = process.p_mean_variance(
            denoise(x, process.model_timesteps(t)).float(), x, t, learned_variance=learned_variance, clip_x0=True
        )
        x = out["mean"]
        if i > 0:
            x = x + torch.exp(0.5 * out["log_variance"]) * randn(shape, generator, device)
    return x.clamp(-1, 1)


@torch.no_grad()
def ddim_sample(
    denoise: Denoiser,
    base: GaussianDiffusion,
    shape: tuple[int, ...],
    steps: int,
    *,
    learned_variance: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    x_T: Tensor | None = None,
    clip_x0: bool = True,
    clip_output: bool | None = None,
    grid: str = "even",
) -> Tensor:
    """DDIM with eta = 0 with ``steps`` network evaluations on the family's ``grid``:
    x_{prev} = sqrt(abar_prev) x0 + sqrt(1-abar_prev) eps, x0 clipped to [-1, 1] (and eps re-derived) when ``clip_x0``.
    The output is clamped to [-1, 1] when ``clip_output`` (default: as ``clip_x0``; images must be in range, PDAE's
    latent sampler clips the x0 predictions only)."""
    device, x = _start(shape, generator, device, x_T)
    plan, process = _ddim_process(base, grid, steps)
    abar_prev = np.append(1.0, process.alphas_cumprod[:-1])
    for i in reversed(range(plan.first_evaluated, process.num_steps)):
        t = _level(i, shape[0], device)
        eps, x0 = _eps_and_x0(denoise, process, x, t, learned_variance, clip_x0)
        a_prev = extract(abar_prev, t, x.ndim)
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x.clamp(-1, 1) if (clip_x0 if clip_output is None else clip_output) else x


def _eps_and_x0(denoise: Denoiser, process, x: Tensor, t: Tensor, learned_variance: bool, clip_x0: bool,
                ) -> tuple[Tensor, Tensor]:
    """One DDIM evaluation: eps and the predicted x0 at (x, t); with ``clip_x0`` the x0 is clipped and eps re-derived
    from it (guided-diffusion's ``clip_denoised``), as both the sampler and the inversion do."""
    out = denoise(x, process.model_timesteps(t)).float()
    eps = out.chunk(2, dim=1)[0] if learned_variance else out
    x0 = process.predict_x0(x, t, eps)
    if clip_x0:
        x0 = x0.clamp(-1, 1)
        eps = process.predict_eps(x, t, x0)
    return eps, x0


@torch.no_grad()
def ddim_invert(
    denoise: Denoiser,
    base: GaussianDiffusion,
    x0: Tensor,
    steps: int,
    *,
    learned_variance: bool = False,
    clip_x0: bool = True,
    grid: str = "even",
) -> Tensor:
    """Run DDIM backwards (x_0 -> x_T): the "inferred x_T" of DiffAE/PDAE, from which DDIM nearly reproduces x0.

    As both official codes do it (DiffAE ``ddim_reverse_sample``, PDAE ``shift_ddim_encode``): the image is taken as the
    lowest kept level; at level i eps is evaluated at (x_i, t_i), x0 predicted (clipped) and x moved to alpha_bar of
    level i+1, which past the last kept level is 0 (guided-diffusion's ``alphas_cumprod_next``). On the ``pdae`` grid the
    walk stops at the top kept level (T-1) after ``steps`` evaluations.
    """
    plan, process = _ddim_process(base, grid, steps)
    abar_next = np.append(process.alphas_cumprod[1:], 0.0)
    x = x0
    for i in range(process.num_steps - plan.first_evaluated):
        t = _level(i, x.shape[0], x.device)
        eps, pred_x0 = _eps_and_x0(denoise, process, x, t, learned_variance, clip_x0)
        a_next = extract(abar_next, t, x.ndim)
        x = a_next.sqrt() * pred_x0 + (1 - a_next).sqrt() * eps
    return x
