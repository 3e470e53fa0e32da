"""``pixels``: the identity encoder on flattened pixels, the raw-pixel reference row of every representation table.

It neither reconstructs nor generates; tasks that need those skip it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dmzbench.api import Baseline, CapabilityMissing, DataSpec, ModelInfo, TrainStage


@dataclass(frozen=True)
class PixelsConfig:
    """The identity has nothing to configure."""


class PixelsAdapter:
    def __init__(self, spec: DataSpec, preset: str):
        self.info = ModelInfo(
            name="pixels", family="pixels", preset=preset, image_size=spec.image_size, channels=spec.channels,
            latent_shape=(spec.channels * spec.image_size**2,), latent_kind="continuous",
            can_reconstruct=False, can_generate=False,
        )

    def encode(self, x: Tensor) -> Tensor:
        return x.flatten(1)

    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        raise CapabilityMissing("pixels is an encoder-only reference; it has no decoder")

    def generate(self, n: int, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        raise CapabilityMissing("pixels is an encoder-only reference; it cannot generate")


class Pixels(Baseline):
    name = "pixels"
    family = "pixels"
    Config = PixelsConfig
    presets = {"identity": PixelsConfig()}
    default_preset = "identity"
    trainable = False

    def build(self, preset: str, spec: DataSpec) -> nn.Module:
        return nn.Identity()

    def stages(self, model: nn.Module, preset: str, spec: DataSpec) -> list[TrainStage]:
        return []

    def adapter(self, model: nn.Module, preset: str, spec: DataSpec) -> PixelsAdapter:
        return PixelsAdapter(spec, preset)
