"""``dmzbench data get NAME``: put a data set on this machine from the first source that works, saying what it tried.

Fashion-MNIST, in order: already here (data root, Debian package, an earlier download); the Debian package
``dataset-fashion-mnist`` through apt-get when apt exists and we are root (``apt-get update`` first when the package is
not in the lists yet); a torchvision download when the machine is online. It never substitutes another data set: if
every source fails, the command fails and says what each one answered.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from dmzbench import registry
from dmzbench.data import data_root, download_root, downloads_allowed, fashion_mnist
from dmzbench.errors import DmzbenchError, UsageError

Say = Callable[[str], None]


def _run(command: list[str]) -> int:
    """Run an installer command with its output on stderr (stdout stays for the result line)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, env=env, check=False).returncode


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _apt(say: Say) -> str:
    """Try the Debian package; returns what happened, in words."""
    pkg = fashion_mnist.DEBIAN_PACKAGE
    if shutil.which("apt-get") is None:
        return "Debian package: no apt-get on this machine"
    if not _is_root():
        return f"Debian package: apt-get is here but we are not root (as root: apt-get install {pkg})"
    say(f"installing the Debian package: apt-get install -y -q {pkg}")
    if _run(["apt-get", "install", "-y", "-q", pkg]) != 0:
        say("that failed (the package lists may be empty or stale): apt-get update -q, then again")
        if _run(["apt-get", "update", "-q"]) != 0 or _run(["apt-get", "install", "-y", "-q", pkg]) != 0:
            return f"Debian package: apt-get install {pkg} failed (its output is above)"
    where = fashion_mnist.debian_dir()
    if fashion_mnist.find_idx_files(where) is None:
        return f"Debian package: {pkg} is installed but {where} holds no IDX files (is DMZBENCH_SYSTEM_DATA set?)"
    return ""


def _torchvision(say: Say) -> str:
    if not downloads_allowed():
        return "torchvision download: off ($DMZBENCH_OFFLINE)"
    target = download_root()
    say(f"downloading with torchvision into {target}")
    try:
        fashion_mnist.download(target)
    except Exception as exc:  # offline, proxy, disk
        first = str(exc).splitlines()[0] if str(exc) else ""
        return f"torchvision download: {type(exc).__name__}: {first}"
    return ""


def get_fashion_mnist(root: str | os.PathLike | None, say: Say) -> Path:
    """Make sure Fashion-MNIST is on this machine; returns the folder its files are in."""
    source = fashion_mnist.FashionMNIST()
    found = source.locate(data_root(root))
    if found:
        say(f"fashion-mnist is already here, in {found['train_images'].parent}")
        return found["train_images"].parent
    failures = []
    for attempt in (_apt, _torchvision):
        failure = attempt(say)
        found = source.locate(data_root(root))
        if not failure and found:
            where = found["train_images"].parent
            say(f"fashion-mnist is now in {where}")
            return where
        failures.append(failure or f"{attempt.__name__.strip('_')}: finished but left no IDX files")
        say(f"skipped or failed: {failures[-1]}")
    raise DmzbenchError(f"Fashion-MNIST could not be fetched ({'; '.join(failures)}); point --data-root or "
                        "DMZBENCH_DATA at a folder holding its four IDX files (train-images-idx3-ubyte.gz, ...)")


def get(name: str, root: str | os.PathLike | None, say: Say) -> str:
    """Get data set ``name``; returns a one-line summary of where it is."""
    name = registry.canonical("dataset", name)  # case does not count; an unknown name gets a did-you-mean
    if name == "shapes":
        return "shapes is drawn from a fixed seed on every run; there is nothing to get"
    if name in ("fashion-mnist", "edges2fashion"):
        where = get_fashion_mnist(root, say)
        made = " (edges2fashion is made from it on every run)" if name == "edges2fashion" else ""
        return f"fashion-mnist: ready in {where}{made}"
    raise UsageError(f"dmzbench data get knows fashion-mnist, edges2fashion and shapes; {name} is read from "
                     "--data-root or DMZBENCH_DATA (a run on it names the files it needs)")
