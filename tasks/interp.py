"""Interpolation smoothness: walk the latent between two test images and measure how even the steps are.

Each model interpolates its natural way (DMZ: flip the differing bits one by one; DiffAE/PDAE: lerp z, slerp the
inverted x_T; SD-VAE/DGAE: lerp the latent), K frames decoded with the same noise. Distances between consecutive
frames in the pinned feature space give ``step_mean`` (a PPL-like mean step; PPL proper uses LPIPS, unavailable here) and
``step_max_over_mean`` (1.0 = perfectly even steps; a jump shows as a large ratio), averaged over pairs. Both are
guarded by ``path_span``: the distance between the path's decoded end frames over the distance between the two real
test images (1.0 = the path spans the real pair; near 0 = it does not move, and a path that does not move is perfectly
smooth). A smoothness whose path spans less than ``SPAN_FLOOR`` is flagged on the page and never ranked best. A PNG
strip of the first pairs is saved. Models that invert DDIM do it with ``invert_steps`` steps; 0 (default) = the
family's official count (DiffAE ``interpolate.ipynb``: 250; PDAE ``interpolation.py``: 100), recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from dmzbench.api import ImageData, Metric, ModelAdapter, ModelInfo, TaskContext, invertible, to_model_range
from dmzbench.config import at_most
from dmzbench.errors import UsageError
from dmzbench.images import save_grid, to_uint8
from dmzbench.metrics.image import with_standard_errors
from dmzbench.budget import TaskCost
from dmzbench.tasks.common import FeatureSpaceOptions


@dataclass(frozen=True)
class InterpConfig(FeatureSpaceOptions):
    n_pairs: int = 16
    frames: int = at_most(8, 1_000)  # one path is decoded as one batch of frames
    steps: int = at_most(20, 10_000)  # sampling steps; a bound stops a typo running for days
    invert_steps: int = 0  # DDIM inversion steps of the endpoints' x_T (DiffAE/PDAE); 0 = the family's official count
    split: Literal["test", "train"] = "test"
    features: str = "pinned"
    inception_weights: str = ""

    def __post_init__(self):
        super().__post_init__()
        if self.n_pairs < 1 or self.frames < 3 or self.steps < 1 or self.invert_steps < 0:
            raise ValueError("n_pairs must be >= 1, frames >= 3, steps >= 1 and invert_steps >= 0")


SPAN_FLOOR = 0.25  # a path whose end frames are under a quarter as far apart as the real images does not move


def path_span(path_features: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> float:
    """Distance between a path's end frames over the distance between the real end points it joins (features)."""
    real = (b - a).norm().item()
    return (path_features[-1] - path_features[0]).norm().item() / real if real > 0 else 0.0


def step_statistics(features: torch.Tensor) -> tuple[float, float]:
    """(K, D) features of a path -> (mean consecutive distance, max / mean)."""
    d = (features[1:] - features[:-1]).norm(dim=1)
    mean = d.mean().item()
    return mean, (d.max().item() / mean) if mean > 0 else 1.0


class Interp:
    name = "interp"
    version = "2"  # 2: invert_steps (official inversion counts), family DDIM grids
    Config = InterpConfig
    default_dataset = "fashion-mnist"
    requires = frozenset({"interpolate"})
    training_mode = ""
    group = "Interpolation"
    position = 6
    _sem = "standard error of the mean over pairs"
    _guard = {"guard": "path_span", "guard_floor": SPAN_FLOOR}
    metrics = (
        Metric("step_mean", False, "Mean distance between consecutive frames in the feature space (PPL-like).",
               uncertainty="step_mean_sem", uncertainty_meaning=_sem, **_guard),
        Metric("step_max_over_mean", False, "Largest step over the mean step (1.0 = perfectly even).",
               uncertainty="step_max_over_mean_sem", uncertainty_meaning=_sem, **_guard),
        Metric("path_span", None, "Guard against constant paths: distance between the path's end frames over the "
               f"distance between the real end images (1.0 = spans the pair; under {SPAN_FLOOR} = does not move).",
               uncertainty="path_span_sem", uncertainty_meaning=_sem),
    )
    artifacts = {"interpolations.png": "each row: a path from one test image to another"}

    @staticmethod
    def cost(config: InterpConfig, info: ModelInfo, invert_steps=lambda purpose, steps: steps) -> TaskCost:
        """Each frame is one decode; invertible models also invert both end points (the official count by default)."""
        inversion = 2 * (config.invert_steps or invert_steps("interp", config.steps)) if info.can_invert else 0
        return TaskCost(denoiser_forwards=config.n_pairs * (config.frames * config.steps + inversion),
                        encoded_images=2 * config.n_pairs, fixed_s=2)

    @staticmethod
    def validate(data: ImageData, config: InterpConfig) -> None:
        """Each pair takes two images of the split: refused before any training when the split has too few."""
        n = data.split_sizes[config.split]
        if 2 * config.n_pairs > n:
            raise UsageError(f"option n_pairs={config.n_pairs} needs {2 * config.n_pairs:,} images, the {config.split} "
                             f"split of {data.spec.name} has {n:,}; use n_pairs={n // 2} or fewer")

    def run(self, adapter: ModelAdapter, data: ImageData, config: InterpConfig, ctx: TaskContext) -> dict[str, float]:
        space = config.feature_space(data, ctx.device)
        images = data.split(config.split)[0][: 2 * config.n_pairs]
        kw = {}
        if invertible(adapter):  # an InvertibleAdapter's interpolate takes invert_steps
            kw["invert_steps"] = config.invert_steps or adapter.invert_steps_for("interp", config.steps)
            ctx.details["invert_steps"] = kw["invert_steps"]
        real = space.extract(images).double()  # the end points' own features: what a path should span
        means, ratios, spans, strips = [], [], [], []
        for i in range(config.n_pairs):
            a, b = to_model_range(images[2 * i : 2 * i + 2]).to(ctx.device)
            path = to_uint8(adapter.interpolate(a, b, frames=config.frames, steps=config.steps, seed=ctx.seed + i, **kw))
            features = space.extract(path).double()
            mean, ratio = step_statistics(features)
            means.append(mean)
            ratios.append(ratio)
            spans.append(path_span(features, real[2 * i], real[2 * i + 1]))
            if i < 4:
                strips.append(path)
        save_grid(ctx.output_dir / "interpolations.png", torch.cat(strips), config.frames)
        ctx.details.update(space.describe(), n_pairs=config.n_pairs, frames=config.frames, decode_steps=config.steps,
                           path=adapter.info.latent_kind, seed=ctx.seed,
                           noise="shared by every frame: x_T and each sampling step's noise")
        per_pair = {"step_mean": torch.tensor(means, dtype=torch.float64),
                    "step_max_over_mean": torch.tensor(ratios, dtype=torch.float64),
                    "path_span": torch.tensor(spans, dtype=torch.float64)}
        return with_standard_errors({k: v.mean().item() for k, v in per_pair.items()}, per_pair)
