"""PSNR, SSIM and MSE on images in [0, 1] (tests check them against scikit-image)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def to_unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1]."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def mse(a: Tensor, b: Tensor) -> Tensor:
    """Per-image mean squared error, (B,)."""
    return (a.float() - b.float()).pow(2).flatten(1).mean(1)


def psnr(a: Tensor, b: Tensor, data_range: float = 1.0) -> Tensor:
    """Per-image PSNR in dB, (B,); identical images give +inf."""
    return 10 * torch.log10(data_range**2 / mse(a, b))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: Tensor, b: Tensor, data_range: float = 1.0) -> Tensor:
    """Per-image SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, population
    statistics, mean over the valid (unpadded) region and over channels. (B,)."""
    a, b = a.double(), b.double()
    c = a.shape[1]
    w = _gaussian_window().to(a.device).expand(c, 1, 11, 11)
    filt = lambda x: F.conv2d(x, w, groups=c)  # noqa: E731
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1).float()


def standard_error(per_item: Tensor) -> float:
    """Standard error of the mean of per-image values (std with ddof=1 over sqrt(n)): the uncertainty a task reports
    beside a mean over images, where a bootstrap of the mean would give the same number at many times the cost."""
    values = per_item.double().flatten()
    values = values[torch.isfinite(values)]
    if len(values) < 2:
        return float("nan")
    return (values.std(unbiased=True) / len(values) ** 0.5).item()


def with_standard_errors(means: dict[str, float], per_item: dict[str, Tensor]) -> dict[str, float]:
    """``means`` plus ``<name>_sem`` for each per-item tensor whose standard error is defined (two or more finite
    values); an undefined one is left out rather than written as NaN, so the page shows no ± for it."""
    out = dict(means)
    for name, values in per_item.items():
        sem = standard_error(values)
        if sem == sem:  # not NaN
            out[f"{name}_sem"] = sem
    return out
