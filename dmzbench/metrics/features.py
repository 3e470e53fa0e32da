"""Feature spaces for FID-type numbers, registered with torch-fidelity.

- ``inception``: torch-fidelity's Inception-v3 (pool3, 2048-d), comparable with papers. Its weights come from a local
  file (task option ``inception_weights`` or ``$DMZBENCH_INCEPTION_WEIGHTS``), else torch-fidelity's own download on a
  connected machine; offline without a file it is an error that says how to provide one.
- pinned per offline data set (``fmnist-featnet``, ``shapes-featnet``): a small CNN classifier trained by
  ``scripts/train_feature_extractors.py`` with a fixed seed, weights committed in ``dmzbench/metrics/weights/`` and
  checked by sha256 at load. Numbers in these spaces are comparable only within dmzbench; every record names the space
  and the extractor's sha256.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import register_feature_extractor

from dmzbench import registry
from dmzbench.api import dataset_feature_space
from dmzbench.atomic import sha256_file
from dmzbench.errors import DmzbenchError, UsageError

WEIGHTS_DIR = Path(__file__).parent / "weights"


class FeatNet(nn.Module):
    """The pinned extractor: three stride-2 conv blocks, global average pooling -> 128-d features, a linear head."""

    def __init__(self, channels: int, outputs: int, width: int = 32):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.GroupNorm(8, w), nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.GroupNorm(8, 2 * w), nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.GroupNorm(8, 4 * w), nn.SiLU(),
            nn.Conv2d(4 * w, 4 * w, 3, stride=2, padding=1), nn.GroupNorm(8, 4 * w), nn.SiLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(4 * w, outputs)

    def features(self, x_uint8: Tensor) -> Tensor:
        return self.body(x_uint8.float() / 127.5 - 1)

    def forward(self, x_uint8: Tensor) -> Tensor:
        return self.head(self.features(x_uint8))


@dataclass(frozen=True)
class PinnedSpace:
    name: str  # the feature-space name a record shows
    dataset: str  # the data set it was trained on
    channels: int
    outputs: int  # 10 classes (softmax) or 8 attributes (sigmoid)
    multilabel: bool
    sha256: str  # of the committed weights file

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / f"{self.name}.pt"


PINNED = {
    "fmnist-featnet": PinnedSpace("fmnist-featnet", "fashion-mnist", 1, 10, False,
                                  "27536d9b72a20cc039d9124b44617f8a77fcd1a91a640a83f1918d00cc9e28bf"),
    "shapes-featnet": PinnedSpace("shapes-featnet", "shapes", 3, 8, True,
                                  "9da52eadfad4d773281be72322ed158dc09834e79763e8908aea1104e226390c"),
}


def default_space(dataset: str) -> str | None:
    """The pinned space a data set's FID uses by default: the data set's own ``feature_space`` declaration (paired sets
    declare their target domain's); None for a name that is not a registered data set or declares none."""
    if dataset not in registry.names("dataset"):
        return None
    return dataset_feature_space(registry.get("dataset", dataset))


def check_space_name(space: str) -> None:
    """For config validation: fail on a misspelt feature space before any work is done."""
    if space not in ("pinned", "inception", *PINNED):
        raise ValueError(f"unknown feature space '{space}'; use pinned, inception or one of {', '.join(PINNED)}")


@lru_cache(maxsize=None)
def load_pinned(name: str) -> FeatNet:
    space = PINNED[name]
    if not space.path.exists():
        raise DmzbenchError(f"pinned extractor weights {space.path} are missing; run "
                            "python scripts/train_feature_extractors.py (or restore the file from git)")
    digest = sha256_file(space.path)
    if digest != space.sha256:
        raise DmzbenchError(f"pinned extractor {space.path} has sha256 {digest[:12]}..., expected "
                            f"{space.sha256[:12]}...; restore it from git (FID numbers would not be comparable)")
    net = FeatNet(space.channels, space.outputs)
    net.load_state_dict(torch.load(space.path, map_location="cpu", weights_only=True))
    return net.eval().requires_grad_(False)


class PinnedExtractor(FeatureExtractorBase):
    """torch-fidelity wrapper around a pinned FeatNet; registered as ``dmzbench-<space>-<sha256[:12]>`` so that
    torch-fidelity's cache key changes whenever the weights do."""

    space: PinnedSpace

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        self.net = load_pinned(self.space.name)

    @staticmethod
    def get_provided_features_list():
        return ("features",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "features"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return None

    def forward(self, x: Tensor) -> tuple[Tensor]:
        return (self.net.features(x.to(next(self.net.parameters()).device)),)


def fidelity_name(space: str) -> str:
    return f"dmzbench-{space}-{PINNED[space].sha256[:12]}"


def register_pinned_with_torch_fidelity() -> dict[str, str]:
    """Register every pinned space with torch-fidelity (idempotent); returns space -> registered name."""
    # here: only FID through torch-fidelity's own API needs the registry
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    names = {}
    for space in PINNED.values():
        name = fidelity_name(space.name)
        if name not in FEATURE_EXTRACTORS_REGISTRY:
            cls = type(f"Pinned_{space.name.replace('-', '_')}", (PinnedExtractor,), {"space": space})
            register_feature_extractor(name, cls)
        names[space.name] = name
    return names


# --------------------------------------------------------------------------------------------------------- extraction
@dataclass(frozen=True)
class FeatureSpace:
    """A callable feature space with the facts a record must carry."""

    name: str
    sha256: str
    dim: int
    extract: object  # (N, C, H, W) uint8 -> (N, D) float

    def describe(self) -> dict[str, object]:
        return {"features": self.name, "features_sha256": self.sha256, "features_dim": self.dim}


def resolve(space: str, dataset: str, *, inception_weights: str = "", device: torch.device | None = None) -> FeatureSpace:
    """``space`` is ``pinned`` (the data set's default), a pinned space's name, or ``inception``."""
    device = device or torch.device("cpu")
    if space == "pinned":
        space = default_space(dataset)
        if space is None:
            raise UsageError(f"data set {dataset} has no pinned feature space; use -o features=inception")
    if space == "inception":
        return _inception(inception_weights or os.environ.get("DMZBENCH_INCEPTION_WEIGHTS", ""), device)
    if space not in PINNED:
        raise UsageError(f"unknown feature space '{space}'; use pinned, inception or one of {', '.join(PINNED)}")
    net = load_pinned(space).to(device)

    @torch.no_grad()
    def extract(x: Tensor) -> Tensor:
        if x.shape[1] != PINNED[space].channels:
            raise UsageError(f"feature space {space} takes {PINNED[space].channels}-channel images, got {x.shape[1]}")
        return torch.cat([net.features(c.to(device)).cpu() for c in x.split(500)])

    return FeatureSpace(space, PINNED[space].sha256, 128, extract)


def _inception(weights: str, device: torch.device) -> FeatureSpace:
    # here: the Inception network's module is heavy and only features=inception needs it
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    if weights and not Path(weights).is_file():
        raise UsageError(f"Inception weights file {weights} does not exist; pass the path of "
                         "weights-inception-2015-12-05-6726825d.pth")
    try:
        socket.setdefaulttimeout(15)
        with contextlib.redirect_stderr(io.StringIO()):  # torch.hub's "Downloading: ..." line
            net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                              feature_extractor_weights_path=weights or None).eval().to(device)
    except Exception as exc:
        raise DmzbenchError(
            "the Inception-v3 weights for FID are not available here ("
            f"{type(exc).__name__}); download weights-inception-2015-12-05-6726825d.pth (torch-fidelity's FID "
            "Inception) on a connected machine and pass -o inception_weights=PATH or set DMZBENCH_INCEPTION_WEIGHTS"
        ) from None
    sha = sha256_file(weights) if weights else "torch-fidelity download"

    @torch.no_grad()
    def extract(x: Tensor) -> Tensor:
        x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
        return torch.cat([net(c.to(device))[0].cpu() for c in x.split(100)])

    return FeatureSpace("inception-v3-compat pool3", sha, 2048, extract)


