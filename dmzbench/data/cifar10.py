"""CIFAR-10 (32x32 RGB, 50k train / 10k test) read from the python-pickle batches torchvision downloads.

The batches are read directly (not through torchvision's class) so that a data root holding the real files is enough,
without torchvision's md5 check of the archive.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from dmzbench.api import DataSpec, ImageData
from dmzbench.data import download_root
from dmzbench.errors import DmzbenchError

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]
FOLDER = "cifar-10-batches-py"


def _read_batches(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for name in names:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DmzbenchError(f"{folder / name} does not hold CIFAR-10 rows of 3072 bytes; fetch the data again")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.extend(batch[b"labels"])
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.int64)


class CIFAR10:
    name = "cifar10"
    provides = frozenset()
    spec = DataSpec(name="cifar10", image_size=32, channels=3, num_classes=10)

    def locate(self, root: Path | None) -> Path | None:
        for base in ([root] if root is not None else []):
            folder = base / FOLDER
            if all((folder / n).is_file() for n in TRAIN_BATCHES + TEST_BATCHES):
                return folder
        return None

    def load(self, root: Path | None) -> ImageData:
        folder = self.locate(root) or self._download()
        train_x, train_y = _read_batches(folder, TRAIN_BATCHES)
        test_x, test_y = _read_batches(folder, TEST_BATCHES)
        return ImageData(self.spec, train_x, train_y, test_x, test_y, source=str(folder))

    def _download(self) -> Path:
        target = download_root()
        try:
            # here: torchvision's data sets load slowly and only a download needs them
            from torchvision.datasets import CIFAR10 as TV

            TV(str(target), train=True, download=True)
        except Exception as exc:
            raise DmzbenchError(
                f"CIFAR-10 not found. Put the folder {FOLDER}/ (from cifar-10-python.tar.gz) under --data-root or "
                f"DMZBENCH_DATA, or go online so torchvision can download it (tried into {target}: "
                f"{type(exc).__name__})"
            ) from None
        return target / FOLDER
