"""A complete third-party dmzbench model: PCA on pixels, using only dmzbench's public API (``dmzbench.api``).

PCA has no gradient training: its one stage has zero optimiser steps and fits the components in ``prepare`` (on the
first 10,000 training images), which the trainer runs once before the stage and whose result the checkpoint keeps.
It encodes (the projection) and reconstructs (the back-projection); it cannot generate.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dmzbench.api import Baseline, CapabilityMissing, DataSpec, ModelInfo, TrainStage, to_model_range


class PCAModel(nn.Module):
    def __init__(self, dim: int, components: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("basis", torch.eye(dim)[:components].clone())  # (k, dim), rows orthonormal

    def fit(self, data) -> None:
        x = to_model_range(data.train_images[:10_000]).flatten(1).double()
        mean = x.mean(0)
        _, _, v = torch.linalg.svd(x - mean, full_matrices=False)
        self.mean.copy_(mean.float())
        self.basis.copy_(v[: len(self.basis)].float())


class PCAAdapter:
    def __init__(self, model: PCAModel, spec: DataSpec, preset: str):
        self.model, self.spec = model, spec
        self.info = ModelInfo("pca", "pca", preset, spec.image_size, spec.channels, (len(model.basis),), "continuous",
                              can_generate=False)

    def encode(self, x: Tensor) -> Tensor:
        return (x.flatten(1).to(self.model.mean) - self.model.mean) @ self.model.basis.T

    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        flat = self.encode(x) @ self.model.basis + self.model.mean
        return flat.view(x.shape).clamp(-1, 1)

    def generate(self, n: int, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        raise CapabilityMissing("PCA has no generative prior here")


class PCA(Baseline):
    name = "pca"
    family = "pca"
    presets = {"k16": {"components": 16}, "k64": {"components": 64}}
    default_preset = "k16"

    def build(self, preset: str, spec: DataSpec) -> PCAModel:
        return PCAModel(spec.channels * spec.image_size**2, self.presets[preset]["components"])

    def stages(self, model: PCAModel, preset: str, spec: DataSpec) -> list[TrainStage]:
        return [TrainStage("pca", model, prepare=model.fit)]  # no gradient steps: no loss, batch size or lr

    def adapter(self, model: PCAModel, preset: str, spec: DataSpec) -> PCAAdapter:
        return PCAAdapter(model, spec, preset)
