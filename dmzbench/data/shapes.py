"""``shapes``: a procedural RGB 32x32 image set with 8 binary attributes, the offline stand-in for CelebA's 40.

Every image is drawn from its attributes, which are drawn independently (p = 0.5) from a fixed seed, so the set is
identical on every machine: 20,000 train / 5,000 test images, made in a few seconds and not stored.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from dmzbench.api import DataSpec, ImageData

ATTRIBUTES = ("square", "red", "large", "left", "top", "light_background", "outlined", "bar")
SIZES = {"train": 20_000, "test": 5_000}
SEEDS = {"train": 20240601, "test": 20240602}


def render(attrs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 8) 0/1 attributes -> (N, 3, 32, 32) uint8 images. Small jitter in position, size and colour keeps the set from
    being 256 distinct pictures."""
    n = len(attrs)
    a = {name: attrs[:, i].astype(bool) for i, name in enumerate(ATTRIBUTES)}
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    radius = np.where(a["large"], 7.0, 4.0) + rng.uniform(-0.5, 0.5, n)
    cx = np.where(a["left"], 9.0, 22.0) + rng.uniform(-2, 2, n)
    cy = np.where(a["top"], 9.0, 22.0) + rng.uniform(-2, 2, n)
    dx, dy = xx[None] - cx[:, None, None], yy[None] - cy[:, None, None]
    r = radius[:, None, None]
    circle_d = np.sqrt(dx**2 + dy**2)
    square_d = np.maximum(np.abs(dx), np.abs(dy))
    dist = np.where(a["square"][:, None, None], square_d, circle_d)
    filled = dist <= r
    ring = filled & (dist > r - 1.6)
    shape = np.where(a["outlined"][:, None, None], ring, filled)

    bg_level = np.where(a["light_background"], 200.0, 40.0) + rng.uniform(-15, 15, n)
    img = np.repeat(bg_level[:, None, None, None], 3, axis=1) * np.ones((1, 3, 32, 32), np.float32)
    red = np.stack([np.full(n, 220.0), np.full(n, 40.0), np.full(n, 40.0)], 1)
    blue = np.stack([np.full(n, 40.0), np.full(n, 90.0), np.full(n, 230.0)], 1)
    colour = np.where(a["red"][:, None], red, blue) + rng.uniform(-20, 20, (n, 3))
    img = np.where(shape[:, None], colour[:, :, None, None], img)
    bar = a["bar"][:, None, None] & (yy[None] >= 29) & (xx[None] >= 4) & (xx[None] < 28)
    img = np.where(bar[:, None], 128.0, img)
    return np.clip(img, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _rendered(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(SEEDS[split])
    attrs = rng.integers(0, 2, (SIZES[split], len(ATTRIBUTES)))
    return torch.from_numpy(render(attrs, rng)), torch.from_numpy(attrs.astype(np.int64))


def make_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's images and attributes: rendered once per process (about 4 s; a suite loads the set once per model),
    handed out as copies so no caller can change another's data."""
    images, attrs = _rendered(split)
    return images.clone(), attrs.clone()


class Shapes:
    name = "shapes"
    provides = frozenset({"attributes"})
    feature_space = "shapes-featnet"  # the pinned feature space of its FID and image metrics
    spec = DataSpec(name="shapes", image_size=32, channels=3, num_classes=2)

    def load(self, root: Path | None) -> ImageData:
        (train_x, train_a), (test_x, test_a) = make_split("train"), make_split("test")
        # The class label (for the linear probe) is the shape kind; AUROC uses all 8 attributes.
        return ImageData(self.spec, train_x, train_a[:, 0].clone(), test_x, test_a[:, 0].clone(),
                         source="procedural (seeded)", train_attributes=train_a, test_attributes=test_a,
                         attribute_names=ATTRIBUTES)
