"""One trainer per model, across processes and machines sharing one ``DMZBENCH_HOME``.

Training a (model, preset, data set, seed, mode) holds ``checkpoint.pt.lock`` beside its checkpoint: created atomically
(``O_CREAT | O_EXCL``, which NFS v3+ and Lustre honour), holding the holder's host, pid and start time, and touched every
``HEARTBEAT_S`` while held. A second process waits for it, then loads what the first one trained. A lock is stale, and
taken over with a warning, when its holder is a dead process on this host, or when it has not been touched for
``STALE_S`` (its holder's machine died). A process killed with SIGKILL leaves its lock behind; the next one recovers it
that way.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dmzbench.errors import DmzbenchError

HEARTBEAT_S = 30.0
STALE_S = 300.0  # ten missed heartbeats
POLL_S = 1.0


def lock_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + ".lock")


@dataclass
class Held:
    path: Path
    waited: bool  # True when another process held it first (it may have finished the work meanwhile)


def _holder() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # half-written or garbage: judged by its age alone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def stale_reason(path: Path, holder: dict) -> str | None:
    """Why the lock at ``path`` is stale, or None while its holder may still be at work."""
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
        return f"its holder (pid {holder['pid']} on this host) is gone"
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
    if age > STALE_S:
        return f"it was last touched {age:.0f} s ago (a holder touches it every {HEARTBEAT_S:.0f} s)"
    return None


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise DmzbenchError(f"cannot create the training lock {path}: {exc.strerror or exc}; fix the permissions of "
                            "DMZBENCH_HOME or use another one") from None
    with os.fdopen(fd, "w") as f:
        json.dump(_holder(), f)
    return True


def _take_over(path: Path, holder: dict) -> None:
    """Set a stale lock aside, unless another process did so (and may hold a fresh one) meanwhile."""
    if _read(path) != holder:
        return
    aside = path.with_name(f"{path.name}.stale-{socket.gethostname()}-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, aside)
        aside.unlink(missing_ok=True)


@contextlib.contextmanager
def training_lock(checkpoint: Path, log: Callable[[str], None], poll_s: float = POLL_S) -> Iterator[Held]:
    """Hold the training lock of ``checkpoint`` (waiting while another live process holds it)."""
    path = lock_path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    waited = False
    said = None
    while not _try_create(path):
        holder = _read(path)
        if holder is None:  # released between our attempt and the read
            continue
        reason = stale_reason(path, holder)
        if reason:
            log(f"warning: taking over the training lock {path}: {reason}")
            _take_over(path, holder)
            continue
        who = f"{holder.get('host', '?')}:{holder.get('pid', '?')}"
        if said != who:
            log(f"waiting for {who}, which is training this model (lock {path})")
            said = who
        waited = True
        time.sleep(poll_s)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, stop), daemon=True, name="dmzbench-lock-heartbeat")
    beat.start()
    mine = _read(path)
    try:
        yield Held(path, waited)
    finally:
        stop.set()
        beat.join()
        if _read(path) == mine:  # never another process's lock
            path.unlink(missing_ok=True)


def _heartbeat(path: Path, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        with contextlib.suppress(OSError):
            os.utime(path)
