"""DGAE: a diffusion-guided autoencoder (arXiv 2506.09644; no official code).

From the paper:
- encoder: the SD-VAE encoder, a Gaussian spatial latent z (H/f x W/f x c), reparameterised;
- decoder: an ADM-style UNet diffusion model; z is nearest-upsampled to pixel size and concatenated with the noisy
  image along channels; decoding starts from x_T ~ N(0, I) and denoises conditioned on z;
- loss: alpha * L_DSM + beta * L_KL + eta * L_LPIPS, LPIPS on the one-step prediction x0' = x_t - t * v, which implies a
  linear (rectified-flow) interpolation; no GAN;
- AdamW (0.9, 0.95), lr 1e-4, wd 0.1, grad clip 1.0; generation = latent diffusion on z, then the diffusion decoder.

Toolkit choices (the paper does not state them): rectified flow x_t = (1-t) x0 + t eps with t ~ U(0, 1), v-target
eps - x0, lambda(t) = 1, Euler sampling from t = 1 to 0 in ``steps`` steps; alpha = 1, beta = 1e-6 (SD-VAE's KL weight),
eta = 0.1; the perceptual term is LPIPS where its weights load and otherwise an L1 distance on x0' (the stand-in is
named in the run's config); the latent model is the one SD-VAE uses; no flip (the paper names none).

KL scaling (toolkit choice, stated): L_DSM is a per-pixel mean, so the per-image KL sum is divided by the number of pixel
values (C*H*W) before beta multiplies it. That gives KL the same weight relative to reconstruction as in SD-VAE, whose
reconstruction term is a per-image sum beside 1e-6 * the per-image KL sum (a raw KL sum here would be C*H*W times
stronger).

Presets: ``b-paper`` is DGAE-B (f16, 16 channels at 256 px) with the paper's 10k-step warm-up and cosine decay to 1e-5;
``small-f16c16`` has the paper's compression at 32 px (2x2x16 = 64 latent values), the same latent size as SD-VAE's
``small-f8c4`` (4x4x4), so the paper's claim "DGAE beats SD-VAE at equal latent size" can be checked on our data; the
smoke and small presets keep SD-VAE smoke/small's f4 x 3 latent and a constant learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution, Encoder
from torch import Tensor, nn

from dmzbench.adapters import SpatialLatentAdapter
from dmzbench.api import Baseline, DataSpec, TrainStage
from dmzbench.diffusion.sampling import randn
from dmzbench.nn.adm_presets import unet_config
from dmzbench.nn.adm_unet import ADMUNet
from dmzbench.nn.latent_diffusion import latent_stage, spatial_latent_diffusion
from dmzbench.nn.perceptual import load_lpips, lpips_status
from dmzbench.presets import check_fields, config_dict, omit_default, resolve, resolve_for


@dataclass(frozen=True, kw_only=True)
class DGAEConfig:
    """A DGAE preset: the SD-VAE encoder (``enc_widths``: one level per width, f = 2^(levels-1)), the ADM UNet decoder,
    the loss weights, the latent model and both stages' training. ``image_size`` None: any size; ``final_lr`` None:
    constant learning rate after the warm-up; ``stats_images`` None: the whole training set."""

    image_size: int | None
    enc_widths: tuple[int, ...]
    enc_layers: int
    latent_channels: int
    channels: int
    channel_mult: tuple[int, ...]
    num_res_blocks: int
    attention_resolutions: tuple[int, ...]
    dropout: float
    kl_weight: float
    perceptual_weight: float
    steps: int
    batch_size: int
    lr: float
    weight_decay: float
    ema: float
    ldm_widths: tuple[int, ...]
    ldm_layers: int
    latent_steps: int
    latent_batch: int
    latent_lr: float
    warmup_steps: int
    final_lr: float | None
    stats_images: int | None
    snapshots: tuple[int, ...] = omit_default(())  # first-stage steps kept as shorter runs' checkpoints

    def __post_init__(self) -> None:
        check_fields(self, positive=("image_size", "enc_widths", "enc_layers", "latent_channels", "channels",
                                     "channel_mult", "num_res_blocks", "attention_resolutions", "batch_size", "lr",
                                     "ldm_widths", "ldm_layers", "latent_batch", "latent_lr", "final_lr",
                                     "stats_images"),
                     non_negative=("steps", "latent_steps", "warmup_steps", "kl_weight", "perceptual_weight",
                                   "weight_decay"),
                     nonempty=("enc_widths", "channel_mult", "ldm_widths"), fractions=("dropout", "ema"))


SMOKE = DGAEConfig(
    image_size=None, enc_widths=(32, 64, 64), enc_layers=1, latent_channels=3,
    channels=32, channel_mult=(1, 2, 2), num_res_blocks=1, attention_resolutions=(16,), dropout=0.0,
    kl_weight=1e-6, perceptual_weight=0.1, steps=45, batch_size=32, lr=2e-4, weight_decay=0.1, ema=0.995,
    ldm_widths=(64, 128), ldm_layers=1, latent_steps=60, latent_batch=64, latent_lr=2e-4,
    warmup_steps=0, final_lr=None, stats_images=4_000,  # the latent stage draws 60 x 64 = 3840 latents
)
PRESETS = {
    "init": replace(SMOKE, steps=0, latent_steps=0),
    "smoke": SMOKE,
    "small": replace(SMOKE, enc_widths=(64, 128, 128), enc_layers=2, channels=64, num_res_blocks=2, dropout=0.1,
                     steps=1500, batch_size=96, ema=0.999, ldm_layers=2, latent_steps=2000, latent_batch=256,
                     stats_images=None),
    # the cpu suite (toolkit choice, docs/fidelity.md): F = 1.2e14 split 3:1, constant lr, snapshots of the autoencoder
    "cpu": replace(SMOKE, steps=1200, ema=0.999, latent_steps=660, stats_images=10_000, snapshots=(75, 150, 300, 600)),
    "cpu-aux": replace(SMOKE, steps=300, ema=0.999, latent_steps=165, stats_images=10_000),
    # DGAE-B: decoder UNet width 128 (122M at 256 px in the paper); SD-VAE f16 encoder with a 16-channel latent.
    "b-paper": replace(SMOKE, image_size=256, enc_widths=(128, 256, 512, 512, 512), enc_layers=2, latent_channels=16,
                       channels=128, channel_mult=(1, 1, 2, 2, 4, 4), num_res_blocks=2, attention_resolutions=(16,),
                       dropout=0.0, steps=500_000, batch_size=96, lr=1e-4, ema=0.9999, latent_steps=500_000,
                       warmup_steps=10_000, final_lr=1e-5, stats_images=None),
}
# The paper's f16 x 16-channel latent at 32 px: 2x2x16 = 64 values, as SD-VAE small-f8c4's 4x4x4.
PRESETS["small-f16c16"] = replace(PRESETS["small"], enc_widths=(64, 128, 128, 128, 128), latent_channels=16)


class DGAEModel(nn.Module):
    def __init__(self, cfg: DGAEConfig, spec: DataSpec):
        super().__init__()
        self.cfg, self.spec = cfg, spec
        c, n = cfg.latent_channels, len(cfg.enc_widths)
        self.encoder = Encoder(in_channels=spec.channels, out_channels=c, down_block_types=("DownEncoderBlock2D",) * n,
                               block_out_channels=tuple(cfg.enc_widths), layers_per_block=cfg.enc_layers,
                               norm_num_groups=min(32, cfg.enc_widths[0]), double_z=True)
        self.quant_conv = nn.Conv2d(2 * c, 2 * c, 1)
        self.decoder = ADMUNet(unet_config(cfg, spec, in_channels=spec.channels + c))
        size = spec.image_size // 2 ** (n - 1)
        self.latent_shape = (c, size, size)
        self.latent = spatial_latent_diffusion(c, size, cfg.ldm_widths, cfg.ldm_layers)
        self.lpips = load_lpips()

    def posterior(self, x: Tensor) -> DiagonalGaussianDistribution:
        return DiagonalGaussianDistribution(self.quant_conv(self.encoder(x)))

    def velocity(self, x_t: Tensor, t: Tensor, z: Tensor) -> Tensor:
        cond = F.interpolate(z, size=x_t.shape[-2:], mode="nearest")
        return self.decoder(torch.cat([x_t, cond.to(x_t.dtype)], dim=1), t * 1000).float()

    def autoencoder_loss(self, x0: Tensor, _labels: Tensor, cond: Tensor) -> Tensor:
        posterior = self.posterior(cond)
        z = posterior.sample()
        t = torch.rand(len(x0), device=x0.device)
        noise = torch.randn_like(x0)
        tt = t.view(-1, 1, 1, 1)
        x_t = (1 - tt) * x0 + tt * noise
        v = self.velocity(x_t, t, z)
        dsm = ((v - (noise - x0)) ** 2).mean()
        x0_pred = x_t - tt * v
        perceptual = self.lpips(x0, x0_pred).mean() if self.lpips is not None else (x0_pred - x0).abs().mean()
        kl = posterior.kl().float().sum() / x0.numel()  # per pixel value, as L_DSM (see the module docstring)
        return dsm + self.cfg.kl_weight * kl + self.cfg.perceptual_weight * perceptual

    @torch.no_grad()
    def decode(self, z: Tensor, steps: int, generator: torch.Generator | None) -> Tensor:
        x = randn((len(z), self.spec.channels, self.spec.image_size, self.spec.image_size), generator, z.device)
        for i in range(steps):  # Euler from t = 1 to t = 0
            t = torch.full((len(z),), 1 - i / steps, device=z.device)
            x = x - self.velocity(x, t, z) / steps
        return x

    def posterior_mean(self, x: Tensor) -> Tensor:
        return self.posterior(x).mean

    def posterior_sample(self, x: Tensor) -> Tensor:
        return self.posterior(x).sample()


class DGAEAdapter(SpatialLatentAdapter):
    family_name = "dgae"
    sampler = "latent DDIM (eta=0) + rectified-flow Euler decoder"

    def decode(self, z: Tensor, steps: int, generator: torch.Generator | None) -> Tensor:
        return self.model.decode(z, steps, generator)


class DGAE(Baseline):
    name = "dgae"
    family = "dgae"
    Config = DGAEConfig
    presets = PRESETS
    stage_steps = ("steps", "latent_steps")

    def preset_config(self, preset: str) -> dict[str, Any]:
        status = lpips_status()
        perceptual = "lpips" if status == "available" else f"l1 on x0' (LPIPS {status})"
        return config_dict(resolve(self, preset)) | {"perceptual": perceptual}

    def build(self, preset: str, spec: DataSpec) -> DGAEModel:
        return DGAEModel(resolve_for(self, preset, spec), spec)

    def stages(self, model: DGAEModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        cfg = model.cfg
        if not cfg.steps:
            return []
        autoencoder = nn.ModuleList([model.encoder, model.quant_conv, model.decoder])
        return [
            TrainStage("autoencoder", autoencoder, model.autoencoder_loss, cfg.steps, cfg.batch_size, cfg.lr,
                       weight_decay=cfg.weight_decay, betas=(0.9, 0.95), ema_decay=cfg.ema,
                       warmup_steps=cfg.warmup_steps, final_lr=cfg.final_lr),
            latent_stage("latent-diffusion", model.latent, model.posterior_sample, model.posterior_mean,
                         steps=cfg.latent_steps, batch_size=cfg.latent_batch, lr=cfg.latent_lr, ema=cfg.ema,
                         stats_images=cfg.stats_images),
        ]

    def adapter(self, model: DGAEModel, preset: str, spec: DataSpec) -> DGAEAdapter:
        return DGAEAdapter(model, preset)
