"""``ddpm``: a plain unconditional diffusion model on the toolkit's ADM UNet.

It is PDAE's frozen pre-trained model, and the "no latent" reference row of every generation table (as DDIM is in
PDAE's tables). Linear betas, T = 1000, eps-MSE, fixed variance, random horizontal flip in training, DDIM sampling, as
in DiffAE's and PDAE's DDPM baselines (toolkit choice: the even I-DDPM step grid, 0 and 999 both evaluated).
It has no encoder: probes skip it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dmzbench.augment import maybe_flipped
from dmzbench.api import Baseline, CapabilityMissing, DataSpec, ModelInfo, TrainStage
from dmzbench.diffusion import GaussianDiffusion, named_betas
from dmzbench.diffusion.sampling import ddim_sample
from dmzbench.nn.adm_unet import ADMUNet, UNetConfig

SMOKE = dict(channels=32, channel_mult=(1, 2, 2), num_res_blocks=1, attention_resolutions=(16,), dropout=0.0,
             steps=45, batch_size=32, lr=2e-4, ema=0.995, flip=True)
PRESETS = {
    "init": dict(SMOKE, steps=0),
    "smoke": SMOKE,
    "small": dict(SMOKE, channels=64, num_res_blocks=2, dropout=0.1, steps=1500, batch_size=128, ema=0.999),
    # DDPM's CIFAR-10 widths on the ADM UNet (toolkit choice: ADM resblock up/down sampling)
    "cifar10-paper": dict(channels=128, channel_mult=(1, 2, 2, 2), num_res_blocks=2, attention_resolutions=(16,),
                          dropout=0.1, steps=800_000, batch_size=128, lr=2e-4, ema=0.9999, flip=True),
}


def unet_config(cfg: dict[str, Any], spec: DataSpec, **overrides) -> UNetConfig:
    return UNetConfig(image_size=spec.image_size, in_channels=spec.channels, out_channels=spec.channels,
                      channels=cfg["channels"], channel_mult=tuple(cfg["channel_mult"]),
                      num_res_blocks=cfg["num_res_blocks"], attention_resolutions=tuple(cfg["attention_resolutions"]),
                      dropout=cfg["dropout"], **overrides)


class DDPMModel(torch.nn.Module):
    def __init__(self, cfg: dict[str, Any], spec: DataSpec):
        super().__init__()
        self.spec = spec
        self.unet = ADMUNet(unet_config(cfg, spec))
        self.diffusion = GaussianDiffusion(named_betas("linear", 1000))

    def training_loss(self, x0: Tensor, _labels: Tensor, _cond: Tensor) -> Tensor:
        t = torch.randint(0, 1000, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        return ((self.unet(self.diffusion.q_sample(x0, t, noise), t).float() - noise) ** 2).mean()


class DDPMAdapter:
    def __init__(self, model: DDPMModel, preset: str):
        self.model = model
        s = model.spec
        self.info = ModelInfo("ddpm", "ddpm", preset, s.image_size, s.channels, latent_shape=(0,), latent_kind="none",
                              can_encode=False, can_reconstruct=False, sampler="DDIM (eta=0)")

    def encode(self, x: Tensor) -> Tensor:
        raise CapabilityMissing("ddpm has no encoder; it is the no-latent reference for generation")

    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        raise CapabilityMissing("ddpm has no latent to reconstruct from")

    @torch.no_grad()
    def generate(self, n: int, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        device = next(self.model.parameters()).device
        shape = (n, self.info.channels, self.info.image_size, self.info.image_size)
        return ddim_sample(lambda x, t: self.model.unet(x, t), self.model.diffusion, shape, steps,
                           generator=generator, device=device)


class DDPM(Baseline):
    name = "ddpm"
    family = "ddpm"
    presets = PRESETS

    def build(self, preset: str, spec: DataSpec) -> DDPMModel:
        return DDPMModel(self.preset_config(preset), spec)

    def stages(self, model: DDPMModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        cfg = self.preset_config(preset)
        if not cfg["steps"]:
            return []
        return [TrainStage("ddpm", model.unet, maybe_flipped(model.training_loss, cfg["flip"], spec), cfg["steps"],
                           cfg["batch_size"], cfg["lr"], ema_decay=cfg["ema"])]

    def adapter(self, model: DDPMModel, preset: str, spec: DataSpec) -> DDPMAdapter:
        return DDPMAdapter(model, preset)
