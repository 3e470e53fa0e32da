"""The Gaussian diffusion process: forward noising, posteriors, I-DDPM's learned-range variance and hybrid loss.

Index convention: ``t`` is an index into this process's arrays. A respaced process (fewer steps) keeps
``timestep_map[t]``, the original timestep the network was trained on, which is what the network must be given.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


# Schedule arrays already copied to an accelerator: a blocking host-to-device copy in every training step would
# synchronise the device several times per step. Bounded, because samplers also index short-lived arrays.
_ON_DEVICE: OrderedDict[tuple[int, str], tuple[np.ndarray, Tensor]] = OrderedDict()


def extract(arr: np.ndarray, t: Tensor, ndim: int) -> Tensor:
    """``arr[t]`` (a per-timestep table, e.g. ``alphas_cumprod``) as a float tensor broadcastable to ``ndim`` dims."""
    if t.device.type == "cpu":
        table = torch.from_numpy(arr)
    else:
        key = (id(arr), str(t.device))
        hit = _ON_DEVICE.get(key)
        if hit is None or hit[0] is not arr:
            hit = _ON_DEVICE[key] = (arr, torch.from_numpy(arr).to(t.device))
            while len(_ON_DEVICE) > 64:
                _ON_DEVICE.popitem(last=False)
        table = hit[1]
    return table[t].float().reshape(-1, *([1] * (ndim - 1)))


def normal_kl(mean1: Tensor, logvar1: Tensor, mean2: Tensor, logvar2: Tensor) -> Tensor:
    """KL(N(mean1, e^logvar1) || N(mean2, e^logvar2)), elementwise, in nats."""
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def discretized_gaussian_log_likelihood(x: Tensor, means: Tensor, log_scales: Tensor) -> Tensor:
    """Log-likelihood of 8-bit data x in [-1, 1] under a Gaussian discretised into 256 bins (DDPM's decoder L_0).

    Toolkit choice: the exact normal CDF (torch.special.ndtr) where I-DDPM uses a tanh approximation of it.
    """
    centered = x - means
    inv_std = torch.exp(-log_scales)
    cdf_plus = torch.special.ndtr(inv_std * (centered + 1.0 / 255.0))
    cdf_min = torch.special.ndtr(inv_std * (centered - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    log_cdf_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_cdf_delta))


class GaussianDiffusion:
    def __init__(self, betas: np.ndarray, timestep_map: Sequence[int] | None = None, original_steps: int | None = None):
        self.betas = np.asarray(betas, dtype=np.float64)
        self.num_steps = len(self.betas)
        self.original_steps = original_steps or self.num_steps
        self.timestep_map = np.asarray(timestep_map if timestep_map is not None else range(self.num_steps), np.int64)

        alphas = 1.0 - self.betas
        self.alphas_cumprod = np.cumprod(alphas)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.sqrt_alphas_cumprod = np.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - self.alphas_cumprod)
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod - 1)

        self.posterior_variance = self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # The posterior variance is 0 at t=0; its log is clipped to the t=1 value (as in I-DDPM).
        self.posterior_log_variance_clipped = np.log(
            np.append(self.posterior_variance[1], self.posterior_variance[1:])
            if self.num_steps > 1
            else self.betas.copy()
        )
        self.posterior_mean_coef1 = self.betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * np.sqrt(alphas) / (1.0 - self.alphas_cumprod)

    # ----------------------------------------------------------------------------------------------------- respacing
    def respaced(self, timesteps: Sequence[int]) -> GaussianDiffusion:
        """The process restricted to ``timesteps`` (sorted), with betas recomputed so alpha_bar matches at each kept t."""
        keep, betas, last = set(timesteps), [], 1.0
        for i, abar in enumerate(self.alphas_cumprod):
            if i in keep:
                betas.append(1 - abar / last)
                last = abar
        return GaussianDiffusion(np.array(betas), timestep_map=sorted(timesteps), original_steps=self.num_steps)

    def model_timesteps(self, t: Tensor) -> Tensor:
        """Indices of this process -> the original timesteps the network expects."""
        return torch.from_numpy(self.timestep_map).to(t.device)[t]

    # ------------------------------------------------------------------------------------------------------ forward
    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        return extract(self.sqrt_alphas_cumprod, t, x0.ndim) * x0 + extract(
            self.sqrt_one_minus_alphas_cumprod, t, x0.ndim
        ) * noise

    def q_posterior(self, x0: Tensor, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mean, variance and clipped log-variance of q(x_{t-1} | x_t, x_0)."""
        mean = extract(self.posterior_mean_coef1, t, x_t.ndim) * x0 + extract(
            self.posterior_mean_coef2, t, x_t.ndim
        ) * x_t
        return (
            mean,
            extract(self.posterior_variance, t, x_t.ndim),
            extract(self.posterior_log_variance_clipped, t, x_t.ndim),
        )

    def predict_x0(self, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        return extract(self.sqrt_recip_alphas_cumprod, t, x_t.ndim) * x_t - extract(
            self.sqrt_recipm1_alphas_cumprod, t, x_t.ndim
        ) * eps

    def predict_eps(self, x_t: Tensor, t: Tensor, x0: Tensor) -> Tensor:
        return (extract(self.sqrt_recip_alphas_cumprod, t, x_t.ndim) * x_t - x0) / extract(
            self.sqrt_recipm1_alphas_cumprod, t, x_t.ndim
        )

    # ------------------------------------------------------------------------------------------------------ reverse
    def p_mean_variance(
        self, model_out: Tensor, x_t: Tensor, t: Tensor, *, learned_variance: bool, clip_x0: bool
    ) -> dict[str, Tensor]:
        """p(x_{t-1} | x_t) from the network output: eps, plus (learned_range) v in [-1, 1] interpolating log-variance
        between the posterior's (min) and beta_t (max); without learned variance, the fixed-small posterior variance."""
        if learned_variance:
            eps, v = model_out.chunk(2, dim=1)
            min_log = extract(self.posterior_log_variance_clipped, t, x_t.ndim)
            max_log = extract(np.log(self.betas), t, x_t.ndim)
            frac = (v + 1) / 2
            log_var = frac * max_log + (1 - frac) * min_log
        else:
            eps = model_out
            log_var = extract(self.posterior_log_variance_clipped, t, x_t.ndim).expand_as(x_t)
        x0 = self.predict_x0(x_t, t, eps)
        if clip_x0:
            x0 = x0.clamp(-1, 1)
        mean, _, _ = self.q_posterior(x0, x_t, t)
        return {"mean": mean, "log_variance": log_var, "pred_x0": x0, "eps": eps}

    # ------------------------------------------------------------------------------------------------------- losses
    def vb_terms_bpd(self, model_out: Tensor, x0: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """The variational-bound term L_t per example, in bits per dimension: KL(q posterior || p) for t > 0, the
        discretised decoder NLL for t = 0."""
        true_mean, _, true_log_var = self.q_posterior(x0, x_t, t)
        out = self.p_mean_variance(model_out, x_t, t, learned_variance=True, clip_x0=False)
        kl = normal_kl(true_mean, true_log_var, out["mean"], out["log_variance"]).flatten(1).mean(1) / math.log(2.0)
        nll = -discretized_gaussian_log_likelihood(x0, out["mean"], 0.5 * out["log_variance"])
        nll = nll.flatten(1).mean(1) / math.log(2.0)
        return torch.where(t == 0, nll, kl)

    def hybrid_loss(self, model_out: Tensor, x0: Tensor, x_t: Tensor, t: Tensor, noise: Tensor) -> dict[str, Tensor]:
        """I-DDPM L_hybrid per example: eps-MSE + the vb term, rescaled by T/1000, whose gradient reaches only the
        variance output (the mean is frozen in the vb term, as in the paper)."""
        eps, v = model_out.chunk(2, dim=1)
        mse = ((noise - eps) ** 2).flatten(1).mean(1)
        vb = self.vb_terms_bpd(torch.cat([eps.detach(), v], dim=1), x0, x_t, t) * (self.num_steps / 1000.0)
        return {"loss": mse + vb, "mse": mse, "vb": vb}
