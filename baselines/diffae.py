"""DiffAE: Diffusion Autoencoders (Preechakul et al., CVPR 2022; official code phizaz/diffae).

From the paper and official code:
- semantic encoder: the encoder half of an ADM UNet without time conditioning (BeatGANs blocks without a condition
  have only norm -> SiLU -> conv), its middle block, then GN -> SiLU -> global average pool -> 1x1 conv: z_sem in R^512;
- decoder: an ADM UNet whose every ResBlock applies GN(h)*(1+t_scale)+t_shift, then h*(1+z_scale), zero-init out conv;
- diffusion: T = 1000, linear betas, eps-prediction, MSE, encoder trained end to end through the decoder; DDIM on
  DiffAE's grid (``space_timesteps(T, "ddimK")``: range(0, 1000, s), K = 10 gives 0..900); random horizontal flip;
- stage 2: a latent DDIM on z-normalised z_sem (per-dimension mean/std over the whole training set,
  ``infer_whole_dataset``): MLPSkipNet, 10 x 2048, LayerNorm, SiLU, SiLU before each time-condition Linear, Kaiming
  init, constant beta 0.008, L1 on eps, AdamW weight decay 0.01 (``adamw_weight_decay``); generation = latent DDIM,
  denormalise, decoder DDIM;
- inferred-x_T reconstruction inverts with the decoder's step count (``evaluate_lpips``); interpolation inverts with
  250 steps and renders with 20 (``interpolate.ipynb``): the interp task's default ``invert_steps``;
- ``celeba64-paper``: 64 ch, (1,2,4,8), attention at 16, 2 res blocks, encoder (1,2,4,8,8), 512-d embeddings:
  90.8M parameters (encoder + decoder).

Toolkit choices: the latent DDIM uses as many steps as the decoder (official ``latent_T_eval``: 20); the smoke preset
takes stage-2 statistics from the first 5000 training images (CI time; small and paper presets use the whole set);
``init`` has the smoke architecture; smoke/small use shorter EMAs; DiffAE trains the autoencoder with Adam without
weight decay, the toolkit's AdamW with wd 0 is the same update.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from dmzbench.adapters import SemanticLatentAdapter
from dmzbench.api import Baseline, DataSpec, TrainStage
from dmzbench.diffusion import GaussianDiffusion, named_betas
from dmzbench.nn.adm_presets import unet_config
from dmzbench.nn.adm_unet import ADMEncoder, ADMUNet
from dmzbench.nn.latent_diffusion import LatentDiffusion, LatentMLPSkip, autoencoder_then_latent
from dmzbench.presets import check_fields, omit_default, resolve_for

INTERP_INVERT_STEPS = 250  # interpolate.ipynb: encode_stochastic(..., T=250), render(..., T=20)


@dataclass(frozen=True, kw_only=True)
class DiffAEConfig:
    """A DiffAE preset: the decoder UNet, the semantic encoder (``enc_mult``, ``enc_res_blocks``; z in R^z_dim), the
    latent DDIM's MLP and both stages' training. ``image_size`` None: any size; ``emb_dim`` None: 4 x channels."""

    image_size: int | None
    channels: int
    channel_mult: tuple[int, ...]
    num_res_blocks: int
    attention_resolutions: tuple[int, ...]
    dropout: float
    emb_dim: int | None
    z_dim: int
    enc_mult: tuple[int, ...]
    enc_res_blocks: int
    latent_hidden: int
    latent_layers: int
    steps: int
    batch_size: int
    lr: float
    ema: float
    latent_steps: int
    latent_batch: int
    latent_lr: float
    latent_weight_decay: float
    flip: bool
    stats_images: int | None
    snapshots: tuple[int, ...] = omit_default(())  # first-stage steps kept as shorter runs' checkpoints

    def __post_init__(self) -> None:
        check_fields(self, positive=("image_size", "channels", "channel_mult", "num_res_blocks",
                                     "attention_resolutions", "emb_dim", "z_dim", "enc_mult", "enc_res_blocks",
                                     "latent_hidden", "latent_layers", "batch_size", "lr", "latent_batch",
                                     "latent_lr", "stats_images"),
                     non_negative=("steps", "latent_steps", "latent_weight_decay"),
                     nonempty=("channel_mult", "enc_mult"), fractions=("dropout", "ema"))


SMOKE = DiffAEConfig(
    image_size=None, channels=32, channel_mult=(1, 2, 2), num_res_blocks=1, attention_resolutions=(16,), dropout=0.0,
    emb_dim=None, z_dim=512, enc_mult=(1, 2, 2, 2), enc_res_blocks=1,
    latent_hidden=256, latent_layers=4,
    steps=45, batch_size=32, lr=2e-4, ema=0.995, latent_steps=80, latent_batch=128, latent_lr=1e-3,
    latent_weight_decay=0.01, flip=True, stats_images=5_000,  # 80 x 128 latents: two passes (CI time, issue 17)
)
PRESETS = {
    "init": replace(SMOKE, steps=0, latent_steps=0),
    "smoke": SMOKE,
    "small": replace(SMOKE, channels=64, num_res_blocks=2, dropout=0.1, enc_res_blocks=2, latent_hidden=1024,
                     latent_layers=6, steps=1200, batch_size=128, ema=0.999, latent_steps=1000, latent_batch=512,
                     stats_images=None),
    # the cpu suite (toolkit choice, docs/fidelity.md): smoke architecture, equal training FLOPs F = 1.2e14 split 3:1
    # between the autoencoder and the latent DDIM, constant lr, snapshots at 1/16 .. 1/2 of the autoencoder stage
    "cpu": replace(SMOKE, steps=1264, ema=0.999, latent_steps=1000, stats_images=10_000, snapshots=(79, 158, 316, 632)),
    "cpu-aux": replace(SMOKE, steps=316, ema=0.999, latent_steps=250, stats_images=10_000),
    "celeba64-paper": DiffAEConfig(
        image_size=64, channels=64, channel_mult=(1, 2, 4, 8), num_res_blocks=2, attention_resolutions=(16,),
        dropout=0.1, emb_dim=512, z_dim=512, enc_mult=(1, 2, 4, 8, 8), enc_res_blocks=2,
        latent_hidden=2048, latent_layers=10,
        steps=562_500, batch_size=128, lr=1e-4, ema=0.9999, latent_steps=600_000, latent_batch=512, latent_lr=1e-4,
        latent_weight_decay=0.01, flip=True, stats_images=None,
    ),
}


class DiffAEModel(nn.Module):
    def __init__(self, cfg: DiffAEConfig, spec: DataSpec):
        super().__init__()
        self.cfg, self.spec, self.z_dim = cfg, spec, cfg.z_dim
        self.encoder = ADMEncoder(spec.image_size, spec.channels, cfg.channels, tuple(cfg.enc_mult),
                                  cfg.enc_res_blocks, tuple(cfg.attention_resolutions), cfg.z_dim)
        self.unet = ADMUNet(unet_config(cfg, spec, emb_dim=cfg.emb_dim, cond_dim=cfg.z_dim, cond="scale"))
        self.latent = LatentDiffusion(LatentMLPSkip(cfg.z_dim, cfg.latent_hidden, cfg.latent_layers),
                                      (cfg.z_dim,), betas="constant:0.008", loss="l1", per_dimension=True,
                                      grid="diffae")
        self.diffusion = GaussianDiffusion(named_betas("linear", 1000))

    def autoencoder_loss(self, x0: Tensor, _labels: Tensor, cond: Tensor) -> Tensor:
        z = self.encoder(cond)
        t = torch.randint(0, 1000, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        return ((self.unet(self.diffusion.q_sample(x0, t, noise), t, z).float() - noise) ** 2).mean()



class DiffAEAdapter(SemanticLatentAdapter):
    ddim_grid = "diffae"
    interp_invert_steps = INTERP_INVERT_STEPS
    family_name = "diffae"
    sampler = "latent DDIM + decoder DDIM (eta=0)"

    def semantic(self, x: Tensor) -> Tensor:
        return self.model.encoder(x)

    def denoiser(self, z: Tensor, steps: int, *, generating: bool = False):
        return lambda x, t: self.model.unet(x, t, z)


class DiffAE(Baseline):
    name = "diffae"
    family = "diffae"
    Config = DiffAEConfig
    presets = PRESETS
    stage_steps = ("steps", "latent_steps")

    def build(self, preset: str, spec: DataSpec) -> DiffAEModel:
        return DiffAEModel(resolve_for(self, preset, spec), spec)

    def stages(self, model: DiffAEModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        return autoencoder_then_latent(model, spec, nn.ModuleList([model.encoder, model.unet]), model.autoencoder_loss,
                                       "latent-ddim", latent_weight_decay=model.cfg.latent_weight_decay)

    def adapter(self, model: DiffAEModel, preset: str, spec: DataSpec) -> DiffAEAdapter:
        return DiffAEAdapter(model, preset)
