"""The feature cache: a model's ``encode`` features of a data set's split, computed once per (checkpoint content, data
set, split) and kept on disk under the workspace (``dmzbench.workspace.features_path``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dmzbench import preflight, workspace
from dmzbench.api import ImageData, ModelAdapter, to_model_range
from dmzbench.atomic import sha256_json, torch_save
from dmzbench.errors import DmzbenchError

ENCODE_VERSION = "v1"  # part of the cache key: bump when what encode_all computes changes


def no_features(split: str) -> torch.Tensor:
    """The feature source of a skipped task (no model was obtained)."""
    raise DmzbenchError("a skipped task has no model to take features from")


@torch.no_grad()
def encode_all(adapter: ModelAdapter, images: torch.Tensor, device: torch.device, batch_size: int = 500) -> torch.Tensor:
    dim = int(torch.tensor(adapter.info.latent_shape).prod())
    chunks = []
    for i in range(0, len(images), batch_size):
        z = adapter.encode(to_model_range(images[i : i + batch_size]).to(device))
        n = len(images[i : i + batch_size])
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (n, dim):
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise preflight.encode_shape_error(adapter.info.name, got, n, dim)
        chunks.append(z.float().cpu())
    return torch.cat(chunks)


def feature_cache(adapter: ModelAdapter, checkpoint_sha256: str, images: ImageData,
                  device: torch.device) -> Callable[[str], torch.Tensor]:
    """split -> (N, D) features, computed once per (checkpoint content, data set, split) and kept on disk."""

    def get(split: str) -> torch.Tensor:
        key = sha256_json({"checkpoint": checkpoint_sha256, "data": images.spec.name, "split": split,
                           "n": images.split_sizes[split], "encode": ENCODE_VERSION})[:32]
        path = workspace.features_path(key)
        if path.exists():
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # a damaged cache entry is recomputed, not trusted
                path.unlink(missing_ok=True)
        feats = encode_all(adapter, images.split(split)[0], device)
        torch_save(path, feats)
        return feats

    return get
