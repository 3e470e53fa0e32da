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
takes stage-2 statistics from the first 10k training images (CI time; small and paper presets use the whole set);
``init`` has the smoke architecture; smoke/small use shorter EMAs; DiffAE trains the autoencoder with Adam without
weight decay, the toolkit's AdamW with wd 0 is the same update.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from dmzbench.adapters import SemanticLatentAdapter
from dmzbench.augment import maybe_flipped
from dmzbench.api import Baseline, DataSpec, ModelInfo, TrainStage
from dmzbench.diffusion import GaussianDiffusion, named_betas
from dmzbench.errors import UsageError
from dmzbench.nn.adm_unet import ADMEncoder, ADMUNet, UNetConfig
from dmzbench.nn.latent_diffusion import LatentDiffusion, LatentMLPSkip, latent_stage

INTERP_INVERT_STEPS = 250  # interpolate.ipynb: encode_stochastic(..., T=250), render(..., T=20)

SMOKE = dict(
    image_size=None, channels=32, channel_mult=(1, 2, 2), num_res_blocks=1, attention_resolutions=(16,), dropout=0.0,
    emb_dim=None, z_dim=512, enc_mult=(1, 2, 2, 2), enc_res_blocks=1,
    latent_hidden=256, latent_layers=4,
    steps=45, batch_size=32, lr=2e-4, ema=0.995, latent_steps=80, latent_batch=128, latent_lr=1e-3,
    latent_weight_decay=0.01, flip=True, stats_images=10_000,
)
PRESETS = {
    "init": dict(SMOKE, steps=0, latent_steps=0),
    "smoke": SMOKE,
    "small": dict(SMOKE, channels=64, num_res_blocks=2, dropout=0.1, enc_res_blocks=2, latent_hidden=1024,
                  latent_layers=6, steps=1200, batch_size=128, ema=0.999, latent_steps=1000, latent_batch=512,
                  stats_images=None),
    "celeba64-paper": dict(
        image_size=64, channels=64, channel_mult=(1, 2, 4, 8), num_res_blocks=2, attention_resolutions=(16,),
        dropout=0.1, emb_dim=512, z_dim=512, enc_mult=(1, 2, 4, 8, 8), enc_res_blocks=2,
        latent_hidden=2048, latent_layers=10,
        steps=562_500, batch_size=128, lr=1e-4, ema=0.9999, latent_steps=600_000, latent_batch=512, latent_lr=1e-4,
        latent_weight_decay=0.01, flip=True, stats_images=None,
    ),
}


def check_image_size(cfg: dict[str, Any], spec: DataSpec, preset: str) -> None:
    if cfg.get("image_size") and cfg["image_size"] != spec.image_size:
        raise UsageError(f"preset {preset} is for {cfg['image_size']} px images, {spec.name} has {spec.image_size} px; "
                         "use smoke/small or a data set of that size")


class DiffAEModel(nn.Module):
    def __init__(self, cfg: dict[str, Any], spec: DataSpec):
        super().__init__()
        self.spec, self.z_dim = spec, cfg["z_dim"]
        self.encoder = ADMEncoder(spec.image_size, spec.channels, cfg["channels"], tuple(cfg["enc_mult"]),
                                  cfg["enc_res_blocks"], tuple(cfg["attention_resolutions"]), cfg["z_dim"])
        self.unet = ADMUNet(UNetConfig(
            image_size=spec.image_size, in_channels=spec.channels, out_channels=spec.channels,
            channels=cfg["channels"], channel_mult=tuple(cfg["channel_mult"]), num_res_blocks=cfg["num_res_blocks"],
            attention_resolutions=tuple(cfg["attention_resolutions"]), dropout=cfg["dropout"], emb_dim=cfg["emb_dim"],
            cond_dim=cfg["z_dim"], cond="scale",
        ))
        self.latent = LatentDiffusion(LatentMLPSkip(cfg["z_dim"], cfg["latent_hidden"], cfg["latent_layers"]),
                                      (cfg["z_dim"],), betas="constant:0.008", loss="l1", per_dimension=True,
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

    def __init__(self, model: DiffAEModel, preset: str):
        self.model, self.diffusion, self.latent = model, model.diffusion, model.latent
        s = model.spec
        self.info = ModelInfo("diffae", "diffae", preset, s.image_size, s.channels, (model.z_dim,), "continuous",
                              can_invert=True, sampler="latent DDIM + decoder DDIM (eta=0)", can_interpolate=True)

    def semantic(self, x: Tensor) -> Tensor:
        return self.model.encoder(x)

    def denoiser(self, z: Tensor, steps: int, *, generating: bool = False):
        return lambda x, t: self.model.unet(x, t, z)


class DiffAE(Baseline):
    name = "diffae"
    family = "diffae"
    presets = PRESETS

    def build(self, preset: str, spec: DataSpec) -> DiffAEModel:
        cfg = self.preset_config(preset)
        check_image_size(cfg, spec, preset)
        return DiffAEModel(cfg, spec)

    def stages(self, model: DiffAEModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        cfg = self.preset_config(preset)
        if not cfg["steps"]:
            return []
        autoencoder = nn.ModuleList([model.encoder, model.unet])
        return [
            TrainStage("autoencoder", autoencoder, maybe_flipped(model.autoencoder_loss, cfg["flip"], spec), cfg["steps"],
                       cfg["batch_size"], cfg["lr"], ema_decay=cfg["ema"]),
            latent_stage("latent-ddim", model.latent, model.encoder, model.encoder, steps=cfg["latent_steps"],
                         batch_size=cfg["latent_batch"], lr=cfg["latent_lr"], ema=cfg["ema"],
                         weight_decay=cfg["latent_weight_decay"], stats_images=cfg["stats_images"]),
        ]

    def adapter(self, model: DiffAEModel, preset: str, spec: DataSpec) -> DiffAEAdapter:
        return DiffAEAdapter(model, preset)
