"""Domain transfer (sketch -> photo) of N test sources, under one of two protocols (the record names it in
``task.config.protocol``; the leaderboard never ranks the two in one column):

- ``paired`` (default; a toolkit protocol): ONE model trained in paired mode (its encoder sees the source domain, its
  decoder produces the target domain) translates each test source by ``reconstruct``;
- ``bridge`` (the DMZ paper's method, tasks/bridge.py): a model of the source domain alone and a model of the target
  domain alone (the same family and preset, obtained per domain), and an MLP from the source model's codes to the
  target model's codes, trained on the paired training images; a test source is encoded, bridged and decoded by the
  target model (``decode_latent``) with 40 respaced steps (bridge_eval.py ``--timestep_respacing 40``). Any family
  with an encoder and the ``decode`` capability can run it.

Metrics: FID of the translations against the real target test images (in the named feature space), and MSE / SSIM to
the paired ground truth. LPIPS, which papers add, needs weights this machine cannot download: not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from dmzbench.api import SOURCE_DOMAIN, ImageData, Metric, ModelAdapter, ModelInfo, TaskContext, to_model_range
from dmzbench.config import at_most
from dmzbench.errors import UsageError
from dmzbench.images import save_grid
from dmzbench.metrics.frechet import BOOTSTRAP_MEANING, GaussianStats, bootstrap_std, frechet_distance
from dmzbench.metrics.image import mse, ssim, to_unit, with_standard_errors
from dmzbench.budget import TaskCost
from dmzbench.tasks.bridge import BridgeSettings, codes, fit_bridge
from dmzbench.tasks.common import FeatureSpaceOptions, map_images

DEFAULT_STEPS = {"paired": 100, "bridge": 40}


@dataclass(frozen=True)
class TransferConfig(FeatureSpaceOptions):
    protocol: Literal["paired", "bridge"] = "paired"
    n_images: int = at_most(1000, 200_000)  # at most the test split's size is used
    steps: int = at_most(0, 10_000)  # decode steps; 0 = the protocol's own (paired 100, bridge 40)
    features: str = "pinned"
    inception_weights: str = ""
    batch_size: int = 100
    # bridge protocol: the MLP and its training (bridge_train.py defaults, as BridgeSettings holds them)
    bridge_hidden_dim: int = BridgeSettings.hidden_dim
    bridge_layers: int = BridgeSettings.layers
    bridge_lr: float = BridgeSettings.lr
    bridge_epochs: int = at_most(BridgeSettings.max_epochs, 10_000)  # early stopping usually ends it far sooner
    bridge_batch_size: int = BridgeSettings.batch_size
    bridge_train_images: int = 0  # 0 = every training pair

    def __post_init__(self):
        super().__post_init__()
        if self.n_images < 2 or self.steps < 0 or self.batch_size < 1:
            raise ValueError("n_images must be >= 2, steps >= 0 (0 = the protocol's own) and batch_size >= 1")
        if min(self.bridge_hidden_dim, self.bridge_epochs, self.bridge_batch_size) < 1 or self.bridge_layers < 0:
            raise ValueError("bridge_hidden_dim, bridge_epochs and bridge_batch_size must be >= 1, bridge_layers >= 0")
        if not self.bridge_lr > 0:
            raise ValueError(f"bridge_lr must be a positive learning rate, got {self.bridge_lr}")
        if self.bridge_train_images < 0 or 0 < self.bridge_train_images < 20:
            raise ValueError("bridge_train_images must be 0 (all) or >= 20")

    @property
    def decode_steps(self) -> int:
        return self.steps or DEFAULT_STEPS[self.protocol]

    def bridge_settings(self) -> BridgeSettings:
        return BridgeSettings(hidden_dim=self.bridge_hidden_dim, layers=self.bridge_layers, lr=self.bridge_lr,
                              batch_size=self.bridge_batch_size, max_epochs=self.bridge_epochs)


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
        Metric("fid", False, "FID of the translations against the real target test images.", uncertainty="fid_std",
               uncertainty_meaning=BOOTSTRAP_MEANING),
        Metric("mse", False, "Mean squared error to the paired ground truth, images in [0, 1].", uncertainty="mse_sem",
               uncertainty_meaning="standard error of the mean over images"),
        Metric("ssim", True, "SSIM to the paired ground truth.", uncertainty="ssim_sem",
               uncertainty_meaning="standard error of the mean over images"),
    )
    artifacts = {"translations.png": "rows: sources, translations, targets"}

    @staticmethod
    def cost(config: TransferConfig, info: ModelInfo, invert_steps=None) -> TaskCost:
        """Encode each source image and decode it once (the bridge also encodes the training pairs in both domains and
        trains a second model, which the cost model does not see yet: priced as a fixed minute)."""
        bridge = config.protocol == "bridge"
        return TaskCost(denoiser_forwards=config.n_images * config.decode_steps,
                        encoded_images=config.n_images + (120_000 if bridge else 0), fixed_s=65 if bridge else 5,
                        other_modes=(SOURCE_DOMAIN,) if bridge else ())

    @staticmethod
    def needs(config: TransferConfig) -> tuple[str, frozenset[str]]:
        """paired: one model trained in paired mode; bridge: the target-domain model as trained on the data set (the
        source-domain model is asked for during the run)."""
        if config.protocol == "bridge":
            return "", frozenset({"encode", "decode"})
        return "paired", frozenset({"reconstruct"})

    @staticmethod
    def validate(data: ImageData, config: TransferConfig) -> None:
        if not data.paired:
            raise UsageError(f"task transfer needs a paired data set (edges2fashion, edges2handbags, edges2shoes); "
                             f"{data.spec.name} is not paired")

    def run(self, adapter: ModelAdapter, data: ImageData, config: TransferConfig, ctx: TaskContext) -> dict[str, float]:
        space = config.feature_space(data, ctx.device)
        sources = data.test_sources[: config.n_images]
        targets = data.test_images[: config.n_images]
        steps = config.decode_steps
        g = ctx.generator(steps)
        translate = self._bridge(adapter, data, config, ctx) if config.protocol == "bridge" else (
            lambda x: adapter.reconstruct(x, steps=steps, generator=g))
        out = map_images(translate, sources, config.batch_size, ctx, what="transfer: translated")
        a, b = to_unit(to_model_range(targets)), to_unit(to_model_range(out))
        ctx.details.update(space.describe(), n_images=len(sources), decode_steps=steps, x_T="random",
                           reference="paired test targets", seed=ctx.seed)
        save_grid(ctx.output_dir / "translations.png", torch.cat([sources[:16], out[:16], targets[:16]]), 16)
        per_image = {"mse": mse(a, b), "ssim": ssim(a, b)}
        generated, reference = space.extract(out), GaussianStats.of(space.extract(targets))
        fid = frechet_distance(GaussianStats.of(generated), reference)
        return with_standard_errors({"fid": fid, "fid_std": bootstrap_std(generated, reference),
                                     **{k: v.mean().item() for k, v in per_image.items()}}, per_image)


    @staticmethod
    def _bridge(target: ModelAdapter, data: ImageData, config: TransferConfig, ctx: TaskContext):
        """Obtain the source-domain model, fit the bridge on the training pairs; returns source images -> translations."""
        if ctx.model_in_mode is None:
            raise UsageError("the bridge protocol needs the runner to obtain the source-domain model; run it with "
                             "'dmzbench run --task transfer -o protocol=bridge'")
        source = ctx.model_in_mode(SOURCE_DOMAIN)
        n = config.bridge_train_images or len(data.train_images)
        binary = target.info.latent_kind == "binary"
        z_src = codes(source, data.train_sources[:n], ctx.device, ctx.generator(1))
        z_tgt = codes(target, data.train_images[:n], ctx.device, ctx.generator(2))
        bridge, summary = fit_bridge(z_src, z_tgt, binary, config.bridge_settings(), ctx.seed)
        ctx.details["bridge"] = summary | {"code": "Bernoulli(p) draws" if binary else "encode features",
                                           "source_model_latent": source.info.latent_kind}
        ctx.log(f"transfer: bridge {z_src.shape[1]} -> {z_tgt.shape[1]} trained on {n} pairs, {summary}")
        g_code, g_decode = ctx.generator(3), ctx.generator(config.decode_steps)

        def translate(x: torch.Tensor) -> torch.Tensor:
            z = source.encode(x).float().cpu()
            z = torch.bernoulli(z, generator=g_code) if source.info.latent_kind == "binary" else z
            with torch.no_grad():
                mapped = bridge(z)
            return target.decode_latent(mapped, steps=config.decode_steps, generator=g_decode)

        return translate
