"""CelebA at 64 px with its 40 binary attributes, from torchvision's on-disk layout:
``<root>/celeba/img_align_celeba/*.jpg``, ``list_attr_celeba.txt``, ``list_eval_partition.txt``.

Two preprocessings, as the papers differ:
- ``celeba64`` (InfoDiffusion): centre crop 178x178 of the 178x218 aligned image, resized to 64 (official DMZ,
  datasets/celeba64_npz.py, resizes the whole 178x218 image to 64x64 without a crop and tests on everything after
  index 162,770, i.e. validation + test: not offered, see docs/fidelity.md);
- ``celeba64-d2c`` (DiffAE / PDAE, D2C's crop): the 128x128 box at x 25..153, y 57..185, resized to 64.
Train = partition 0, test = partition 2 (validation, partition 1, is not used).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dmzbench.api import DataSpec, ImageData
from dmzbench.errors import DmzbenchError

FOLDER = "celeba"


def _read_attrs(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    lines = path.read_text().splitlines()
    names = lines[1].split()
    rows = {}
    for line in lines[2:]:
        parts = line.split()
        if parts:
            rows[parts[0]] = (np.array([int(v) for v in parts[1:]]) > 0).astype(np.int64)
    return names, rows


def _read_partition(path: Path) -> dict[str, int]:
    return {p[0]: int(p[1]) for p in (line.split() for line in path.read_text().splitlines()) if len(p) == 2}


class CelebA64:
    name = "celeba64"
    provides = frozenset({"attributes"})
    spec = DataSpec(name="celeba64", image_size=64, channels=3, num_classes=2)
    crop = "centre178"
    preprocessing = ("centre crop 178x178 of the 178x218 aligned image, Lanczos resize to 64 (InfoDiffusion); "
                     "train = partition 0, test = partition 2")

    def _box(self, w: int, h: int) -> tuple[int, int, int, int]:
        if self.crop == "d2c":
            return (25, 57, 153, 185)
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return (left, top, left + side, top + side)

    def load(self, root: Path | None) -> ImageData:
        # here: Pillow is needed only to read CelebA's JPEGs
        from PIL import Image

        folder = root / FOLDER if root is not None else None
        needed = ["list_attr_celeba.txt", "list_eval_partition.txt", "img_align_celeba"]
        if folder is None or not all((folder / n).exists() for n in needed):
            raise DmzbenchError(
                f"CelebA not found: put torchvision's celeba/ folder ({', '.join(needed)}) under --data-root or "
                "DMZBENCH_DATA (torchvision.datasets.CelebA(root, download=True) makes it on a connected machine)"
            )
        names, attrs = _read_attrs(folder / "list_attr_celeba.txt")
        partition = _read_partition(folder / "list_eval_partition.txt")
        splits: dict[int, list[str]] = {0: [], 2: []}
        for fname in sorted(partition):
            if partition[fname] in splits:
                splits[partition[fname]].append(fname)

        def load_split(files: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
            images = np.empty((len(files), 3, 64, 64), np.uint8)
            for i, fname in enumerate(files):
                with Image.open(folder / "img_align_celeba" / fname) as im:
                    im = im.convert("RGB")
                    im = im.crop(self._box(*im.size)).resize((64, 64), Image.Resampling.LANCZOS)
                    images[i] = np.asarray(im).transpose(2, 0, 1)
            return torch.from_numpy(images), torch.from_numpy(np.stack([attrs[f] for f in files]))

        (train_x, train_a), (test_x, test_a) = load_split(splits[0]), load_split(splits[2])
        smiling = names.index("Smiling")  # the class label for the probe; AUROC uses all 40
        return ImageData(self.spec, train_x, train_a[:, smiling].clone(), test_x, test_a[:, smiling].clone(),
                         source=str(folder), train_attributes=train_a, test_attributes=test_a,
                         attribute_names=tuple(names), preprocessing=self.preprocessing)


class CelebA64D2C(CelebA64):
    name = "celeba64-d2c"
    spec = DataSpec(name="celeba64-d2c", image_size=64, channels=3, num_classes=2)
    crop = "d2c"
    preprocessing = ("D2C crop: the 128x128 box x 25..153, y 57..185, Lanczos resize to 64 (DiffAE / PDAE); "
                     "train = partition 0, test = partition 2")
