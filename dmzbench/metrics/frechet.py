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


BOOTSTRAP = 10  # resamples behind every FID's uncertainty (docs/metrics.md)
BOOTSTRAP_MEANING = f"std over {BOOTSTRAP} bootstrap resamples of the generated features"


def bootstrap_std(features: torch.Tensor, ref: GaussianStats, resamples: int = BOOTSTRAP, seed: int = 0) -> float:
    """Std (ddof = 1) of the Frechet distance to ``ref`` over ``resamples`` bootstrap resamples (with replacement, N
    each) of ``features``, the reference fixed: how much the FID moves with the finite sample. Seeded: a rerun gives
    the same estimate."""
    features = torch.as_tensor(features).double().cpu()
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(resamples):
        pick = torch.randint(len(features), (len(features),), generator=g)
        values.append(frechet_distance(GaussianStats.of(features[pick]), ref))
    return float(np.std(values, ddof=1))
