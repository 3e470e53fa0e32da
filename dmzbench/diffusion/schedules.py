"""Noise schedules (beta_t), timestep respacing as in I-DDPM (Nichol & Dhariwal 2021), and each family's DDIM grid."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dmzbench.errors import UsageError


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """I-DDPM's cosine schedule: alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), betas capped at ``max_beta``."""

    def alpha_bar(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    return np.array(
        [min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), max_beta) for i in range(num_steps)],
        dtype=np.float64,
    )


def linear_betas(num_steps: int) -> np.ndarray:
    """DDPM's linear schedule 1e-4 -> 0.02 at T=1000, scaled so that other T keep the same total noise."""
    scale = 1000 / num_steps
    return np.linspace(scale * 1e-4, scale * 0.02, num_steps, dtype=np.float64)


def ldm_linear_betas(num_steps: int, start: float, end: float) -> np.ndarray:
    """LDM's "linear" schedule (CompVis/latent-diffusion ``make_beta_schedule``; diffusers' ``scaled_linear``): betas
    linear in sqrt(beta), ``linspace(start**0.5, end**0.5, T) ** 2``; the KL-f8 LDM uses 0.0015 -> 0.0155."""
    return np.linspace(start**0.5, end**0.5, num_steps, dtype=np.float64) ** 2


def constant_betas(num_steps: int, beta: float) -> np.ndarray:
    """The latent DDIM of DiffAE/PDAE uses a constant beta (0.008)."""
    return np.full(num_steps, beta, dtype=np.float64)


def named_betas(name: str, num_steps: int = 1000) -> np.ndarray:
    if name == "cosine":
        return cosine_betas(num_steps)
    if name == "linear":
        return linear_betas(num_steps)
    if name.startswith("constant:"):
        return constant_betas(num_steps, float(name.split(":", 1)[1]))
    if name.startswith("ldm-linear:"):
        ends = name.split(":")[1:]  # ":" not ",": a preset setting (comma-separated) may carry the name
        if len(ends) != 2:
            raise ValueError(f"beta schedule {name!r}: write ldm-linear:<start>:<end>, e.g. ldm-linear:0.0015:0.0155")
        return ldm_linear_betas(num_steps, float(ends[0]), float(ends[1]))
    raise ValueError(f"unknown beta schedule {name!r}; use cosine, linear, ldm-linear:<start>:<end> or constant:<beta>")


def space_timesteps(num_steps: int, count: int) -> list[int]:
    """``count`` timesteps of a ``num_steps`` process, evenly strided and always including 0 and T-1.

    I-DDPM's ``space_timesteps(T, [count])`` (one section) as it computes it: a float index advanced by the stride and
    rounded at each step, so odd counts land where the official grid does (K = 21 keeps 499: ten additions of 49.95 fall
    just below 499.5, which a product would round to 500). One step keeps T-1 (toolkit choice: I-DDPM keeps t = 0 alone, so its one step reads pure noise as
    an almost clean image).
    """
    if not 1 <= count <= num_steps:
        raise ValueError(f"cannot take {count} sampling steps from a {num_steps}-step process; use 1..{num_steps}")
    if count == 1:
        return [num_steps - 1]
    stride, index, kept = (num_steps - 1) / (count - 1), 0.0, set()
    for _ in range(count):
        kept.add(round(index))
        index += stride
    return sorted(kept)


GridStyle = Literal["even", "diffae", "pdae"]
GRID_STYLES: tuple[str, ...] = ("even", "diffae", "pdae")


@dataclass(frozen=True)
class DDIMGrid:
    """The timesteps a DDIM sampler keeps (ascending) and the lowest index it evaluates the network at.

    ``first_evaluated = 1`` (PDAE) makes the lowest kept timestep an end point only: the last step lands on alpha_bar of
    that timestep instead of 1 and the network is never called there.
    """

    style: str
    timesteps: tuple[int, ...]
    first_evaluated: int

    @property
    def evaluated(self) -> tuple[int, ...]:
        """The timesteps the sampler calls the network at, in sampling order (noisiest first)."""
        return tuple(reversed(self.timesteps[self.first_evaluated :]))


def _ddim_stride(num_steps: int, count: int, style: str) -> int:
    """The DDIM paper's integer stride as guided-diffusion picks it: the smallest s with len(range(0, T, s)) == count."""
    for stride in range(1, num_steps + 1):
        if len(range(0, num_steps, stride)) == count:
            return stride
    near = sorted({len(range(0, num_steps, s)) for s in range(1, num_steps + 1)}, key=lambda c: abs(c - count))[:3]
    raise UsageError(f"the {style} DDIM grid cannot take exactly {count} steps of {num_steps} with an integer stride; "
                     f"use e.g. {', '.join(map(str, sorted(near)))}")


def ddim_grid(style: str, num_steps: int, count: int) -> DDIMGrid:
    """The DDIM grid of ``count`` network evaluations in each family's own style:

    - ``even`` (I-DDPM respacing, DMZ and the toolkit's ddpm): ``space_timesteps``, 0 and T-1 both evaluated;
    - ``diffae`` (phizaz/diffae ``space_timesteps(T, "ddimK")``): range(0, T, s), the smallest integer stride s giving
      ``count`` steps; T = 10 gives 0, 100, ..., 900 and never 999; every kept step evaluated;
    - ``pdae`` (ckczzj/PDAE ``get_ddim_betas_and_timestep_map``): ``{int(s) for s in linspace(0, T-1, count+1)}``, and
      the sampler evaluates every kept step but the lowest (t = 0 is the end point): T = 10 keeps 0, 99, 199, ..., 999
      and evaluates 999, 899, ..., 99. Where count + 1 points truncate onto fewer integers (count near T) the set is
      smaller and so is the number of evaluations, as in the official loop.
    """
    if not 1 <= count <= num_steps:
        raise ValueError(f"cannot take {count} sampling steps from a {num_steps}-step process; use 1..{num_steps}")
    if style == "even":
        return DDIMGrid(style, tuple(space_timesteps(num_steps, count)), 0)
    if style == "diffae":
        return DDIMGrid(style, tuple(range(0, num_steps, _ddim_stride(num_steps, count, style))), 0)
    if style == "pdae":
        kept = {int(s) for s in np.linspace(0, num_steps - 1, count + 1)}
        return DDIMGrid(style, tuple(sorted(kept)), 1)
    raise ValueError(f"unknown DDIM grid {style!r}; use one of {', '.join(GRID_STYLES)}")
