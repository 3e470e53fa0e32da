"""The command line killed for real: SIGKILL, SIGINT and SIGTERM at random steps of a training run, each followed by the
same command, must end bit-identical to a run that was never interrupted."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dmzbench.atomic import load_checkpoint_file
from tests.conftest import write_idx

REPO = Path(__file__).resolve().parent.parent
STEPS = 60
PLUGIN = f"""
from tests.fault_helpers import TINY, TinyDMZ


class TinyCli(TinyDMZ):
    name = "tiny-cli"
    presets = {{"tiny-long": dict(TINY, steps={STEPS})}}
    default_preset = "tiny-long"
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A plugin file, a small Fashion-MNIST-format data root, and the uninterrupted reference run's weights."""
    base = tmp_path_factory.mktemp("interrupts")
    (base / "tiny_cli.py").write_text(PLUGIN)
    root = base / "data"
    root.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    ref = _start(base, base / "reference-home")
    out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err.decode()[-2000:]
    return base, _weights(base / "reference-home")


def _start(base: Path, home: Path, save_every_s: str = "0") -> subprocess.Popen:
    env = dict(os.environ, DMZBENCH_HOME=str(home), DMZBENCH_SAVE_EVERY_S=save_every_s, PYTHONPATH=str(REPO),
               OMP_NUM_THREADS="1")
    args = [sys.executable, "-m", "dmzbench", "--import", str(base / "tiny_cli.py"), "train", "--model", "tiny-cli",
            "--data-root", str(base / "data"), "--device", "cpu"]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _checkpoint(home: Path) -> Path:
    return home / "runs" / "tiny-cli" / "tiny-long" / "fashion-mnist" / "seed0" / "checkpoint.pt"


def _step(home: Path) -> int:
    try:
        state = load_checkpoint_file(_checkpoint(home))
    except Exception:  # not written yet, or being replaced
        return 0
    return STEPS if state["done"] else state["step"]


def _weights(home: Path) -> dict:
    return load_checkpoint_file(_checkpoint(home))["model"]


def _signal_at_a_random_step(proc: subprocess.Popen, home: Path, after: int, sig: int, rng: random.Random) -> None:
    deadline = time.monotonic() + 120
    while _step(home) <= after and time.monotonic() < deadline:  # wait until this run has saved progress of its own
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.3))  # then signal it at a random point: mid-step, mid-save or between
    proc.send_signal(sig)


def _assert_identical(reference: dict, home: Path) -> None:
    resumed = _weights(home)
    assert resumed.keys() == reference.keys()
    for key in reference:
        assert torch.equal(reference[key], resumed[key]), key


def test_sigint_then_sigterm_save_at_the_step_boundary_and_the_same_command_resumes_bit_exact(setup, tmp_path):
    base, reference = setup
    home = tmp_path / "home"
    rng = random.Random(1)
    stopped_at = 0
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        proc = _start(base, home)
        _signal_at_a_random_step(proc, home, stopped_at, sig, rng)
        _, err = proc.communicate(timeout=120)
        err = err.decode()
        assert proc.returncode == code, err[-2000:]
        assert "Traceback" not in err and "error:" not in err
        step = _step(home)
        assert stopped_at < step < STEPS
        assert f"interrupted at step {step} of stage 'dmz'; the same command resumes" in err, err[-2000:]
        stopped_at = step
    proc = _start(base, home)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert f"from step {stopped_at} of stage 'dmz'" in err.decode()
    _assert_identical(reference, home)


def test_sigkill_with_a_short_save_interval_resumes_from_a_later_step_bit_exact(setup, tmp_path):
    base, reference = setup
    home = tmp_path / "home"
    proc = _start(base, home, save_every_s="0.2")
    _signal_at_a_random_step(proc, home, 0, signal.SIGKILL, random.Random(2))
    proc.wait(timeout=60)
    step = _step(home)
    assert 0 < step < STEPS
    proc = _start(base, home, save_every_s="0.2")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert f"from step {step} of stage 'dmz'" in err.decode()
    _assert_identical(reference, home)


SIGNALLING_DATASET = '''
import os
import signal
import time

from tests.conftest import tiny_data


class Signalling:
    name = "signalling"
    spec = tiny_data().spec

    def load(self, root):
        os.kill(os.getpid(), signal.{sig})
        time.sleep(5)  # the handler interrupts this
        raise AssertionError("the signal did not stop the command")
'''


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_outside_training_is_one_line_and_its_exit_code(sig, code, tmp_path, capsys):
    """Typer used to turn Ctrl-C into a silent exit 130 (and SIGTERM killed the process without a word)."""
    from dmzbench.cli.app import main

    (tmp_path / "signalling.py").write_text(SIGNALLING_DATASET.replace("{sig}", sig))
    # what the process had (Python's default_int_handler; SIG_IGN when started in the background by a shell)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as exc:
        main(["--import", str(tmp_path / "signalling.py"), "run", "--model", "pixels", "--task", "probe", "--dataset",
              "signalling", "--results", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert exc.value.code == code and "interrupted; the same command resumes" in err and "Traceback" not in err
    assert signal.getsignal(signal.SIGINT) is before  # main() put the handlers back
