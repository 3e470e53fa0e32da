"""Atomic file writes: a reader sees the old file or the complete new one, never a torn one."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from dmzbench.errors import DmzbenchError


def write_bytes(path: str | os.PathLike, data: bytes, keep_previous: bool = False) -> Path:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    ``keep_previous`` first moves an existing ``path`` to ``<name>.prev`` (the last good checkpoint survives a later
    corruption). A disk or permission error becomes a one-line DmzbenchError and leaves no temp file behind.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make records and pages private to their writer
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            os.replace(path, previous(path))
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise DmzbenchError(f"cannot write {path}: {exc.strerror or exc}; free some space, fix the permissions, or "
                            "write elsewhere (the --results / --out folder, or DMZBENCH_HOME for checkpoints)") from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can only be read by setting it,
    which would race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def previous(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def damaged(path: Path) -> Path:
    """Where a damaged checkpoint is set aside (kept for inspection, never trusted, never promoted to ``.prev``)."""
    return path.with_name(path.name + ".damaged")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def torch_save(path: str | os.PathLike, obj: Any) -> Path:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_bytes(path, buf.getvalue())


# Checkpoints carry a content hash so that a truncated or corrupted file is detected before it is trusted.
CHECKPOINT_MAGIC = b"DMZBENCH-CKPT-1\n"


def save_checkpoint(path: str | os.PathLike, obj: Any) -> Path:
    """magic + sha256(payload) + payload (a torch.save); the previous file is kept as ``<name>.prev`` when it is intact.

    A damaged file at ``path`` is set aside as ``<name>.damaged`` instead of rotated: rotating it would replace the last
    good fallback with garbage."""
    path = Path(path)
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    keep = path.exists() and checkpoint_is_intact(path)
    if path.exists() and not keep:
        try:
            os.replace(path, damaged(path))
        except OSError:
            pass  # write_bytes below reports an unwritable folder with the fix
    return write_bytes(path, CHECKPOINT_MAGIC + hashlib.sha256(payload).digest() + payload, keep_previous=keep)


class CorruptCheckpoint(Exception):
    pass


def payload_of(raw: bytes, magic: bytes = CHECKPOINT_MAGIC) -> bytes:
    """The torch.save payload of a hashed file's bytes (a checkpoint; a feature cache with its own ``magic``), after
    checking its header and content hash."""
    head = len(magic)
    if not raw.startswith(magic) or len(raw) < head + 32:
        raise CorruptCheckpoint("no dmzbench header: empty, truncated or not written by dmzbench")
    digest, payload = raw[head : head + 32], raw[head + 32 :]
    if hashlib.sha256(payload).digest() != digest:
        raise CorruptCheckpoint("content hash mismatch (truncated or corrupted)")
    return payload


def checkpoint_is_intact(path: str | os.PathLike) -> bool:
    try:
        payload_of(Path(path).read_bytes())
    except (OSError, CorruptCheckpoint):
        return False
    return True


def load_checkpoint_file(path: str | os.PathLike) -> Any:
    return torch.load(io.BytesIO(payload_of(Path(path).read_bytes())), map_location="cpu", weights_only=False)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
