"""Interpolation smoothness: walk the latent between two test images and measure how even the steps are.

Each model interpolates its natural way (DMZ: flip the differing bits one by one; DiffAE/PDAE: lerp z, slerp the
inverted x_T; SD-VAE/DGAE: lerp the latent), K frames decoded with the same noise. Distances between consecutive
frames in the pinned feature space give ``step_mean`` (a PPL-like mean step; PPL proper uses LPIPS, unavailable here) and
``step_max_over_mean`` (1.0 = perfectly even steps; a jump shows as a large ratio), averaged over pairs. A PNG strip of
the first pairs is saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from dmzbench.api import ImageData, Metric, ModelAdapter, TaskContext, to_model_range
from dmzbench.images import save_grid, to_uint8
from dmzbench.metrics.features import check_space_name, resolve
from dmzbench.metrics.image import with_standard_errors


@dataclass(frozen=True)
class InterpConfig:
    n_pairs: int = 16
    frames: int = 8
    steps: int = 20
    split: Literal["test", "train"] = "test"
    features: str = "pinned"
    inception_weights: str = ""

    def __post_init__(self):
        check_space_name(self.features)
        if self.n_pairs < 1 or self.frames < 3 or self.steps < 1:
            raise ValueError("n_pairs must be >= 1, frames >= 3 and steps >= 1")


def step_statistics(features: torch.Tensor) -> tuple[float, float]:
    """(K, D) features of a path -> (mean consecutive distance, max / mean)."""
    d = (features[1:] - features[:-1]).norm(dim=1)
    mean = d.mean().item()
    return mean, (d.max().item() / mean) if mean > 0 else 1.0


class Interp:
    name = "interp"
    version = "1"
    Config = InterpConfig
    default_dataset = "fashion-mnist"
    requires = frozenset({"interpolate"})
    training_mode = ""
    group = "Interpolation"
    position = 6
    _sem = "standard error of the mean over pairs"
    metrics = (
        Metric("step_mean", False, "Mean distance between consecutive frames in the feature space (PPL-like).",
               uncertainty="step_mean_sem", uncertainty_meaning=_sem),
        Metric("step_max_over_mean", False, "Largest step over the mean step (1.0 = perfectly even).",
               uncertainty="step_max_over_mean_sem", uncertainty_meaning=_sem),
    )
    artifacts = {"interpolations.png": "each row: a path from one test image to another"}

    def run(self, adapter: ModelAdapter, data: ImageData, config: InterpConfig, ctx: TaskContext) -> dict[str, float]:
        space = resolve(config.features, data.spec.name, inception_weights=config.inception_weights, device=ctx.device)
        images = data.split(config.split)[0][: 2 * config.n_pairs]
        if len(images) < 2 * config.n_pairs:
            raise ValueError(f"{config.split} split has fewer than {2 * config.n_pairs} images")
        means, ratios, strips = [], [], []
        for i in range(config.n_pairs):
            a, b = to_model_range(images[2 * i : 2 * i + 2]).to(ctx.device)
            path = to_uint8(adapter.interpolate(a, b, frames=config.frames, steps=config.steps, seed=ctx.seed + i))
            mean, ratio = step_statistics(space.extract(path).double())
            means.append(mean)
            ratios.append(ratio)
            if i < 4:
                strips.append(path)
        save_grid(ctx.output_dir / "interpolations.png", torch.cat(strips), config.frames)
        ctx.details.update(space.describe(), n_pairs=config.n_pairs, frames=config.frames, decode_steps=config.steps,
                           path=adapter.info.latent_kind, seed=ctx.seed)
        per_pair = {"step_mean": torch.tensor(means, dtype=torch.float64),
                    "step_max_over_mean": torch.tensor(ratios, dtype=torch.float64)}
        return with_standard_errors({k: v.mean().item() for k, v in per_pair.items()}, per_pair)
