"""Faults injected for real (SIGKILL in a subprocess, corrupted files, concurrent writers, unwritable paths)."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dmzbench.atomic import previous, write_json
from dmzbench.errors import DmzbenchError
from dmzbench.run.checkpoints import load_checkpoint
from tests.fault_helpers import META, train

REPO = Path(__file__).resolve().parent.parent


def _child(path: Path) -> subprocess.Popen:
    env = dict(os.environ, DMZBENCH_SAVE_EVERY_S="0", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "tests.fault_helpers", str(path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _step(path: Path) -> int:
    try:
        state = load_checkpoint(path, META)
        return -1 if state["done"] else state["step"]
    except Exception:
        return -2


def test_sigkill_at_five_points_then_resume_is_bit_exact(tmp_path):
    """The reference runs in a child process too, so both use the same thread count (float sums depend on it)."""
    ref = _child(tmp_path / "reference.pt")
    assert ref.wait(timeout=300) == 0
    path = tmp_path / "killed.pt"
    rng = random.Random(0)
    kills, last = [], 0
    for _ in range(5):
        proc = _child(path)
        deadline = time.monotonic() + 120
        while _step(path) <= last and time.monotonic() < deadline:  # wait until this child has made progress
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))  # then kill it at a random point, mid-step or mid-write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        last = max(last, _step(path))
        kills.append(last)
    assert len(set(kills)) == 5 and all(0 < k < 40 for k in kills), kills
    proc = _child(path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    reference = load_checkpoint(tmp_path / "reference.pt", META)["model"]
    resumed = load_checkpoint(path, META)["model"]
    assert resumed.keys() == reference.keys()
    for k in reference:
        assert torch.equal(reference[k], resumed[k]), k
    print("checkpoint step after each kill:", kills)


def test_corrupted_checkpoint_falls_back_to_the_previous_good_one(tmp_path, capsys):
    path = tmp_path / "c.pt"
    train(path, preset="tiny", stop_after=2)  # two saves: the first is kept as .prev
    train(path, preset="tiny", stop_after=2)
    assert previous(path).exists()
    good_step = load_checkpoint(previous(path), META)["step"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    state = load_checkpoint(path, META)
    assert state["step"] == good_step
    assert "damaged" in capsys.readouterr().err
    path.write_bytes(data[: len(data) // 2])
    previous(path).unlink()
    with pytest.raises(DmzbenchError, match=r"c\.pt is damaged.*delete it"):
        load_checkpoint(path, META)


def test_checkpoint_of_another_configuration_names_the_fields(tmp_path):
    path = tmp_path / "c.pt"
    train(path, preset="tiny")
    with pytest.raises(DmzbenchError) as err:
        load_checkpoint(path, {"model": "tiny-dmz", "preset": "smoke"})
    assert "preset (None in the checkpoint, 'smoke' asked for)" in str(err.value)
    with pytest.raises(DmzbenchError, match=r"model \('tiny-dmz' in the checkpoint, 'dmz' asked for\)"):
        load_checkpoint(path, {"model": "dmz"})


WRITER = """
import sys
from dmzbench.atomic import write_json
for i in range(40):
    for name in ("a", "b", "c"):
        write_json(sys.argv[1] + f"/{name}.json", {"writer": sys.argv[2], "i": i, "payload": "x" * 20000})
"""


def test_two_processes_writing_the_same_results_leave_complete_records(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), w], cwd=REPO) for w in ("1", "2")]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    for name in ("a", "b", "c"):
        record = json.loads((tmp_path / f"{name}.json").read_text())
        assert record["i"] == 39 and len(record["payload"]) == 20000
    assert not list(tmp_path.glob(".*.tmp"))


def test_unwritable_destination_is_a_clear_error_without_leftovers(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(DmzbenchError, match="cannot write .*write elsewhere"):
        write_json(blocker / "probe" / "x.json", {"a": 1})
    assert blocker.read_text().startswith("a file")
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_interrupted_training_then_the_same_run_resumes(tmp_path, monkeypatch):
    """Training stopped half way (as by a crash), then the same call: it resumes and matches an uninterrupted run."""
    from dmzbench import registry
    from dmzbench.run import runner
    from tests.fault_helpers import TinyDMZ

    registry.register("model", "tiny-dmz", TinyDMZ, "tests")
    registry.register("dataset", "tiny", _TinySource, "tests")
    cpu = torch.device("cpu")
    with pytest.raises(DmzbenchError, match="run the same command to resume"):
        runner.obtain_model("tiny-dmz", "tiny-long", "tiny", 0, cpu, progress=False, stop_after_train_steps=7)
    resumed = runner.obtain_model("tiny-dmz", "tiny-long", "tiny", 0, cpu, progress=False)
    monkeypatch.setenv("DMZBENCH_HOME", str(tmp_path / "other"))
    straight = runner.obtain_model("tiny-dmz", "tiny-long", "tiny", 0, cpu, progress=False)
    for (k, a), b in zip(straight.module.state_dict().items(), resumed.module.state_dict().values()):
        assert torch.equal(a, b), k
    assert resumed.summaries[0].steps == 40


class _TinySource:
    name = "tiny"
    from tests.conftest import tiny_data as _make

    spec = _make().spec

    def load(self, root):
        from tests.conftest import tiny_data

        return tiny_data()
