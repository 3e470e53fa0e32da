"""pix2pix paired sets (Edges2Handbags, Edges2Shoes): each JPEG holds the edge map (A) and the photo (B) side by side.

Layout: ``<root>/edges2handbags/{train,val}/*.jpg`` (as the pix2pix download unpacks). Both halves are resized to 64 px;
the test split is ``val``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dmzbench.api import DataSpec, ImageData
from dmzbench.errors import DmzbenchError


def read_pairs(folder: Path, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    # here: Pillow is needed only to read the pix2pix JPEGs
    from PIL import Image

    files = sorted(folder.glob("*.jpg"))
    sources = np.empty((len(files), 3, size, size), np.uint8)
    targets = np.empty_like(sources)
    for i, path in enumerate(files):
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            a, b = im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))
            sources[i] = np.asarray(a.resize((size, size), Image.Resampling.BICUBIC)).transpose(2, 0, 1)
            targets[i] = np.asarray(b.resize((size, size), Image.Resampling.BICUBIC)).transpose(2, 0, 1)
    return torch.from_numpy(sources), torch.from_numpy(targets)


class _Pix2Pix:
    provides = frozenset({"pairs"})
    name: str
    spec: DataSpec

    def load(self, root: Path | None) -> ImageData:
        folder = root / self.name if root is not None else None
        if folder is None or not ((folder / "train").is_dir() and (folder / "val").is_dir()):
            raise DmzbenchError(
                f"{self.name} not found: unpack the pix2pix archive {self.name}.tar.gz under --data-root or "
                f"DMZBENCH_DATA so that {self.name}/train/*.jpg and {self.name}/val/*.jpg exist"
            )
        train_a, train_b = read_pairs(folder / "train")
        test_a, test_b = read_pairs(folder / "val")
        zeros = lambda n: torch.zeros(n, dtype=torch.int64)  # noqa: E731  (no class labels)
        return ImageData(self.spec, train_b, zeros(len(train_b)), test_b, zeros(len(test_b)), source=str(folder),
                         train_sources=train_a, test_sources=test_a)


class Edges2Handbags(_Pix2Pix):
    name = "edges2handbags"
    spec = DataSpec(name="edges2handbags", image_size=64, channels=3, num_classes=1)


class Edges2Shoes(_Pix2Pix):
    name = "edges2shoes"
    spec = DataSpec(name="edges2shoes", image_size=64, channels=3, num_classes=1)
