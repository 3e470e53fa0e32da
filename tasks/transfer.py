"""Domain transfer (sketch -> photo): the model is trained in paired mode (its encoder sees the source domain, its
decoder produces the target domain), then translates N test sources.

Metrics: FID of the translations against the real target test images (in the named feature space), and MSE / SSIM to
the paired ground truth. LPIPS, which papers add, needs weights this machine cannot download: not reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dmzbench.api import ImageData, Metric, ModelAdapter, ModelInfo, TaskContext, to_model_range
from dmzbench.budget import TaskCost
from dmzbench.config import at_most
from dmzbench.images import in_batches, save_grid, to_uint8
from dmzbench.metrics.features import check_space_name, resolve
from dmzbench.metrics.frechet import GaussianStats, frechet_distance
from dmzbench.metrics.image import mse, ssim, to_unit, with_standard_errors


@dataclass(frozen=True)
class TransferConfig:
    n_images: int = 1000
    steps: int = at_most(100, 10_000)  # sampling steps; a bound stops a typo running for days
    features: str = "pinned"
    inception_weights: str = ""
    batch_size: int = 100

    def __post_init__(self):
        check_space_name(self.features)
        if self.n_images < 2 or self.steps < 1 or self.batch_size < 1:
            raise ValueError("n_images must be >= 2, steps >= 1 and batch_size >= 1")


class Transfer:
    name = "transfer"
    version = "1"
    Config = TransferConfig
    default_dataset = "edges2fashion"
    requires = frozenset({"reconstruct"})
    training_mode = "paired"
    group = "Representation"
    position = 3
    metrics = (
        Metric("fid", False, "FID of the translations against the real target test images."),
        Metric("mse", False, "Mean squared error to the paired ground truth, images in [0, 1].", uncertainty="mse_sem",
               uncertainty_meaning="standard error of the mean over images"),
        Metric("ssim", True, "SSIM to the paired ground truth.", uncertainty="ssim_sem",
               uncertainty_meaning="standard error of the mean over images"),
    )
    artifacts = {"translations.png": "rows: sources, translations, targets"}

    @staticmethod
    def cost(config: TransferConfig, info: ModelInfo, invert_steps=None) -> TaskCost:
        """Encode each source image and decode it once."""
        return TaskCost(denoiser_forwards=config.n_images * config.steps, encoded_images=config.n_images, fixed_s=5)

    def run(self, adapter: ModelAdapter, data: ImageData, config: TransferConfig, ctx: TaskContext) -> dict[str, float]:
        space = resolve(config.features, data.spec.name, inception_weights=config.inception_weights, device=ctx.device)
        sources = data.test_sources[: config.n_images]
        targets = data.test_images[: config.n_images]
        g = ctx.generator(config.steps)

        def translate(i: int, k: int) -> torch.Tensor:
            x = to_model_range(sources[i : i + k]).to(ctx.device)
            return to_uint8(adapter.reconstruct(x, steps=config.steps, generator=g))

        out = in_batches(translate, len(sources), config.batch_size, log=ctx.log, what="transfer: translated")
        a, b = to_unit(to_model_range(targets)), to_unit(to_model_range(out))
        ctx.details.update(space.describe(), n_images=len(sources), decode_steps=config.steps, x_T="random",
                           reference="paired test targets", seed=ctx.seed)
        save_grid(ctx.output_dir / "translations.png", torch.cat([sources[:16], out[:16], targets[:16]]), 16)
        per_image = {"mse": mse(a, b), "ssim": ssim(a, b)}
        fid = frechet_distance(GaussianStats.of(space.extract(out)), GaussianStats.of(space.extract(targets)))
        return with_standard_errors({"fid": fid, **{k: v.mean().item() for k, v in per_image.items()}}, per_image)
