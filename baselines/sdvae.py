"""SD-VAE: the KL-regularised autoencoder of latent diffusion (Rombach et al., CVPR 2022; CompVis/latent-diffusion).

From the paper and official code:
- architecture: diffusers' AutoencoderKL expresses it exactly; kl-f8 (the SD VAE) is 128 ch, mult (1,2,4,4), 2 res
  blocks, attention only in the mid block, 4 latent channels: 83.65M parameters; at 32 px use f4 (or f2);
- loss (LPIPSWithDiscriminator): L1 (+ LPIPS) / exp(logvar) + logvar, summed over pixels and averaged over the batch;
  + 1e-6 * KL (summed over the latent, averaged over the batch); + a hinge PatchGAN (NLayerDiscriminator) from
  ``disc_start`` on, its generator term weighted adaptively by ||grad L_rec|| / ||grad L_G|| at the decoder's last
  layer, x 0.5. ``logvar`` is an nn.Parameter, but AutoencoderKL.configure_optimizers gives neither optimiser it, so it
  stays at its initial 0: here it is a frozen parameter outside the trained module;
- Adam (0.5, 0.9), lr = 4.5e-6 x batch size; no EMA of the autoencoder (the LDM stage has one); no flip (ImageNetSRTrain);
- generation: latents scaled by 1/std(z) (SD's 0.18215), a latent diffusion model (UNet on z, DDIM); the KL-f8 LDM
  (``configs/latent-diffusion/lsun_churches-ldm-kl-8.yaml``, followed by ``kl-f8-paper``'s latent stage): lr 5e-5
  warmed up linearly over 10k steps then constant, L1 on eps, LDM's "linear" betas (linear in sqrt(beta),
  0.0015 -> 0.0155), batch 96, UNet 192 x (1, 2, 2, 4, 4), AdamW (default weight decay 0.01), flipped LSUN images.

Toolkit choices: LPIPS is used only where its weights load (never here, offline: the run's config records
``lpips: omitted ...``); the discriminator trains in the same optimiser step as the autoencoder (its loss only sees
detached reconstructions and the generator term sees detached discriminator weights, so each part gets exactly its own
gradient); smoke/small start the discriminator at half of their steps (the paper starts at 50,001); the latent model is
a diffusers UNet2DModel with DDIM (even grid); the smoke/small latent stages keep DDPM linear betas, eps-MSE, no weight
decay and no flip (toolkit choice, unchanged from before the paper preset followed the KL-f8 LDM); ``small-f8c4``
(4x4x4 = 64 latent values at 32 px) is the equal-latent-size partner of DGAE's ``small-f16c16``, as in DGAE's
comparison with SD-VAE f8c4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from torch import Tensor, nn
from torch.func import functional_call

from dmzbench.adapters import SpatialLatentAdapter
from dmzbench.augment import maybe_flipped
from dmzbench.api import Baseline, DataSpec, TrainStage
from dmzbench.nn.latent_diffusion import latent_stage, spatial_latent_diffusion
from dmzbench.nn.perceptual import load_lpips, lpips_status
from dmzbench.presets import check_fields, config_dict, omit_default, resolve, resolve_for


@dataclass(frozen=True, kw_only=True)
class SDVAEConfig:
    """An SD-VAE preset: the AutoencoderKL (``widths``: one level per width, f = 2^(levels-1)), the PatchGAN, the loss
    weights, the latent model and both stages' training. The autoencoder's lr is derived, LDM's 4.5e-6 x batch size.
    ``image_size`` None: any size; ``stats_images`` None: the whole training set."""

    image_size: int | None
    widths: tuple[int, ...]
    layers_per_block: int
    latent_channels: int
    disc_layers: int
    disc_width: int
    kl_weight: float
    disc_weight: float
    disc_start: int
    steps: int
    batch_size: int
    ldm_widths: tuple[int, ...]
    ldm_layers: int
    latent_steps: int
    latent_batch: int
    latent_lr: float
    latent_loss: Literal["l1", "l2"]
    latent_betas: str  # dmzbench.diffusion.named_betas: "linear" (DDPM) or "ldm-linear:<start>:<end>" (LDM's "linear")
    latent_weight_decay: float
    latent_flip: bool
    ema: float
    flip: bool
    stats_images: int | None
    latent_warmup: int
    snapshots: tuple[int, ...] = omit_default(())  # first-stage steps kept as shorter runs' checkpoints

    def __post_init__(self) -> None:
        check_fields(self, positive=("image_size", "widths", "layers_per_block", "latent_channels", "disc_width",
                                     "batch_size", "ldm_widths", "ldm_layers", "latent_batch", "latent_lr",
                                     "stats_images"),
                     non_negative=("disc_layers", "kl_weight", "disc_weight", "disc_start", "steps", "latent_steps",
                                   "latent_warmup"),
                     nonempty=("widths", "ldm_widths"), fractions=("ema",))

    @property
    def lr(self) -> float:
        return 4.5e-6 * self.batch_size


SMOKE = SDVAEConfig(
    image_size=None, widths=(32, 64, 64), layers_per_block=1, latent_channels=3, disc_layers=2, disc_width=32,
    kl_weight=1e-6, disc_weight=0.5, disc_start=30, steps=60, batch_size=32,
    ldm_widths=(64, 128), ldm_layers=1, latent_steps=60, latent_batch=64, latent_lr=2e-4, ema=0.995,
    # toolkit choice for the short presets' latent stage: DDPM betas, eps-MSE, no weight decay, no flip
    latent_loss="l2", latent_betas="linear", latent_weight_decay=0.0, latent_flip=False,
    flip=False, stats_images=4_000, latent_warmup=0,  # the latent stage draws 60 x 64 = 3840 latents
)
PRESETS = {
    "init": replace(SMOKE, steps=0, latent_steps=0),
    "smoke": SMOKE,
    "small": replace(SMOKE, widths=(64, 128, 128), layers_per_block=2, disc_layers=3, disc_width=64, disc_start=750,
                     steps=1200, batch_size=64, ldm_layers=2, latent_steps=1000, latent_batch=256, ema=0.999,
                     stats_images=None),
    # the cpu suite (toolkit choice, docs/fidelity.md): F = 1.2e14 split 3:1, the discriminator from 10% of the steps
    # (the official f8 config: 50k of 500k), constant lr, snapshots of the autoencoder stage
    "cpu": replace(SMOKE, steps=2256, disc_start=225, ema=0.999, latent_steps=660, stats_images=10_000,
                   snapshots=(141, 282, 564, 1128)),
    "cpu-aux": replace(SMOKE, steps=564, disc_start=56, ema=0.999, latent_steps=165, stats_images=10_000),
    # the latent stage follows the KL-f8 LDM, configs/latent-diffusion/lsun_churches-ldm-kl-8.yaml: lr 5e-5 (the
    # config's target lr, main.py --scale_lr False), L1, LDM "linear" betas 0.0015 -> 0.0155, batch 96, UNet 192 x
    # (1, 2, 2, 4, 4) with 2 res blocks, 10k warm-up; AdamW's default weight decay 0.01 (LatentDiffusion's
    # configure_optimizers); LSUNChurchesTrain flips (flip_p 0.5)
    "kl-f8-paper": replace(SMOKE, image_size=256, widths=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                           disc_layers=3, disc_width=64, disc_start=50_001, steps=500_000, batch_size=12,
                           ldm_widths=(192, 384, 384, 768, 768), ldm_layers=2, latent_steps=500_000,
                           latent_batch=96, latent_lr=5e-5, latent_loss="l1", latent_betas="ldm-linear:0.0015:0.0155",
                           latent_weight_decay=0.01, latent_flip=True, ema=0.9999, stats_images=None,
                           latent_warmup=10_000),
}
# SD-VAE f8 x 4 channels at small-image scale: 4x4x4 = 64 latent values at 32 px, DGAE small-f16c16's latent size.
PRESETS["small-f8c4"] = replace(PRESETS["small"], widths=(64, 128, 128, 128), latent_channels=4)


def build_vae(cfg: SDVAEConfig, channels: int) -> AutoencoderKL:
    n = len(cfg.widths)
    return AutoencoderKL(
        in_channels=channels, out_channels=channels, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(cfg.widths),
        layers_per_block=cfg.layers_per_block, latent_channels=cfg.latent_channels,
        norm_num_groups=min(32, cfg.widths[0]),
    )


class PatchDiscriminator(nn.Module):
    """pix2pix's NLayerDiscriminator as LDM uses it: conv-LeakyReLU, then (conv-BatchNorm-LeakyReLU) x n, 1-channel out."""

    def __init__(self, channels: int, width: int = 64, layers: int = 3):
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        mult = 1
        for i in range(1, layers + 1):
            prev, mult = mult, min(2**i, 8)
            stride = 2 if i < layers else 1
            seq += [nn.Conv2d(width * prev, width * mult, 4, stride, 1, bias=False), nn.BatchNorm2d(width * mult),
                    nn.LeakyReLU(0.2)]
        seq.append(nn.Conv2d(width * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*seq)
        for m in self.modules():  # LDM's weights_init
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def adaptive_weight(rec_loss: Tensor, g_loss: Tensor, last_layer: Tensor) -> Tensor:
    rec_grad = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_grad = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    return (rec_grad.norm() / (g_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()


class SDVAEModel(nn.Module):
    def __init__(self, cfg: SDVAEConfig, spec: DataSpec):
        super().__init__()
        self.cfg, self.spec = cfg, spec
        self.vae = build_vae(cfg, spec.channels)
        self.disc = PatchDiscriminator(spec.channels, cfg.disc_width, cfg.disc_layers)
        self.loss_scale = nn.Module()  # LDM's scalar logvar: a parameter no optimiser gets, so it stays 0
        self.loss_scale.logvar = nn.Parameter(torch.zeros(()), requires_grad=False)
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))  # for disc_start; resumes exactly
        size = spec.image_size // 2 ** (len(cfg.widths) - 1)
        self.latent_shape = (cfg.latent_channels, size, size)
        self.latent = spatial_latent_diffusion(cfg.latent_channels, size, cfg.ldm_widths, cfg.ldm_layers,
                                               betas=cfg.latent_betas, loss=cfg.latent_loss)
        self.lpips = load_lpips()

    def autoencoder_loss(self, x: Tensor, _labels: Tensor, cond: Tensor) -> Tensor:
        posterior = self.vae.encode(cond).latent_dist
        rec = self.vae.decode(posterior.sample()).sample.float()
        pixel = (x - rec).abs()
        if self.lpips is not None:
            pixel = pixel + self.lpips(x, rec)
        logvar = self.loss_scale.logvar
        nll = (pixel / logvar.exp() + logvar).sum() / len(x)
        kl = posterior.kl().float().sum() / len(x)
        loss = nll + self.cfg.kl_weight * kl
        if int(self.steps_seen) >= self.cfg.disc_start:
            frozen = {k: v.detach() for k, v in self.disc.named_parameters()}
            g_loss = -functional_call(self.disc, frozen, (rec,)).mean()
            weight = adaptive_weight(nll, g_loss, self.vae.decoder.conv_out.weight) * self.cfg.disc_weight
            d_real, d_fake = self.disc(x), self.disc(rec.detach())
            d_loss = 0.5 * (F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean())
            loss = loss + weight * g_loss + d_loss
        self.steps_seen += 1
        return loss

    def posterior_mean(self, x: Tensor) -> Tensor:
        return self.vae.encode(x).latent_dist.mean

    def posterior_sample(self, x: Tensor) -> Tensor:
        return self.vae.encode(x).latent_dist.sample()


class SDVAEAdapter(SpatialLatentAdapter):
    family_name = "sdvae"
    sampler = "latent DDIM (eta=0) + VAE decoder"

    def decode(self, z: Tensor, steps: int, generator: torch.Generator | None) -> Tensor:
        return self.model.vae.decode(z).sample.float()  # a deterministic decoder: steps only affect generation's LDM


class SDVAE(Baseline):
    name = "sdvae"
    family = "sdvae"
    Config = SDVAEConfig
    presets = PRESETS
    stage_steps = ("steps", "latent_steps")

    def preset_config(self, preset: str) -> dict[str, Any]:
        cfg = resolve(self, preset)
        return config_dict(cfg) | {"lr": cfg.lr, "lpips": lpips_status()}

    def build(self, preset: str, spec: DataSpec) -> SDVAEModel:
        return SDVAEModel(resolve_for(self, preset, spec), spec)

    def stages(self, model: SDVAEModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        cfg = model.cfg
        if not cfg.steps:
            return []
        autoencoder = nn.ModuleList([model.vae, model.disc])  # not loss_scale: LDM never optimises logvar
        latent = latent_stage("latent-diffusion", model.latent, model.posterior_sample, model.posterior_mean,
                              steps=cfg.latent_steps, batch_size=cfg.latent_batch, lr=cfg.latent_lr,
                              ema=cfg.ema, weight_decay=cfg.latent_weight_decay, stats_images=cfg.stats_images)
        latent.warmup_steps = cfg.latent_warmup
        latent.loss = maybe_flipped(latent.loss, cfg.latent_flip, spec)
        return [
            TrainStage("autoencoder", autoencoder, maybe_flipped(model.autoencoder_loss, cfg.flip, spec),
                       cfg.steps, cfg.batch_size, cfg.lr, betas=(0.5, 0.9), ema_decay=0.0, grad_clip=None),
            latent,
        ]

    def adapter(self, model: SDVAEModel, preset: str, spec: DataSpec) -> SDVAEAdapter:
        return SDVAEAdapter(model, preset)
