"""``edges2fashion``: paired (edge map, image) made deterministically from Fashion-MNIST with a Sobel edge detector,
the offline stand-in for Edges2Handbags (whose edge maps were made from photos with HED).

An edge pixel is one whose Sobel gradient magnitude exceeds 25% of the image's largest; edges are white on black.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from dmzbench.api import DataSpec, ImageData
from dmzbench.data.fashion_mnist import FashionMNIST

THRESHOLD = 0.25


def sobel_edges(images: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """(N, 1, H, W) uint8 -> (N, 1, H, W) uint8 binary edge maps (0 / 255)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([kx, kx.T])[:, None]
    out = []
    for chunk in images.split(10_000):
        g = F.conv2d(chunk.float() / 255.0, kernels, padding=1)
        mag = g.pow(2).sum(1, keepdim=True).sqrt()
        peak = mag.flatten(1).amax(1).clamp_min(1e-6).view(-1, 1, 1, 1)
        out.append(((mag > threshold * peak).to(torch.uint8) * 255))
    return torch.cat(out)


class Edges2Fashion:
    name = "edges2fashion"
    provides = frozenset({"pairs"})
    feature_space = "fmnist-featnet"  # paired sets use their target domain's pinned space
    spec = DataSpec(name="edges2fashion", image_size=32, channels=1, num_classes=10)

    def load(self, root: Path | None) -> ImageData:
        base = FashionMNIST().load(root)
        return ImageData(self.spec, base.train_images, base.train_labels, base.test_images, base.test_labels,
                         source=f"{base.source} + Sobel edges", train_sources=sobel_edges(base.train_images),
                         test_sources=sobel_edges(base.test_images))
