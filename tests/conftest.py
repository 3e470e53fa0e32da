import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dmzbench.api import DataSpec, ImageData


def _real_fashion_data_root() -> str | None:
    """Where the real Fashion-MNIST is on this machine, looked up once before any test isolates the environment (never
    downloads): "" for the system copy (Debian's dataset-fashion-mnist), the folder for one in $DMZBENCH_DATA, None
    when there is none. Set DMZBENCH_SYSTEM_DATA to an empty folder to play a machine without the Debian package."""
    from dmzbench.data import system_data_dir
    from dmzbench.data.fashion_mnist import SUBDIRS, find_idx_files

    env = os.environ.get("DMZBENCH_DATA")
    if env and any(find_idx_files(Path(env) / sub) for sub in SUBDIRS):
        return env
    return "" if find_idx_files(system_data_dir() / "fashion-mnist") else None


REAL_FASHION_ROOT = _real_fashion_data_root()
REAL_FASHION = REAL_FASHION_ROOT is not None
NO_FASHION = ("needs the real Fashion-MNIST, which is not on this machine (dmzbench data get fashion-mnist; or "
              "DMZBENCH_DATA=a folder with its IDX files)")


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.fashion_mnist``: the test trains or scores on the real data set; skipped, with the one reason,
    where it is absent."""
    for item in items:
        if item.get_closest_marker("fashion_mnist") and not REAL_FASHION:
            item.add_marker(pytest.mark.skip(reason=NO_FASHION))


@pytest.fixture(autouse=True)
def isolated_home(request, tmp_path, monkeypatch):
    """Every test gets its own DMZBENCH_HOME so nothing leaks between tests or into the user's cache, never downloads,
    and sees $DMZBENCH_DATA only when it is marked as needing the real Fashion-MNIST kept there."""
    monkeypatch.setenv("DMZBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DMZBENCH_OFFLINE", "1")
    monkeypatch.delenv("DMZBENCH_DATA", raising=False)
    if REAL_FASHION_ROOT and request.node.get_closest_marker("fashion_mnist"):
        monkeypatch.setenv("DMZBENCH_DATA", REAL_FASHION_ROOT)
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


class TinySource:
    """A data set source serving ``tiny_data()`` (register it as "tiny" for runner-level tests)."""

    name = "tiny"
    spec = tiny_data().spec

    def load(self, root):
        return tiny_data()
