"""The feature cache: a model's ``encode`` features of a data set's split, computed once per (checkpoint content, data
set, split), and FID's reference features, computed once per (image bytes, feature space), kept on disk under the
workspace (``dmzbench.workspace.features_path``).

A cached number is only as good as the file it came from: a bit-flipped file once gave a plugin task 16.69 instead of
29.02, another model's file 11.16, both with exit 0. So each file carries a header, the sha256 of its payload and its
own cache key, and is checked (hash, key, shape, finite values) before it is used; one that fails is set aside as
``<key>.pt.damaged`` (kept for inspection, like a damaged checkpoint) and recomputed, with a warning line."""

from __future__ import annotations

import hashlib
import io
import math
import os
from collections.abc import Callable
from pathlib import Path

import torch

from dmzbench import workspace
from dmzbench.api import ImageData, ModelAdapter, to_model_range
from dmzbench.atomic import damaged, payload_of, sha256_json, write_bytes
from dmzbench.errors import DmzbenchError
from dmzbench.run.outputs import checked

ENCODE_VERSION = "v2"  # part of the cache key: bump when what encode_all computes (or how it is stored) changes
# A cache file is magic + sha256(payload) + payload, like a checkpoint, so a damaged one is found before it is used.
FEATURES_MAGIC = b"DMZBENCH-FEATURES-1\n"


def no_features(split: str) -> torch.Tensor:
    """The feature source of a skipped task (no model was obtained)."""
    raise DmzbenchError("a skipped task has no model to take features from")


@torch.no_grad()
def encode_all(adapter: ModelAdapter, images: torch.Tensor, device: torch.device, batch_size: int = 500) -> torch.Tensor:
    adapter = checked(adapter)  # shape, finiteness (dmzbench.run.outputs); a no-op on the runner's adapters
    chunks = []
    for i in range(0, len(images), batch_size):
        z = adapter.encode(to_model_range(images[i : i + batch_size]).to(device))
        chunks.append(z.float().cpu())
    return torch.cat(chunks)


def feature_cache(adapter: ModelAdapter, checkpoint_sha256: str, images: ImageData, device: torch.device,
                  log: Callable[[str], None] = print) -> Callable[[str], torch.Tensor]:
    """split -> (N, D) features, computed once per (checkpoint content, data set, split) and kept on disk. A cache file
    that fails verification (``load_verified``) is set aside as ``<key>.pt.damaged`` and recomputed, with a line on
    ``log``; a directory in its place is a one-line error."""

    def get(split: str) -> torch.Tensor:
        key = sha256_json({"checkpoint": checkpoint_sha256, "data": images.spec.name, "split": split,
                           "n": images.split_sizes[split], "encode": ENCODE_VERSION})[:32]
        path = workspace.features_path(key)
        shape = (images.split_sizes[split], math.prod(adapter.info.latent_shape))
        feats = load_verified(path, key, shape, log)
        if feats is None:
            feats = encode_all(adapter, images.split(split)[0], device)
            _save(path, key, feats)
        return feats

    return get


def _save(path: Path, key: str, feats: torch.Tensor) -> None:
    """magic + sha256(payload) + payload, the payload holding the cache key beside the features (a file copied in from
    another model's cache has a valid hash but another key)."""
    buf = io.BytesIO()
    torch.save({"key": key, "features": feats}, buf)
    payload = buf.getvalue()
    write_bytes(path, FEATURES_MAGIC + hashlib.sha256(payload).digest() + payload)


def load_verified(path: Path, key: str, shape: tuple[int, int] | None,
                  log: Callable[[str], None]) -> torch.Tensor | None:
    """The cached features at ``path`` when they pass every check (header and content hash, the cache key, the shape
    unless None, finite values); None when there is no file or it failed (then it is set aside and a line is logged)."""
    if path.is_dir():
        raise DmzbenchError(f"the feature cache {path} is a directory, not a file; remove it (rm -r '{path}') and run "
                            "the same command again")
    if not path.exists():
        return None
    try:
        obj = torch.load(io.BytesIO(payload_of(path.read_bytes(), FEATURES_MAGIC)), map_location="cpu",
                         weights_only=True)
        problem = _problem(obj, key, shape)
    except OSError as exc:
        raise DmzbenchError(f"cannot read the feature cache {path}: {exc.strerror or exc}; fix its permissions or "
                            "remove it") from None
    except Exception as exc:  # CorruptCheckpoint, or an unpickling error of a damaged payload
        problem = str(exc) or type(exc).__name__
    if problem is None:
        return obj["features"]
    aside = damaged(path)
    try:
        os.replace(path, aside)
    except OSError as exc:
        raise DmzbenchError(f"the feature cache {path} is damaged ({problem}) and cannot be moved aside "
                            f"({exc.strerror or exc}); remove it") from None
    log(f"warning: the feature cache {path.name} is damaged ({problem}); set aside as {aside.name}, recomputing")
    return None


def _problem(obj: object, key: str, shape: tuple[int, int]) -> str | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("features"), torch.Tensor):
        return "no features in it"
    if obj.get("key") != key:
        return f"made for another model, data set or split (key {str(obj.get('key'))[:12]}...)"
    feats = obj["features"]
    if feats.ndim != 2 or shape is not None and tuple(feats.shape) != shape:
        return f"shape {tuple(feats.shape)}, expected {shape}"
    if not torch.isfinite(feats).all():
        return "non-finite values"
    return None


REFERENCE_CHUNK = 10_000  # images per extraction call of a reference set: a progress line between chunks


def reference_features(images_uint8: torch.Tensor, space_sha256: str, space_name: str,
                       extract: Callable[[torch.Tensor], torch.Tensor],
                       log: Callable[[str], None] = print) -> torch.Tensor:
    """``extract``'s features of a reference image set (FID's training split: 60k images, minutes on a CPU), computed
    once per (image bytes, feature space and its weights' sha256) and kept in the feature cache, verified like
    ``feature_cache``'s files. Extraction reports progress chunk by chunk."""
    digest = hashlib.sha256(f"{tuple(images_uint8.shape)}:{images_uint8.dtype}".encode())
    digest.update(images_uint8.contiguous().numpy().tobytes())
    key = sha256_json({"reference": digest.hexdigest(), "space": space_name, "space_sha256": space_sha256})[:32]
    path = workspace.features_path(key)
    feats = load_verified(path, key, None, log)
    if feats is not None:
        return feats
    n = len(images_uint8)
    out = []
    for i in range(0, n, REFERENCE_CHUNK):
        out.append(extract(images_uint8[i : i + REFERENCE_CHUNK]).float().cpu())
        if n > REFERENCE_CHUNK:
            log(f"reference features ({space_name}): {min(i + REFERENCE_CHUNK, n):,}/{n:,} images")
    feats = torch.cat(out)
    _save(path, key, feats)
    return feats
