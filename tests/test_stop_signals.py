"""Stop signals obeyed within seconds (issue 25, item 5): inside a long training step (one that returns to Python, and
one stuck in a single C call), and in a suite, where a signal stops the whole suite, not just its current group."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dmzbench.atomic import load_checkpoint_file
from dmzbench.errors import Interrupted
from tests.conftest import write_idx

REPO = Path(__file__).resolve().parent.parent
SLOW_STEP = 3  # the step (0-based) the hook makes slow: steps 0-2 are done and checkpointed before it
PLUGIN = """
import ctypes
import dataclasses
import os
import signal
import time
from pathlib import Path

from tests.fault_helpers import TINY, TinyDMZ


class SlowStep(TinyDMZ):
    name = "slow-step"
    presets = {"tiny-long": dict(TINY, steps=20)}
    default_preset = "tiny-long"

    def stages(self, model, preset, spec):
        calls = {"n": 0}

        def slow(stage):
            def loss(x, y, c):
                calls["n"] += 1
                if calls["n"] == %(slow_step)d + 1:
                    Path(os.environ["SLOW_STEP_MARKER"]).write_text("in the slow step")
                    if os.environ["SLOW_STEP_KIND"] == "python":
                        time.sleep(120)  # Python code: the signal handler runs inside it
                    else:  # one long C call that the signal does not interrupt (like a big backward pass)
                        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
                        ctypes.CDLL(None).sleep(120)
                return stage.loss(x, y, c)
            return dataclasses.replace(stage, loss=loss)

        return [slow(s) for s in super().stages(model, preset, spec)]
""" % {"slow_step": SLOW_STEP}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("stop-signals")
    (base / "slow_step.py").write_text(PLUGIN)
    root = base / "data"
    root.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    return base


def _train_until_the_slow_step(base: Path, home: Path, kind: str) -> subprocess.Popen:
    marker = home / "marker"
    env = dict(os.environ, DMZBENCH_HOME=str(home), DMZBENCH_SAVE_EVERY_S="0", PYTHONPATH=str(REPO),
               OMP_NUM_THREADS="1", SLOW_STEP_MARKER=str(marker), SLOW_STEP_KIND=kind)
    proc = subprocess.Popen([sys.executable, "-m", "dmzbench", "--import", str(base / "slow_step.py"), "train",
                             "--model", "slow-step", "--data-root", str(base / "data"), "--device", "cpu"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1].decode()[-2000:]
    return proc


def _checkpoint(home: Path) -> dict:
    return load_checkpoint_file(home / "runs" / "slow-step" / "tiny-long" / "fashion-mnist" / "seed0" / "checkpoint.pt")


@pytest.mark.parametrize("kind", ["python", "c"])
def test_sigterm_inside_a_two_minute_step_exits_within_10_s_keeping_the_last_steps(plugin, tmp_path, kind):
    proc = _train_until_the_slow_step(plugin, tmp_path / "home", kind)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    waited = time.monotonic() - t0
    err = err.decode()
    assert proc.returncode == 143 and waited < 10, (waited, err[-2000:])
    assert "Traceback" not in err and "error:" not in err
    state = _checkpoint(tmp_path / "home")
    assert state["step"] == SLOW_STEP and not state["done"]  # every finished step is kept; the slow one is redone
    if kind == "python":  # the handler abandons the step and saves at once
        assert f"interrupted at step {SLOW_STEP} of stage 'dmz'; the same command resumes" in err, err[-2000:]
    else:  # the watch ends a process whose main thread cannot run the handler
        assert "interrupted by SIGTERM: still busy 5 s later" in err, err[-2000:]


def test_a_second_signal_ends_a_stuck_step_at_once(plugin, tmp_path):
    proc = _train_until_the_slow_step(plugin, tmp_path / "home", "c")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 3 and proc.returncode == 130, err.decode()[-2000:]
    assert "interrupted by SIGINT: asked twice, stopped at once" in err.decode()


def test_sigterm_stops_the_whole_suite_not_just_its_current_group(tmp_path, monkeypatch, fake_fashion_root, capsys):
    """Was: the signal failed only the current group ("failed: interrupted") and the suite went on with the next."""
    from dmzbench.run import runner
    from tests.test_cli import cli

    monkeypatch.setenv("DMZBENCH_DATA", str(fake_fashion_root))
    started = []

    def execute(spec):
        started.append(spec.model)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
        raise AssertionError("the signal did not stop the run")

    monkeypatch.setattr(runner, "execute", execute)
    code = cli("suite", "tiny", "--models", "dmz,pixels", "--tasks", "probe", "--results", str(tmp_path / "r"),
               "--device", "cpu")
    err = capsys.readouterr().err
    assert code == 143 and started == ["dmz"], err
    assert "interrupted; the same command resumes" in err and "failed" not in err


def test_the_suite_runner_lets_an_interruption_through(tmp_path):
    from dmzbench import budget
    from dmzbench.suite import catalog as suites, execute as suite_run

    groups = suites.plan(suites.get("tiny"), ["pixels", "dmz"], ["probe"])
    ran = []

    def run_one(run):
        ran.append(run.model)
        raise Interrupted.by_signal(signal.SIGINT)

    with pytest.raises(Interrupted):
        suite_run.run_budgeted(groups, tmp_path, budget.PROFILES["cpu"], None, run_one, log=lambda _: None)
    assert ran == [groups[0].model]
