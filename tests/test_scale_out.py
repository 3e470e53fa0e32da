"""Suites over many processes on one DMZBENCH_HOME and results folder (issue 25, item 6): deterministic balanced shards,
one trainer per model (a lock file with stale-lock recovery), records that name the checkpoint in place."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dmzbench.atomic import sha256_file
from dmzbench.errors import UsageError
from dmzbench.run import locks
from dmzbench import budget
from dmzbench.suite import catalog as suites, execute as suite_run
from tests.conftest import write_idx

REPO = Path(__file__).resolve().parent.parent
MODELS = "dmz,pixels,diffae"  # three run groups of the tiny suite (init presets): seconds each


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scale-out") / "data"
    (root / "fashion-mnist").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        write_idx(root / "fashion-mnist" / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / "fashion-mnist" / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    return root


def _dmzbench(home: Path, *args: str, **env: str) -> subprocess.Popen:
    env = dict(os.environ, DMZBENCH_HOME=str(home), PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", **env)
    return subprocess.Popen([sys.executable, "-m", "dmzbench", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(*procs: subprocess.Popen) -> list[str]:
    errs = []
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        errs.append(err)
    return errs


def _records(results: Path) -> dict[str, dict]:
    """Record file -> what must agree between runs (not dates or timings)."""
    out = {}
    for path in sorted(results.rglob("*.json")):
        if "artifacts" in path.parts:
            continue
        r = json.loads(path.read_text())
        out[str(path.relative_to(results))] = {"metrics": r["metrics"], "model": r["model"]["name"],
                                               "checkpoint": r["model"].get("checkpoint_sha256"),
                                               "config": r["task"]["config"]}
    return out


def test_shards_are_disjoint_deterministic_balanced_and_in_the_suites_order():
    groups = suites.plan(suites.get("tiny"), MODELS.split(","), ["probe", "recon"])
    profile = budget.PROFILES["cpu"]
    shares = [suite_run.shard(groups, k, 2, profile) for k in (1, 2)]
    assert shares == [suite_run.shard(groups, k, 2, profile) for k in (1, 2)]  # the same in every process
    labels = [g.label for share in shares for g in share]
    assert sorted(labels) == sorted(g.label for g in groups) and len(set(labels)) == len(groups)
    for share in shares:
        assert [groups.index(g) for g in share] == sorted(groups.index(g) for g in share)
    cost = {g.label: suite_run.estimate(g, {}, profile, fresh=True).seconds for g in groups}
    loads = [sum(cost[g.label] for g in share) for share in shares]
    assert max(loads) - min(loads) <= max(cost.values())  # greedy largest-first balance
    assert suite_run.shard(groups, 1, 1, profile) == groups


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"])
def test_a_bad_shard_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="--shard must be K/N"):
        suite_run.parse_shard(bad)


def test_two_shards_in_parallel_on_one_home_equal_one_unsharded_run(tmp_path, data_root):
    common = ["suite", "tiny", "--models", MODELS, "--tasks", "probe", "--device", "cpu"]
    whole = _dmzbench(tmp_path / "home-whole", *common, "--results", str(tmp_path / "whole"), DMZBENCH_DATA=str(data_root))
    _finish(whole)
    shared = tmp_path / "home-shared"
    first, second = (_dmzbench(shared, *common, "--shard", f"{k}/2", "--results", str(tmp_path / "sharded"),
                               DMZBENCH_DATA=str(data_root)) for k in (1, 2))
    _finish(first, second)
    expected = _records(tmp_path / "whole")
    assert len(expected) == 3 and _records(tmp_path / "sharded") == expected
    assert not list(shared.rglob("*.lock"))


SLOW_TINY = """
import os
import time
from pathlib import Path

from tests.fault_helpers import TINY, TinyDMZ


class SlowTiny(TinyDMZ):
    name = "slow-tiny"
    presets = {"tiny": dict(TINY, steps=12)}
    default_preset = "tiny"

    def stages(self, model, preset, spec):
        stages = super().stages(model, preset, spec)
        inner = stages[0].loss

        def loss(x, y, c):  # every training step leaves the trainer's pid behind, and takes a while
            if x.device.type != "meta":  # not the guard's estimate (dmzbench/run/guard.py), which counts on the meta device
                with open(os.environ["TRAINED_BY"], "a") as f:
                    f.write(f"{os.getpid()}\\n")
                time.sleep(0.15)
            return inner(x, y, c)
        stages[0].loss = loss
        return stages
"""


def test_two_identical_runs_at_once_train_the_model_once_and_record_the_checkpoint_in_place(tmp_path, data_root):
    """Was: both trained, and the kept record's checkpoint sha256 matched checkpoint.pt.prev, not the file in place."""
    (tmp_path / "slow_tiny.py").write_text(SLOW_TINY)
    home, trained_by = tmp_path / "home", tmp_path / "trained-by"
    args = ["--import", str(tmp_path / "slow_tiny.py"), "run", "--model", "slow-tiny", "--task", "probe",
            "--data-root", str(data_root), "--device", "cpu", "--results", str(tmp_path / "results")]
    procs = [_dmzbench(home, *args, TRAINED_BY=str(trained_by), DMZBENCH_SAVE_EVERY_S="0") for _ in range(2)]
    errs = _finish(*procs)
    trainers = trained_by.read_text().split()
    assert len(trainers) == 12 and len(set(trainers)) == 1, errs  # one process did every training step, once
    checkpoint = home / "runs" / "slow-tiny" / "tiny" / "fashion-mnist" / "seed0" / "checkpoint.pt"
    (record,) = _records(tmp_path / "results").values()
    assert record["checkpoint"] == sha256_file(checkpoint)
    assert not locks.lock_path(checkpoint).exists()


def _lock_of(tmp_path: Path, holder: dict, age_s: float = 0.0) -> Path:
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    path = locks.lock_path(checkpoint)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(holder))
    if age_s:
        os.utime(path, (time.time() - age_s, time.time() - age_s))
    return checkpoint


def test_a_lock_whose_holder_died_on_this_host_is_taken_over_with_a_warning(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    checkpoint = _lock_of(tmp_path, {"host": socket.gethostname(), "pid": dead.pid, "since": 0})
    said = []
    with locks.training_lock(checkpoint, said.append) as held:
        assert json.loads(held.path.read_text())["pid"] == os.getpid() and not held.waited
    assert f"pid {dead.pid} on this host" in said[0] and not held.path.exists()


def test_a_lock_not_touched_for_longer_than_the_stale_limit_is_taken_over(tmp_path):
    checkpoint = _lock_of(tmp_path, {"host": "another-node", "pid": 1, "since": 0}, age_s=locks.STALE_S + 60)
    said = []
    with locks.training_lock(checkpoint, said.append) as held:
        assert json.loads(held.path.read_text())["host"] == socket.gethostname()
    assert "last touched" in said[0]


def test_a_live_holder_is_waited_for(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        checkpoint = _lock_of(tmp_path, {"host": socket.gethostname(), "pid": holder.pid, "since": 0})
        threading.Timer(0.5, lambda: locks.lock_path(checkpoint).unlink()).start()  # the holder finishes
        said = []
        t0 = time.monotonic()
        with locks.training_lock(checkpoint, said.append, poll_s=0.05) as held:
            assert held.waited and time.monotonic() - t0 >= 0.5
        assert said == [f"waiting for {socket.gethostname()}:{holder.pid}, which is training this model "
                        f"(lock {locks.lock_path(checkpoint)})"]
    finally:
        holder.kill()
        holder.wait()
