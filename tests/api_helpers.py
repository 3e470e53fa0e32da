"""A tiny registered data set and a tiny in-memory model for the Python API tests (seconds, no real data)."""

from __future__ import annotations

import torch
from torch import nn

from dmzbench import registry
from dmzbench.api import CapabilityMissing, DataSpec, ImageData, ModelInfo

TINY = "tiny-api"


class TinyBrightness:
    """200 train / 200 test grey 32x32 images whose label is whether the image is brighter than the median: a linear
    read-out of the pixels predicts it, constant features cannot."""

    name = TINY
    spec = DataSpec(TINY, 32, 1, 2)

    def load(self, root) -> ImageData:
        g = torch.Generator().manual_seed(0)
        base = torch.randint(0, 256, (400, 1, 32, 32), generator=g, dtype=torch.uint8)
        shift = torch.randint(-60, 61, (400, 1, 1, 1), generator=g)
        images = (base.int() + shift).clamp(0, 255).to(torch.uint8)
        mean = images.float().mean(dim=(1, 2, 3))
        labels = (mean > mean.median()).long()
        return ImageData(self.spec, images[:200], labels[:200], images[200:], labels[200:], source="synthetic")


def register_tiny() -> str:
    registry.register("dataset", TINY, TinyBrightness, "tests/api_helpers.py")
    return TINY


class TinyEncoder(nn.Module):
    """The ~20-line adapter a notebook writes: a torch module with ``info``, ``encode`` and the two methods it cannot
    do raising ``CapabilityMissing``."""

    info = ModelInfo(name="tiny-encoder", family="mine", preset="v1", image_size=32, channels=1, latent_shape=(8,),
                     latent_kind="continuous", can_reconstruct=False, can_generate=False)

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(32 * 32, 8)
        with torch.no_grad():
            self.proj.weight.add_(1.0 / 32)  # every feature sees the mean brightness

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.flatten(1))

    def reconstruct(self, x, *, steps, generator=None):
        raise CapabilityMissing("tiny-encoder cannot reconstruct")

    def generate(self, n, *, steps, generator=None):
        raise CapabilityMissing("tiny-encoder cannot generate")
