"""The diffusion core shared by every family: schedules, the Gaussian process and its losses, samplers, timestep sampling."""

from dmzbench.diffusion.gaussian import GaussianDiffusion
from dmzbench.diffusion.schedules import DDIMGrid, ddim_grid, named_betas, space_timesteps

__all__ = ["DDIMGrid", "GaussianDiffusion", "ddim_grid", "named_betas", "space_timesteps"]
