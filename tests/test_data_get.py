"""``dmzbench data get``: tries each source in turn, says what it did, never switches data sets."""

import shutil

import pytest

from dmzbench.data import fashion_mnist, get
from dmzbench.errors import DmzbenchError, UsageError


def _fake_idx(folder):
    from tests.conftest import write_idx
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 8), ("t10k", 4)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))


@pytest.fixture
def no_fashion(tmp_path, monkeypatch):
    """A machine without Fashion-MNIST; returns the system data folder apt would fill."""
    system = tmp_path / "system"
    monkeypatch.setenv("DMZBENCH_SYSTEM_DATA", str(system))
    return system


def _as_root_with_apt(monkeypatch, apt):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}" if name == "apt-get" else None)
    monkeypatch.setattr(get, "_is_root", lambda: True)
    monkeypatch.setattr(get, "_run", apt)


def test_apt_as_root_updates_the_lists_when_the_package_is_unknown(no_fashion, monkeypatch):
    commands = []

    def apt(cmd):
        commands.append(" ".join(cmd))
        if cmd[1] == "install" and "apt-get update -q" not in commands:
            return 100  # "Unable to locate package": empty lists on a fresh machine
        if cmd[1] == "install":
            _fake_idx(no_fashion / "fashion-mnist")
        return 0

    _as_root_with_apt(monkeypatch, apt)
    said = []
    summary = get.get("fashion-mnist", None, said.append)
    assert commands == ["apt-get install -y -q dataset-fashion-mnist", "apt-get update -q",
                        "apt-get install -y -q dataset-fashion-mnist"]
    assert summary == f"fashion-mnist: ready in {no_fashion / 'fashion-mnist'}"
    assert any("apt-get update" in line for line in said)
    assert fashion_mnist.FashionMNIST().load(None).split_sizes == {"train": 8, "test": 4}


def test_without_apt_it_downloads_with_torchvision(no_fashion, monkeypatch, isolated_home):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("DMZBENCH_OFFLINE")
    monkeypatch.setattr(fashion_mnist, "download", lambda target: _fake_idx(target / "FashionMNIST" / "raw"))
    said = []
    summary = get.get("edges2fashion", None, said.append)
    assert said[0] == "skipped or failed: Debian package: no apt-get on this machine"
    assert "downloading with torchvision" in said[1] and str(isolated_home / "data") in summary
    # a later run finds the download without going online again
    monkeypatch.setenv("DMZBENCH_OFFLINE", "1")
    assert fashion_mnist.FashionMNIST().load(None).source.startswith(str(isolated_home / "data"))


def test_when_every_source_fails_it_says_what_each_answered(no_fashion, monkeypatch):
    _as_root_with_apt(monkeypatch, lambda cmd: 100)
    with pytest.raises(DmzbenchError) as err:
        get.get("fashion-mnist", None, lambda line: None)
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist failed" in msg and "torchvision download: off" in msg
    assert "DMZBENCH_DATA" in msg


def test_not_root_names_the_command_and_does_not_run_it(no_fashion, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(get, "_is_root", lambda: False)
    monkeypatch.setattr(get, "_run", lambda cmd: pytest.fail(f"ran {cmd}"))
    with pytest.raises(DmzbenchError, match="not root \\(as root: apt-get install dataset-fashion-mnist\\)"):
        get.get("fashion-mnist", None, lambda line: None)


def test_already_here_and_names_it_cannot_get(fake_fashion_root, no_fashion):
    assert "nothing to get" in get.get("shapes", None, print)
    assert get.get("fashion-mnist", fake_fashion_root, print).endswith(str(fake_fashion_root / "fashion-mnist"))
    with pytest.raises(UsageError, match="did you mean 'fashion-mnist'"):
        get.get("fashion", None, print)
    with pytest.raises(UsageError, match="cifar10 is read from --data-root"):
        get.get("cifar10", None, print)
