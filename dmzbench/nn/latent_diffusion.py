"""Diffusion models over latents, for the families whose generation goes through one:

- ``LatentMLPSkip``: DiffAE's latent DDIM denoiser (``MLPSkipNet``: z concatenated into every later layer, each hidden
  layer h = SiLU(LN(Linear(h) * (1 + Linear(SiLU(t_emb))))), Kaiming-normal weights), shared by DiffAE and PDAE;
- ``spatial_latent_unet``: a diffusers UNet2DModel over spatial latents (c, h, w), shared by SD-VAE and DGAE;
- ``LatentDiffusion``: either denoiser plus normalisation statistics (per-dimension mean/std for vectors, DiffAE's
  "crucial" z-normalisation; one global 1/std for spatial latents, SD's 0.18215), the eps loss (L1 or L2) and DDIM on
  the family's grid; PDAE's sampler clamps z_T and every predicted z0 to [-1, 1] (``clamp=True``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from torch import Tensor, nn

from dmzbench.api import TrainStage, to_model_range
from dmzbench.augment import maybe_flipped
from dmzbench.diffusion import GaussianDiffusion, named_betas
from dmzbench.diffusion.sampling import ddim_sample, randn
from dmzbench.nn.adm_unet import timestep_embedding


class LatentMLPSkip(nn.Module):
    def __init__(self, dim: int, hidden: int = 2048, layers: int = 10, time_channels: int = 64):
        super().__init__()
        self.time_channels = time_channels
        self.time_embed = nn.Sequential(nn.Linear(time_channels, dim), nn.SiLU(), nn.Linear(dim, dim))
        widths_in = [dim] + [hidden + dim] * (layers - 1)
        widths_out = [hidden] * (layers - 1) + [dim]
        self.linears = nn.ModuleList(nn.Linear(i, o) for i, o in zip(widths_in, widths_out))
        self.conds = nn.ModuleList(nn.Linear(dim, o) for o in widths_out[:-1])
        self.norms = nn.ModuleList(nn.LayerNorm(o) for o in widths_out[:-1])
        # MLPLNAct.init_weights: Kaiming-normal (ReLU gain) for every Linear of a SiLU layer, the output layer's and the
        # time embedding's default; biases keep PyTorch's default, as there.
        for layer in [*self.linears[:-1], *self.conds]:
            nn.init.kaiming_normal_(layer.weight, a=0, nonlinearity="relu")

    def forward(self, z_t: Tensor, t: Tensor) -> Tensor:
        emb = F.silu(self.time_embed(timestep_embedding(t, self.time_channels)))  # cond_layers = (SiLU, Linear)
        h = z_t
        for i, linear in enumerate(self.linears):
            if i > 0:  # skip connection: the input is concatenated into every later layer
                h = torch.cat([h, z_t], dim=1)
            h = linear(h)
            if i < len(self.conds):
                h = F.silu(self.norms[i](h * (1 + self.conds[i](emb))))
        return h


def spatial_latent_unet(channels: int, size: int, widths: tuple[int, ...] = (64, 128), layers: int = 2) -> UNet2DModel:
    down = ["DownBlock2D"] + ["AttnDownBlock2D"] * (len(widths) - 1)
    return UNet2DModel(
        sample_size=size, in_channels=channels, out_channels=channels, block_out_channels=widths,
        down_block_types=tuple(down), up_block_types=tuple(b.replace("Down", "Up") for b in reversed(down)),
        layers_per_block=layers, norm_num_groups=min(32, widths[0]),
    )


class LatentDiffusion(nn.Module):
    """A diffusion model over (normalised) latents. ``stat_shape`` is (D,) for per-dimension statistics of vectors,
    (1,) for one global scale of spatial latents."""

    def __init__(self, denoiser: nn.Module, latent_shape: tuple[int, ...], *, betas: str, loss: Literal["l1", "l2"],
                 per_dimension: bool, grid: str = "even", clamp: bool = False):
        super().__init__()
        self.denoiser, self.latent_shape, self.loss_type = denoiser, latent_shape, loss
        self.grid, self.clamp = grid, clamp
        stat = latent_shape if per_dimension else (1,) * len(latent_shape)
        self.register_buffer("mean", torch.zeros(stat))
        self.register_buffer("std", torch.ones(stat))
        self.diffusion = GaussianDiffusion(named_betas(betas, 1000))

    def _net(self, z: Tensor, t: Tensor) -> Tensor:
        out = self.denoiser(z, t)
        return (out.sample if hasattr(out, "sample") else out).float()

    @torch.no_grad()
    def fit_statistics(self, z: Tensor) -> None:
        if self.mean.numel() > 1:
            self.mean.copy_(z.mean(0))
            self.std.copy_(z.std(0).clamp_min(1e-6))
        else:  # spatial latents: zero mean assumed, one global scale (as SD's scale_factor)
            self.std.fill_(float(z.std().clamp_min(1e-6)))

    def normalise(self, z: Tensor) -> Tensor:
        return (z - self.mean) / self.std

    def loss(self, z: Tensor) -> Tensor:
        z0 = self.normalise(z.float())
        t = torch.randint(0, self.diffusion.num_steps, (len(z0),), device=z0.device)
        noise = torch.randn_like(z0)
        eps = self._net(self.diffusion.q_sample(z0, t, noise), t)
        return (eps - noise).abs().mean() if self.loss_type == "l1" else ((eps - noise) ** 2).mean()

    @torch.no_grad()
    def sample(self, n: int, steps: int, generator: torch.Generator | None = None) -> Tensor:
        device = self.mean.device
        z_T = randn((n, *self.latent_shape), generator, device)
        if self.clamp:  # PDAE latent_diffusion_sample: "z_T.clamp_(-1.0, 1.0)", then ddim_sample clamps each z0
            z_T = z_T.clamp(-1, 1)
        z = ddim_sample(self._net, self.diffusion, z_T.shape, steps, x_T=z_T, device=device, clip_x0=self.clamp,
                        clip_output=False, grid=self.grid)
        return z * self.std + self.mean


@torch.no_grad()
def training_latents(encode, data, device: torch.device, limit: int | None = None, batch_size: int = 500) -> Tensor:
    """``encode`` applied to the training images (all of them, as DiffAE's ``infer_whole_dataset`` and PDAE's
    ``infer_latents``, or the first ``limit``): what stage-2 normalisation statistics come from (in paired mode the
    trainer hands ``prepare`` the source images, which are what the encoder sees). Unflipped, as both official codes."""
    images = data.train_images if limit is None else data.train_images[:limit]
    return torch.cat([encode(to_model_range(images[i : i + batch_size]).to(device)).float()
                      for i in range(0, len(images), batch_size)])


def latent_stage(name: str, latent: LatentDiffusion, encode_sample, encode_mean, *, steps: int, batch_size: int,
                 lr: float, ema: float, weight_decay: float = 0.0, stats_images: int | None = None):
    """The second training stage every latent-generation family has: fit the normalisation statistics on the encoder's
    (mean) latents of the training set (``stats_images``: None = all of it), then train ``latent`` on (sampled) latents
    of the frozen encoder."""
    def loss(_x: Tensor, _labels: Tensor, cond: Tensor) -> Tensor:
        with torch.no_grad():
            z = encode_sample(cond)
        return latent.loss(z)

    def prepare(data) -> None:
        latent.fit_statistics(training_latents(encode_mean, data, latent.mean.device, stats_images))

    return TrainStage(name, latent, loss, steps, batch_size, lr, weight_decay=weight_decay, ema_decay=ema,
                      prepare=prepare)


def autoencoder_then_latent(model: nn.Module, spec, trainable: nn.Module, loss, latent_name: str, *,
                            latent_weight_decay: float = 0.0) -> list:
    """The two stages of the semantic-latent families (DiffAE, PDAE), read from ``model.cfg``: the autoencoder (the
    ``trainable`` part, on ``loss``, flipped where the preset and data set allow), then ``latent_stage`` on
    ``model.latent`` over ``model.encoder``'s latents. No stages when the preset trains none (``init``)."""
    cfg = model.cfg
    if not cfg.steps:
        return []
    return [
        TrainStage("autoencoder", trainable, maybe_flipped(loss, cfg.flip, spec), cfg.steps, cfg.batch_size, cfg.lr,
                   ema_decay=cfg.ema),
        latent_stage(latent_name, model.latent, model.encoder, model.encoder, steps=cfg.latent_steps,
                     batch_size=cfg.latent_batch, lr=cfg.latent_lr, ema=cfg.ema, weight_decay=latent_weight_decay,
                     stats_images=cfg.stats_images),
    ]


def spatial_latent_diffusion(channels: int, size: int, widths: tuple[int, ...], layers: int, *,
                             betas: str = "linear", loss: Literal["l1", "l2"] = "l2") -> LatentDiffusion:
    """The latent model of the spatial-latent families (SD-VAE, DGAE): ``spatial_latent_unet`` on (channels, size,
    size) latents, eps-prediction (DDPM linear betas and eps-MSE unless a preset names others, as SD-VAE's
    ``kl-f8-paper`` does), one normalisation scale for the whole latent (SD's 1/std)."""
    return LatentDiffusion(spatial_latent_unet(channels, size, tuple(widths), layers), (channels, size, size),
                           betas=betas, loss=loss, per_dimension=False)
