"""Fashion-MNIST: 60k train / 10k test grey 28x28 images, zero-padded to 32x32.

Looked up, in order: the data root (``--data-root`` / ``$DMZBENCH_DATA``), the Debian package ``dataset-fashion-mnist``
(under ``$DMZBENCH_SYSTEM_DATA``, default ``/usr/share/datasets``), an earlier torchvision download, then a torchvision
download when the machine is online (not with ``$DMZBENCH_OFFLINE``). ``dmzbench data get fashion-mnist`` fetches it.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dmzbench.api import DataSpec, ImageData
from dmzbench.data import download_root, downloads_allowed, system_data_dir
from dmzbench.errors import DmzbenchError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
DEBIAN_PACKAGE = "dataset-fashion-mnist"
# Layouts seen in the wild under a data root: flat, ./fashion-mnist/, and torchvision's ./FashionMNIST/raw/.
SUBDIRS = ("", "fashion-mnist", "FashionMNIST/raw")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally .gz): the format of (Fashion-)MNIST."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as exc:  # truncated archive (EOFError), flipped bytes (BadGzipFile, CRC)
        kind = "truncated" if isinstance(exc, EOFError) else f"damaged ({exc})"
        raise DmzbenchError(f"{path} is a {kind} archive; delete it and fetch it again, or point --data-root at a "
                            "good copy") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DmzbenchError(f"{path} is not an IDX file of unsigned bytes; delete it and fetch the data again")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DmzbenchError(f"{path} is truncated ({data.size} of {int(np.prod(dims))} bytes); fetch it again")
    return data.reshape(dims)


def debian_dir() -> Path:
    """Where the Debian package puts the files."""
    return system_data_dir() / "fashion-mnist"


def download(target: Path) -> None:
    """torchvision's download (with its md5 checks) into ``target/FashionMNIST/raw``; raises when offline."""
    # here: torchvision's data sets load slowly and only a download needs them
    from torchvision.datasets import FashionMNIST as TV

    TV(str(target), train=True, download=True)
    TV(str(target), train=False, download=True)


def find_idx_files(directory: Path) -> dict[str, Path] | None:
    """The four files in ``directory``; None if none is there. Some but not all is an error: the missing ones would
    otherwise come from another copy, a mixed data set recorded as this folder."""
    found = {}
    for key, stem in FILES.items():
        for candidate in (directory / f"{stem}.gz", directory / stem):
            if candidate.is_file():
                found[key] = candidate
                break
    if not found:
        return None
    if len(found) < len(FILES):
        missing = [f"{stem}[.gz]" for key, stem in FILES.items() if key not in found]
        raise DmzbenchError(f"{directory} holds only {len(found)} of Fashion-MNIST's 4 IDX files (missing: "
                            f"{', '.join(missing)}); add them there, or remove the others to use another copy")
    return found


def check_sizes(arrays: dict[str, np.ndarray], source: Path) -> None:
    """Images and labels of each split agree in number, and images are 28x28."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
            raise DmzbenchError(f"Fashion-MNIST in {source}: {split} images {images.shape} and labels {labels.shape} "
                                "do not match (expected (N, 28, 28) and (N,)); fetch the four files again")


class FashionMNIST:
    name = "fashion-mnist"
    provides = frozenset()  # beyond images and labels (see DatasetSource)
    feature_space = "fmnist-featnet"  # the pinned feature space of its FID and image metrics
    spec = DataSpec(name="fashion-mnist", image_size=32, channels=1, num_classes=10)

    def locate(self, root: Path | None) -> dict[str, Path] | None:
        """The four IDX files, wherever they already are on this machine (never downloads)."""
        places = [root / sub for sub in SUBDIRS] if root is not None else []
        places += [debian_dir(), download_root() / "FashionMNIST" / "raw"]
        for place in places:
            files = find_idx_files(place)
            if files:
                return files
        return None

    def load(self, root: Path | None) -> ImageData:
        files = self.locate(root) or self._download()
        arrays = {key: read_idx(path) for key, path in files.items()}
        check_sizes(arrays, files["train_images"].parent)

        def images(a: np.ndarray) -> torch.Tensor:
            return F.pad(torch.from_numpy(a.copy())[:, None], (2, 2, 2, 2), value=0)  # black border, 28 -> 32

        return ImageData(
            spec=self.spec,
            train_images=images(arrays["train_images"]),
            train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
            test_images=images(arrays["test_images"]),
            test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
            source=str(files["train_images"].parent),
        )

    def _download(self) -> dict[str, Path]:
        target = download_root()
        allowed = downloads_allowed()  # a DMZBENCH_OFFLINE that is no boolean is its own one-line error
        try:
            if not allowed:
                raise ConnectionError("downloads are off ($DMZBENCH_OFFLINE)")
            download(target)
        except Exception as exc:  # offline, proxy, disk: all end in the same advice
            raise DmzbenchError(
                "Fashion-MNIST not found. Fix it one of three ways: point --data-root or DMZBENCH_DATA at a folder "
                "holding the four IDX files (train-images-idx3-ubyte.gz, ...); or install the Debian package "
                f"(sudo apt-get install {DEBIAN_PACKAGE}, or `dmzbench data get fashion-mnist`, which tries each "
                "source); or go online so torchvision can download it "
                f"(tried into {target}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from None
        files = find_idx_files(target / "FashionMNIST" / "raw")
        if files is None:
            raise DmzbenchError(f"torchvision's download into {target} left no IDX files; delete it and retry")
        return files
