"""Noise schedules (beta_t) and timestep respacing, as in I-DDPM (Nichol & Dhariwal 2021)."""

from __future__ import annotations

import math

import numpy as np


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
    raise ValueError(f"unknown beta schedule {name!r}; use cosine, linear or constant:<beta>")


def space_timesteps(num_steps: int, count: int) -> list[int]:
    """``count`` timesteps of a ``num_steps`` process, evenly strided and always including 0 and T-1.

    Same rule as I-DDPM's ``space_timesteps(T, [count])`` (one section).
    """
    if not 1 <= count <= num_steps:
        raise ValueError(f"cannot take {count} sampling steps from a {num_steps}-step process; use 1..{num_steps}")
    if count == 1:
        return [num_steps - 1]
    stride = (num_steps - 1) / (count - 1)
    return sorted({round(i * stride) for i in range(count)})
