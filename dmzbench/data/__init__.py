"""Data sets: found through the ``dmzbench.datasets`` entry points and loaded whole into memory as uint8 tensors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dmzbench import registry
from dmzbench.api import DataSpec, ImageData
from dmzbench.errors import UsageError
from dmzbench.workspace import home

# The data set of a model that names none (``Baseline.default_dataset``): ``dmzbench train`` without ``--dataset``.
DEFAULT_DATASET = "fashion-mnist"


def model_default_dataset(model_cls: type) -> str:
    """The data set a model trains on when none is named: its own ``default_dataset``, else ``DEFAULT_DATASET``."""
    return getattr(model_cls, "default_dataset", None) or DEFAULT_DATASET  # plugin classes need not subclass Baseline


def data_root(explicit: str | os.PathLike | None = None) -> Path | None:
    """``--data-root`` if given, else ``$DMZBENCH_DATA``, else None (sources then try their other places)."""
    root = explicit or os.environ.get("DMZBENCH_DATA")
    if not root:
        return None
    path = Path(root).expanduser()
    if not path.is_dir():
        where = "--data-root" if explicit else "DMZBENCH_DATA"
        raise UsageError(f"data root {path} (from {where}) is not a directory; create it or point {where} elsewhere")
    return path


def get_source(name: str):
    return registry.get("dataset", name)()


def spec_of(name: str) -> DataSpec:
    return registry.get("dataset", name).spec


def load(name: str, root: str | os.PathLike | None = None, source: type | None = None) -> ImageData:
    """Data set ``name`` loaded whole; ``source`` is its registered class when the caller already resolved the name
    (``dmzbench.run.plan``), so it is not looked up again."""
    return (source or registry.get("dataset", name))().load(data_root(root))


def system_data_dir() -> Path:
    """Where Debian's ``dataset-*`` packages put data sets (``/usr/share/datasets``). ``$DMZBENCH_SYSTEM_DATA`` moves it:
    the tests point it at an empty folder to play a machine without those packages."""
    return Path(os.environ.get("DMZBENCH_SYSTEM_DATA") or "/usr/share/datasets")


OFFLINE_VALUES = {"1": True, "true": True, "yes": True, "on": True,
                  "": False, "0": False, "false": False, "no": False, "off": False}


def downloads_allowed() -> bool:
    """False when ``$DMZBENCH_OFFLINE`` is true (1/true/yes/on): loaders then fail at once with their advice instead of
    trying the network (the tests set it, so they never download). Unset, empty or 0/false/no/off: online. Any other
    value is refused, so a typo never silently decides whether the network is used."""
    raw = os.environ.get("DMZBENCH_OFFLINE", "")
    if raw.strip().lower() not in OFFLINE_VALUES:
        raise UsageError(f"DMZBENCH_OFFLINE={raw!r} is not a boolean; set it to 1 (offline) or 0 (online), or unset it")
    return not OFFLINE_VALUES[raw.strip().lower()]


def download_root() -> Path:
    """Where torchvision downloads go when the machine is online."""
    return data_root() or home() / "data"


def content_sha256(images: ImageData) -> str:
    """sha256 of every tensor of a loaded data set (images, labels, attributes, sources, in a fixed order): the record
    stores it, so two records name the same data only when their bytes were the same."""
    h = hashlib.sha256()
    for name in ("train_images", "train_labels", "test_images", "test_labels", "train_attributes", "test_attributes",
                 "train_sources", "test_sources"):
        t = getattr(images, name)
        if t is not None:
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
            h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()
