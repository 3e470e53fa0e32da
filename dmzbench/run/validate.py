"""Checks of command-line values that can fail before any work starts (a bad seed or an unwritable folder found after
a two-minute task is two minutes lost)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dmzbench.errors import UsageError

# NumPy and scikit-learn take 32-bit seeds (random_state), and every seed of a run reaches them.
MAX_SEED = 2**32 - 1


def seed(value: int, flag: str = "--seed") -> int:
    if not 0 <= value <= MAX_SEED:
        raise UsageError(f"{flag} must be in 0..{MAX_SEED} (NumPy and scikit-learn take 32-bit seeds), got {value}")
    return value


def writable_dir(path: str | os.PathLike, flag: str) -> Path:
    """``path`` is a folder that exists and can be written, or one that can be created; checked by creating (and
    removing) a temp file in its nearest existing ancestor, so nothing is left behind and root is not fooled by
    permission bits (a read-only file system still fails)."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == path else f"cannot be created: {existing} is a file"
        raise UsageError(f"{flag} {path} {what}, not a folder; give a folder path")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".dmzbench-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{flag} {path} cannot be written ({exc.strerror or exc}); fix its permissions or give a "
                         "folder you can write") from None
    return path
