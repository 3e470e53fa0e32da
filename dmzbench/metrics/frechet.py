"""The Frechet distance between Gaussians fitted to two feature sets (the FID formula).

Computed as ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2}), with Tr((S1 S2)^{1/2}) from the eigenvalues of
S1 S2 in float64 (tests compare with scipy's sqrtm and with torch-fidelity on the same features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class GaussianStats:
    mu: np.ndarray
    sigma: np.ndarray
    n: int

    @classmethod
    def of(cls, features: torch.Tensor | np.ndarray) -> GaussianStats:
        f = np.asarray(features.double().numpy() if isinstance(features, torch.Tensor) else features, dtype=np.float64)
        if len(f) < 2:
            raise ValueError(f"a Frechet distance needs at least 2 samples per set, got {len(f)}")
        return cls(f.mean(0), np.cov(f, rowvar=False), len(f))


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    diff = a.mu - b.mu
    eig = np.linalg.eigvals(a.sigma @ b.sigma).astype(np.complex128)
    tr_covmean = float(np.sqrt(eig).real.sum())
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * tr_covmean)
