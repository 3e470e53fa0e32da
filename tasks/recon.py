"""Reconstruction: encode then decode N test images; PSNR, SSIM, MSE (on [0, 1] images) and rFID.

rFID = FID(reconstructions, originals) in the named feature space. Diffusion decoders decode with ``steps`` steps from
a random x_T; models that can invert DDIM (DiffAE, PDAE) are also scored from the inferred x_T (metrics suffixed
``_inferred``), which gives near-perfect reconstructions and says little about the latent: both are reported, labelled.
The inversion takes ``invert_steps`` steps; 0 (default) = the family's official evaluation (PDAE ``autoencoding_eval``:
1000 to invert, whatever decodes; DiffAE ``evaluate_lpips``: as many as decode). The number used is recorded.

``psnr_other`` anchors PSNR at chance: each reconstruction scored against a DIFFERENT test image (image i against image
i-1). A decoder that ignored its latent and drew a plausible image would score about the same on ``psnr`` and
``psnr_other``; the gap is what the latent carries. (Toolkit choice: random-x_T decodes are samples, and a sample of the
right distribution is far from its source in pixels, so PSNR alone cannot tell a weak latent from a weak decoder.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from dmzbench.api import ImageData, Metric, ModelAdapter, ModelInfo, TaskContext, invertible, to_model_range
from dmzbench.config import at_most
from dmzbench.images import save_grid
from dmzbench.metrics.frechet import BOOTSTRAP_MEANING, GaussianStats, bootstrap_std, frechet_distance
from dmzbench.metrics.image import mse, psnr, ssim, to_unit, with_standard_errors
from dmzbench.budget import TaskCost
from dmzbench.tasks.common import FeatureSpaceOptions, map_images


@dataclass(frozen=True)
class ReconConfig(FeatureSpaceOptions):
    n_images: int = at_most(1000, 200_000)  # at most the split's size is used
    steps: int = at_most(100, 10_000)  # sampling steps; a bound stops a typo running for days
    split: Literal["test", "train"] = "test"
    x_T: Literal["both", "random", "inferred"] = "both"
    invert_steps: int = 0  # DDIM inversion steps for the inferred x_T; 0 = the family's official protocol
    features: str = "pinned"
    inception_weights: str = ""
    batch_size: int = 100

    def __post_init__(self):
        super().__post_init__()
        if self.n_images < 2 or self.steps < 1 or self.batch_size < 1 or self.invert_steps < 0:
            raise ValueError("n_images must be >= 2, steps >= 1, batch_size >= 1 and invert_steps >= 0")


def image_metrics(originals_uint8: torch.Tensor, outputs_uint8: torch.Tensor, extract, suffix: str = "") -> dict:
    a, b = to_unit(to_model_range(originals_uint8)), to_unit(to_model_range(outputs_uint8))
    per_image = {"psnr": psnr(a, b), "psnr_other": psnr(a.roll(1, 0), b), "ssim": ssim(a, b), "mse": mse(a, b)}
    out = with_standard_errors({k: v.mean().item() for k, v in per_image.items()},
                               {k: v for k, v in per_image.items() if k != "psnr_other"})
    generated, reference = extract(outputs_uint8), GaussianStats.of(extract(originals_uint8))
    out["rfid"] = frechet_distance(GaussianStats.of(generated), reference)
    out["rfid_std"] = bootstrap_std(generated, reference)
    return {k + suffix: v for k, v in out.items()}


class Recon:
    name = "recon"
    version = "3"  # 2: psnr_other; 3: invert_steps (official inversion counts), family DDIM grids
    Config = ReconConfig
    default_dataset = "fashion-mnist"
    requires = frozenset({"reconstruct"})
    training_mode = ""
    group = "Reconstruction"
    position = 5
    _sem = "standard error of the mean over images"
    metrics = (
        Metric("psnr", True, "PSNR (dB) of the reconstruction from a random x_T.", uncertainty="psnr_sem",
               uncertainty_meaning=_sem),
        Metric("psnr_other", None, "Chance level: the same reconstructions scored against a different test image.",
               chance=True, anchors="psnr"),
        Metric("ssim", True, "SSIM of the reconstruction from a random x_T.", uncertainty="ssim_sem",
               uncertainty_meaning=_sem),
        Metric("mse", False, "MSE of the reconstruction from a random x_T, images in [0, 1].", uncertainty="mse_sem",
               uncertainty_meaning=_sem),
        Metric("rfid", False, "FID of the reconstructions against the originals.", uncertainty="rfid_std",
               uncertainty_meaning=BOOTSTRAP_MEANING),
        Metric("psnr_inferred", True, "PSNR decoding from the DDIM-inverted x_T (DiffAE, PDAE).",
               uncertainty="psnr_sem_inferred", uncertainty_meaning=_sem),
        Metric("psnr_other_inferred", None, "Chance level of psnr_inferred.", chance=True, shown=False,
               anchors="psnr_inferred"),
        Metric("ssim_inferred", True, "SSIM decoding from the inverted x_T.", uncertainty="ssim_sem_inferred",
               uncertainty_meaning=_sem),
        Metric("mse_inferred", False, "MSE decoding from the inverted x_T.", uncertainty="mse_sem_inferred",
               uncertainty_meaning=_sem, shown=False),
        Metric("rfid_inferred", False, "rFID decoding from the inverted x_T.", uncertainty="rfid_std_inferred",
               uncertainty_meaning=BOOTSTRAP_MEANING),
    )
    artifacts = {"reconstructions_*.png": "top: test images; bottom: their reconstructions"}

    @staticmethod
    def cost(config: ReconConfig, info: ModelInfo, invert_steps=lambda purpose, steps: steps) -> TaskCost:
        """Encode + decode each image from random x_T and, for invertible models, from the DDIM-inverted x_T
        (``invert_steps(purpose, decode_steps)``: the family's official inversion count, as ``run`` uses it)."""
        inverting = info.can_invert and config.x_T != "random"
        decodes = 2 if inverting and config.x_T == "both" else 1
        inversion = (config.invert_steps or invert_steps("recon", config.steps)) if inverting else 0
        return TaskCost(denoiser_forwards=config.n_images * (decodes * config.steps + inversion),
                        encoded_images=config.n_images * 2, fixed_s=5)

    def run(self, adapter: ModelAdapter, data: ImageData, config: ReconConfig, ctx: TaskContext) -> dict[str, float]:
        space = config.feature_space(data, ctx.device)
        originals = data.split(config.split)[0][: config.n_images]
        modes = ["random", "inferred"] if config.x_T == "both" else [config.x_T]
        modes = [m for m in modes if m == "random" or invertible(adapter)]
        ctx.details.update(space.describe(), n_images=len(originals), split=config.split, decode_steps=config.steps,
                           x_T=modes, sampler=adapter.info.sampler, seed=ctx.seed)
        invert_steps = None
        if "inferred" in modes:
            invert_steps = config.invert_steps or adapter.invert_steps_for("recon", config.steps)
            ctx.details["invert_steps"] = invert_steps
        metrics = {}
        for mode in modes:
            g = ctx.generator(config.steps)
            kw = {"x_T": mode, "invert_steps": invert_steps} if invertible(adapter) else {}  # InvertibleAdapter

            def rec(x: torch.Tensor) -> torch.Tensor:
                return adapter.reconstruct(x, steps=config.steps, generator=g, **kw)

            outputs = map_images(rec, originals, config.batch_size, ctx, what=f"recon: x_T={mode}: decoded")
            metrics.update(image_metrics(originals, outputs, space.extract, "" if mode == "random" else "_inferred"))
            save_grid(ctx.output_dir / f"reconstructions_{mode}.png", torch.cat([originals[:16], outputs[:16]]), 16)
        return metrics
