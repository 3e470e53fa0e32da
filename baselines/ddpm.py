"""``ddpm``: a plain unconditional diffusion model on the toolkit's ADM UNet.

It is PDAE's frozen pre-trained model, and the "no latent" reference row of every generation table (as DDIM is in
PDAE's tables). Linear betas, T = 1000, eps-MSE, fixed variance, random horizontal flip in training, DDIM sampling, as
in DiffAE's and PDAE's DDPM baselines (toolkit choice: the even I-DDPM step grid, 0 and 999 both evaluated).
It has no encoder: probes skip it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from dmzbench.augment import maybe_flipped
from dmzbench.api import Baseline, CapabilityMissing, DataSpec, ModelInfo, TrainStage
from dmzbench.diffusion import GaussianDiffusion, named_betas
from dmzbench.diffusion.sampling import ddim_sample
from dmzbench.nn.adm_presets import ADM_SHAPES, ADMShape, unet_config
from dmzbench.nn.adm_unet import ADMUNet
from dmzbench.presets import check_fields, omit_default, resolve


@dataclass(frozen=True, kw_only=True)
class DDPMConfig(ADMShape):
    """A ddpm preset: the ADM UNet's shape (shared with PDAE's frozen DPM, dmzbench/nn/adm_presets.py) and training."""

    steps: int
    batch_size: int
    lr: float
    ema: float
    flip: bool
    snapshots: tuple[int, ...] = omit_default(())  # first-stage steps kept as shorter runs' checkpoints

    def __post_init__(self) -> None:
        check_fields(self, positive=("channels", "channel_mult", "num_res_blocks", "attention_resolutions",
                                     "batch_size", "lr"),
                     non_negative=("steps",), nonempty=("channel_mult",), fractions=("dropout", "ema"))


def _preset(shape: str, **training) -> DDPMConfig:
    return DDPMConfig(**asdict(ADM_SHAPES[shape]), **training)


_SMOKE_TRAINING = dict(steps=45, batch_size=32, lr=2e-4, ema=0.995, flip=True)
PRESETS = {
    "init": _preset("init", **dict(_SMOKE_TRAINING, steps=0)),
    "smoke": _preset("smoke", **_SMOKE_TRAINING),
    "small": _preset("small", **dict(_SMOKE_TRAINING, steps=1500, batch_size=128, ema=0.999)),
    # the cpu suite: smoke shape, F = 1.2e14 FLOP (toolkit choice, docs/fidelity.md); also PDAE cpu's frozen DPM
    "cpu": _preset("cpu", **dict(_SMOKE_TRAINING, steps=1872, ema=0.999)),
    "cpu-aux": _preset("cpu-aux", **dict(_SMOKE_TRAINING, steps=468, ema=0.999)),
    "cifar10-paper": _preset("cifar10-paper", steps=800_000, batch_size=128, lr=2e-4, ema=0.9999, flip=True),
}


class DDPMModel(torch.nn.Module):
    def __init__(self, cfg: DDPMConfig, spec: DataSpec):
        super().__init__()
        self.cfg, self.spec = cfg, spec
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
    Config = DDPMConfig
    presets = PRESETS

    def build(self, preset: str, spec: DataSpec) -> DDPMModel:
        return DDPMModel(resolve(self, preset), spec)

    def stages(self, model: DDPMModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        cfg = model.cfg
        if not cfg.steps:
            return []
        return [TrainStage("ddpm", model.unet, maybe_flipped(model.training_loss, cfg.flip, spec), cfg.steps,
                           cfg.batch_size, cfg.lr, ema_decay=cfg.ema)]

    def adapter(self, model: DDPMModel, preset: str, spec: DataSpec) -> DDPMAdapter:
        return DDPMAdapter(model, preset)
