"""PDAE: Pre-trained DPM AutoEncoding (Zhang et al., NeurIPS 2022; official code ckczzj/PDAE).

From the paper and official code:
- built on a PRE-TRAINED unconditional DPM eps_theta, frozen: here the toolkit's ``ddpm`` of the same preset, data set
  and seed, trained first if absent and recorded as a dependency in the run's provenance;
- encoder (``CELEBA64Encoder``): four stride-2 3x3 convs 3->64->128->128->128 (64 -> 4 px), a 4-head attention block
  at 16x16, GN + SiLU between, then Linear(128*4*4) -> z in R^512;
- gradient estimator G_psi: reads the frozen UNet's encoder-half activations and time embedding; a trainable copy of
  the middle and decoder half with AdaGN h = (1+z_scale)*(GN(h)*(1+t_scale)+t_shift) + z_shift; zero-init output;
- loss: lambda_t * || eps - (eps_theta(x_t,t) + c_t * G) ||^2, c_t = -sqrt(alpha_t)(1-abar_{t-1})/sqrt(1-abar_t),
  lambda_t = SNR^0.1 / (1+SNR); linear betas, T = 1000;
- DDIM (PDAE's grid: {int(s) for s in linspace(0, 999, K + 1)}, t = 0 never evaluated) with
  eps' = eps_theta - sqrt(1-abar_t) * G; G at every step of autoencoding, inversion and interpolation; only when decoding
  a z drawn from the latent DPM (``latent_diffusion_sample``, ``stop_percent=0.3``) is G dropped at the sampler indices
  i with i - 1 < int(0.3 K) (K = 10: G at 7 of the 10 steps, t = 999..399);
- generation: a latent DPM as in DiffAE (AdamW lr 1e-3, weight decay 0.01: ``config/celeba64_latent.yml``) on the
  per-dimension normalised z (``infer_latents.py``: mean/std of
  the whole training set); its DDIM clamps z_T and every predicted z0 to [-1, 1]; then the decoder DDIM;
- evaluation: inferred-x_T reconstruction inverts with 1000 steps and decodes with 100 (``autoencoding_eval.py``: the
  recon task's default ``invert_steps``); interpolation inverts and decodes with 100 (``interpolation.py``);
- random horizontal flip in training (CelebA-64 ``augmentation: True``).

Toolkit choices: the encoder's widths are (w, 2w, 2w, 2w) with w = 64 (paper) or 32 (smoke); at 32 px the first conv has
stride 1, so that every size ends at 4x4 as the official 64 px encoder does (log2(size/4) stride-2 convs); the attention
block sits at the 16x16 level whatever the image size; the smoke preset takes the latent statistics from the first 5000
training images (CI time; small and paper presets use the whole set).

What the autoencoder stage's loss can show: G starts at zero, so the first loss IS the frozen DPM's weighted residual,
and only the part of it that the latent explains can go. At smoke scale that part is small (Fashion-MNIST, seed 0: the
stage went 0.0110 -> 0.0104 before the flip was added; 300 steps at lr 1e-3 gave no better). On a fixed batch G drives the same loss from 0.019 to
0.0005 in 100 steps, so the gradient path works; the residual it must remove sits at t = 50..500, where only image
detail helps (DiffAE's z-conditioned decoder reaches exactly the plain ddpm's loss, 0.051, after the same 150 steps).
(These were measured with the earlier 150-step smoke autoencoder stage, before the estimator got its ``label_emb``
projection of z; smoke now trains 45 steps to fit CI.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from dmzbench.adapters import SemanticLatentAdapter
from dmzbench.api import Baseline, DataSpec, TrainStage
from dmzbench.diffusion import GaussianDiffusion, ddim_grid, named_betas
from dmzbench.diffusion.gaussian import extract
from dmzbench.nn.adm_presets import ADM_SHAPES, ADMShape, unet_config
from dmzbench.nn.adm_unet import ADMUNet, AttentionBlock, norm
from dmzbench.nn.latent_diffusion import LatentDiffusion, LatentMLPSkip, autoencoder_then_latent
from dmzbench.presets import check_fields, omit_default, parse_preset, resolve

STOP_PERCENT = 0.3  # latent_diffusion_sample: G is dropped at sampler indices i with i - 1 < int(0.3 * K) (of K..1)
RECON_INVERT_STEPS = 1000  # autoencoding_eval.py: ddim1000 to encode x_T, ddim100 to decode
INTERP_INVERT_STEPS = 100  # interpolation.py: ddim100 both ways


@dataclass(frozen=True, kw_only=True)
class PDAEConfig:
    """A PDAE preset: the encoder's width, z_dim, the latent DPM's MLP and both stages' training. The frozen DPM is the
    ``ddpm`` of the same preset name (its shape: ``ADM_SHAPES`` in dmzbench/nn/adm_presets.py)."""

    enc_width: int
    z_dim: int
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
        check_fields(self, positive=("enc_width", "z_dim", "latent_hidden", "latent_layers", "batch_size", "lr",
                                     "latent_batch", "latent_lr", "stats_images"),
                     non_negative=("steps", "latent_steps"), fractions=("ema",))


SMOKE = PDAEConfig(enc_width=32, z_dim=512, latent_hidden=256, latent_layers=4, steps=45, batch_size=32, lr=2e-4,
                   ema=0.995, latent_steps=80, latent_batch=128, latent_lr=1e-3,
                   latent_weight_decay=0.01, flip=True,
                   stats_images=5_000)  # 80 x 128 latents: two passes over 5000 (CI time, issue 17)
PRESETS = {
    "init": replace(SMOKE, steps=0, latent_steps=0),
    "smoke": SMOKE,
    "small": replace(SMOKE, enc_width=64, latent_hidden=1024, latent_layers=6, steps=1500, batch_size=128, ema=0.999,
                     latent_steps=2000, latent_batch=512, stats_images=None),
    # the cpu suite (toolkit choice, docs/fidelity.md): F = 1.2e14 split 3:1 between encoder+estimator (whose counted
    # FLOPs include the frozen DPM's forward) and the latent DPM; the frozen DPM is ddpm's own cpu model (F of its own)
    "cpu": replace(SMOKE, steps=752, ema=0.999, latent_steps=1720, stats_images=10_000, snapshots=(47, 94, 188, 376)),
    "cpu-aux": replace(SMOKE, steps=188, ema=0.999, latent_steps=430, stats_images=10_000),
    "cifar10-paper": replace(SMOKE, enc_width=64, latent_hidden=2048, latent_layers=10, steps=500_000, batch_size=128,
                             lr=1e-4, ema=0.9999, latent_steps=500_000, latent_batch=512, stats_images=None),
}


class PDAEEncoder(nn.Module):
    ATTENTION_HEADS = 4  # AttentionBlock(128, 4, -1, False) in the official CELEBA64Encoder

    def __init__(self, image_size: int, in_channels: int, width: int, z_dim: int):
        super().__init__()
        widths = [width, 2 * width, 2 * width, 2 * width]
        first_stride = 2 if image_size >= 64 else 1  # 64 px: four stride-2 convs (official); 32 px: three, to 4x4
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, stride=first_stride, padding=1)]
        size, c = image_size // first_stride, widths[0]
        for w in widths[1:]:
            layers += [norm(c), nn.SiLU(), nn.Conv2d(c, w, 3, stride=2, padding=1)]
            c, size = w, size // 2
            if size == 16:
                layers.append(AttentionBlock(c, heads=self.ATTENTION_HEADS))
        self.body = nn.Sequential(*layers, norm(c), nn.SiLU(), nn.Flatten())
        self.proj = nn.Linear(c * size * size, z_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.body(x))


class PDAEModel(nn.Module):
    def __init__(self, cfg: PDAEConfig, dpm: ADMShape, spec: DataSpec):
        super().__init__()
        self.cfg, self.spec, self.z_dim = cfg, spec, cfg.z_dim
        self.unet = ADMUNet(unet_config(dpm, spec)).requires_grad_(False)  # the frozen pre-trained DPM
        self.encoder = PDAEEncoder(spec.image_size, spec.channels, cfg.enc_width, cfg.z_dim)
        self.estimator = self.unet.decoder_half_like(unet_config(dpm, spec, cond="scale_shift", cond_dim=cfg.z_dim,
                                                                  cond_embed=True))
        self.latent = LatentDiffusion(LatentMLPSkip(cfg.z_dim, cfg.latent_hidden, cfg.latent_layers),
                                      (cfg.z_dim,), betas="constant:0.008", loss="l1", per_dimension=True,
                                      grid="pdae", clamp=True)
        self.diffusion = d = GaussianDiffusion(named_betas("linear", 1000))
        abar, abar_prev = d.alphas_cumprod, d.alphas_cumprod_prev
        snr = abar / (1 - abar)
        self.shift_coef = -((1 - d.betas) ** 0.5) * (1 - abar_prev) / (1 - abar) ** 0.5
        self.weight = snr**0.1 / (1 + snr)

    def frozen_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, list[Tensor], Tensor]:
        with torch.no_grad():
            hs, emb = self.unet.encode_half(x_t, t)
            return self.unet.decoder(hs, emb).float(), hs, emb

    def training_loss(self, x0: Tensor, _labels: Tensor, cond: Tensor) -> Tensor:
        z = self.encoder(cond)
        t = torch.randint(0, 1000, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        eps, hs, emb = self.frozen_eps(self.diffusion.q_sample(x0, t, noise), t)
        g = self.estimator(hs, emb, z).float()
        shifted = eps + extract(self.shift_coef, t, x0.ndim) * g
        return (extract(self.weight, t, x0.ndim) * (noise - shifted) ** 2).mean()



class PDAEAdapter(SemanticLatentAdapter):
    ddim_grid = "pdae"
    recon_invert_steps = RECON_INVERT_STEPS
    interp_invert_steps = INTERP_INVERT_STEPS
    family_name = "pdae"
    sampler = "latent DDIM (clamped) + decoder DDIM (PDAE grid; G dropped below 30% when generating)"

    def semantic(self, x: Tensor) -> Tensor:
        return self.model.encoder(x)

    def g_threshold(self, steps: int, generating: bool) -> int:
        """The lowest timestep at which the sampler uses G. shift_ddim_sample_loop: stop_step = int(stop_percent * K)
        and use_shift = (i - 1) >= stop_step over sampler indices i = K..1 (index i evaluates timestep_map[i]), so the
        lowest index with G is stop_step + 1; stop_percent is 0 (G everywhere) except when decoding a generated z (0.3).
        """
        if not generating:
            return 0
        grid = ddim_grid("pdae", self.diffusion.num_steps, steps)
        stop_step = int(STOP_PERCENT * (len(grid.timesteps) - 1))  # the DDIM's K: kept timesteps less the end point
        return grid.timesteps[stop_step + 1]

    def denoiser(self, z: Tensor, steps: int, *, generating: bool = False):
        first_with_g = self.g_threshold(steps, generating)
        sqrt_one_minus_abar = (1 - self.diffusion.alphas_cumprod) ** 0.5

        def eps(x: Tensor, t: Tensor) -> Tensor:
            out, hs, emb = self.model.frozen_eps(x, t)
            use_g = (t >= first_with_g).float().view(-1, 1, 1, 1)
            g = self.model.estimator(hs, emb, z).float()
            return out - use_g * extract(sqrt_one_minus_abar, t, x.ndim) * g

        return eps


class PDAE(Baseline):
    name = "pdae"
    family = "pdae"
    Config = PDAEConfig
    presets = PRESETS
    stage_steps = ("steps", "latent_steps")

    def dependencies(self, preset: str) -> dict[str, tuple[str, str]]:
        return {"pretrained_dpm": ("ddpm", parse_preset(preset)[0])}  # model settings are PDAE's, not the DPM's

    def build(self, preset: str, spec: DataSpec) -> PDAEModel:
        return PDAEModel(resolve(self, preset), ADM_SHAPES[parse_preset(preset)[0]], spec)

    def attach(self, model: PDAEModel, dependencies: dict[str, nn.Module]) -> None:
        model.unet.load_state_dict(dependencies["pretrained_dpm"].unet.state_dict())

    def stages(self, model: PDAEModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        return autoencoder_then_latent(model, spec, nn.ModuleList([model.encoder, model.estimator]),
                                       model.training_loss, "latent-dpm",
                                       latent_weight_decay=model.cfg.latent_weight_decay)

    def adapter(self, model: PDAEModel, preset: str, spec: DataSpec) -> PDAEAdapter:
        return PDAEAdapter(model, preset)
