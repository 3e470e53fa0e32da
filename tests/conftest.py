import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dmzbench.api import DataSpec, ImageData


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own DMZBENCH_HOME so nothing leaks between tests or into the user's cache."""
    monkeypatch.setenv("DMZBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DMZBENCH_DATA", raising=False)
    torch.manual_seed(0)
    from dmzbench import registry

    saved = {kind: dict(entries) for kind, entries in registry._local.items()}
    yield tmp_path / "home"
    for kind in registry._local:  # models registered by hand in a test (--import, fault tests) do not leak
        registry._local[kind] = saved[kind]


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an IDX file (the on-disk format of (Fashion-)MNIST), gzip-compressed."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fashion_root(tmp_path) -> Path:
    root = tmp_path / "data" / "fashion-mnist"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    return root.parent


def tiny_data(n: int = 64, channels: int = 1, size: int = 32) -> ImageData:
    g = torch.Generator().manual_seed(0)
    spec = DataSpec("fashion-mnist", size, channels, 10)
    imgs = torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g)
    return ImageData(spec, imgs, labels, imgs[: n // 2], labels[: n // 2], source="synthetic")


REAL_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists() or bool(
    os.environ.get("DMZBENCH_DATA")
)
