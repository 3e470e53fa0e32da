"""The bad-input table, round three (issue 25): each case at the command line ends in one ``error:`` line that names
the fix (exit 2 usage, 1 runtime), no traceback, nothing trained or recorded; then the cases whose answer is not an
error (a leaderboard that skips a NaN metric, a record printed when it cannot be written, ...). docs/reliability.md
lists them."""

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from dmzbench.cli.app import main
from tests.test_outputs import data_root, run_cli  # noqa: F401 (a fixture)

RUN = ["run", "--model", "dmz", "--task", "probe", "--preset", "init"]
HUGE = "99999999999"
CASES = [
    # model settings: each typed preset validates its own fields
    (RUN + ["-m", "heads=0"], 2, "heads=0 must be positive"),
    (RUN + ["-m", "channel_mult="], 2, "channel_mult is empty"),
    (RUN + ["-m", "lr=nan"], 2, "lr='nan' must be a finite number"),
    (RUN + ["-m", "bits=0"], 2, "bits=0 must be positive"),
    (RUN + ["-m", "cross_attention_levels=7"], 2, "level 7 is outside the UNet's 3 levels"),
    (RUN + ["-m", "batch_size=0"], 2, "batch_size=0 must be positive"),
    (["train", "--model", "diffae", "--preset", "init", "-m", "dropout=2"], 2, "dropout=2.0 must lie in [0, 1]"),
    # task options: bounded by the data set, by a bound, or refused
    (["run", "--model", "dmz", "--preset", "init", "--task", "interp", "-o", "n_pairs=100", "--data-root",
      "{data}"], 2, "use n_pairs=16 or fewer"),
    (["run", "--model", "dmz", "--preset", "init", "--task", "interp", "-o", f"frames={HUGE}"], 2,
     "above its bound 1,000"),
    (["run", "--model", "dmz", "--preset", "init", "--task", "recon", "-o", f"n_images={HUGE}"], 2,
     "above its bound 200,000"),
    (["run", "--model", "dmz", "--preset", "init", "--task", "transfer", "-o", "bridge_lr=nan"], 2,
     "bridge_lr='nan' must be a finite number"),
    (["run", "--model", "dmz", "--preset", "init", "--task", "transfer", "-o", "bridge_lr=-1"], 2,
     "bridge_lr must be a positive learning rate"),
    (["run", "--model", "dmz", "--preset", "init", "--task", "transfer", "-o", f"bridge_epochs={HUGE}"], 2,
     "above its bound 10,000"),
    (["run", "--model", "dmz", "--preset", "init", "--task", "fid", "-o", "steps=1,1"], 2,
     "steps lists 1 more than once"),
    (["suite", "tiny", "--budget", "nan", "--results", "{tmp}/results"], 2, "--budget must be a positive, finite"),
    # leaderboard input
    (["leaderboard", "--results", "{tmp}/garbage", "--out", "{tmp}/page"], 1, "is not a readable result record"),
]


@pytest.mark.parametrize("args,code,fragment", CASES, ids=[" ".join(c[0])[:70] for c in CASES])
def test_bad_input(args, code, fragment, tmp_path, data_root, capsys, isolated_home, monkeypatch):
    monkeypatch.setenv("DMZBENCH_SYSTEM_DATA", str(tmp_path / "no-system-datasets"))
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "x.json").write_bytes(bytes(range(256)) * 4)  # binary, not UTF-8
    results = tmp_path / "results"
    args = [a.replace("{tmp}", str(tmp_path)).replace("{data}", str(data_root)) for a in args]
    if args[0] == "run":
        args += ["--results", str(results)]
    exit_code, out, err = run_cli(args, capsys)
    one_line = " ".join(err.split())
    assert exit_code == code, err
    assert fragment in one_line and "Traceback" not in err + out
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    assert not results.exists() or not any(results.rglob("*.json"))
    runs = isolated_home / "runs"
    assert not runs.exists() or not any(runs.rglob("*.pt"))


def test_offline_is_a_boolean(monkeypatch, tmp_path, capsys):
    from dmzbench.data import downloads_allowed

    for value, allowed in (("1", False), ("true", False), ("YES", False), ("0", True), ("false", True),
                           ("no", True), ("", True)):
        monkeypatch.setenv("DMZBENCH_OFFLINE", value)
        assert downloads_allowed() is allowed, value
    monkeypatch.setenv("DMZBENCH_OFFLINE", "maybe")
    monkeypatch.setenv("DMZBENCH_SYSTEM_DATA", str(tmp_path / "none"))
    code, out, err = run_cli(["run", "--model", "pixels", "--task", "probe", "--results", str(tmp_path / "r")], capsys)
    assert code == 2 and "Traceback" not in err
    assert "DMZBENCH_OFFLINE='maybe' is not a boolean" in " ".join(err.split())


def _record(path: Path, model: str, metric) -> None:
    rec = {"schema_version": 1, "model": {"name": model, "preset": "p"}, "task": {"name": "probe", "details": {}},
           "dataset": {"name": "fashion-mnist"}, "seed": 0, "metrics": {"accuracy": metric}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))  # json writes NaN as NaN, as a record of a task that returned NaN holds it


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf")])
def test_a_metric_without_a_number_is_never_ranked_or_plotted(bad, tmp_path, capsys):
    _record(tmp_path / "results" / "a.json", "good", 0.5)
    _record(tmp_path / "results" / "b.json", "broken", bad)
    code, out, err = run_cli(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "page")],
                             capsys)
    assert code == 0 and "Traceback" not in err
    table = (tmp_path / "page" / "leaderboard.md").read_text()
    broken = next(line for line in table.splitlines() if "| broken |" in line)
    good = next(line for line in table.splitlines() if "| good |" in line)
    assert "**" not in broken and "nan" not in broken.lower() and "inf" not in broken.lower()
    assert good.startswith("| 1 |") and "**" in good


PLUGIN_TASK = '''
from dataclasses import dataclass


@dataclass(frozen=True)
class Cfg:
    value: str = "ok"


class Echo:
    name = "echo"
    version = "1"
    Config = Cfg
    default_dataset = "fashion-mnist"
    requires = frozenset({"encode"})

    def run(self, adapter, data, config, ctx):
        feats = ctx.cached_features("test")
        return {"score": {"ok": float(feats.mean()), "none": None, "text": "high"}[config.value]}
'''


def _plugin_task(tmp_path: Path, returning: str) -> list[str]:
    path = tmp_path / "echo_task.py"
    path.write_text(PLUGIN_TASK)
    return ["--import", str(path), "run", "--model", "pixels", "--task", "echo", "-o", f"value={returning}",
            "--results", str(tmp_path / "results"), "--json"]


@pytest.mark.parametrize("returning,shown", [("none", "score = None"), ("text", "score = 'high'")])
def test_a_plugin_task_returning_no_number_is_one_line(returning, shown, tmp_path, data_root, capsys):
    code, out, err = run_cli(_plugin_task(tmp_path, returning) + ["--data-root", str(data_root)], capsys)
    assert code == 1 and "Traceback" not in err
    assert f"task echo returned metric {shown}, not a number" in " ".join(err.split())
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*.json"))


def test_a_plugin_tasks_record_names_its_file_and_reproduces_with_import(tmp_path, data_root, capsys):
    args = _plugin_task(tmp_path, "ok") + ["--data-root", str(data_root)]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    record = json.loads(out)
    path = tmp_path / "echo_task.py"
    assert record["task"]["source"] == str(path)
    assert record["task"]["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["reproduce"].startswith(f"dmzbench --import {path} run --model pixels")
    assert record["model"]["source"] == "dmzbench" and record["model"]["source_version"]


def test_a_record_that_cannot_be_written_is_printed_on_stdout(tmp_path, data_root, capsys, monkeypatch):
    """A full disk under the results folder (ENOSPC at fsync), after the task ran."""
    import errno

    from dmzbench import atomic

    results = tmp_path / "results"
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(results)):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    code, out, err = run_cli(["run", "--model", "pixels", "--task", "probe", "-o", "protocol=split", "--data-root",
                              str(data_root), "--results", str(results)], capsys)
    assert code == 1 and "Traceback" not in err
    one_line = " ".join(err.split())
    assert "No space left on device" in one_line and "the record is printed on stdout instead" in one_line
    record = json.loads(out)
    assert record["task"]["name"] == "probe" and 0 <= record["metrics"]["accuracy"] <= 1
    assert not any(results.rglob("*.json")) and not any(results.rglob("*.tmp"))


def test_outputs_respect_the_umask(tmp_path, data_root, capsys):
    old = os.umask(0o022)
    try:
        code, _, err = run_cli(["run", "--model", "pixels", "--task", "probe", "-o", "protocol=split", "--data-root",
                                str(data_root), "--results", str(tmp_path / "results")], capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    record = next((tmp_path / "results").rglob("*.json"))
    assert stat.S_IMODE(record.stat().st_mode) == 0o644


NAMED = '''
from dmzbench.baselines.pixels import Pixels


class Piped(Pixels):
    name = "pix|els"
'''


def test_a_pipe_in_a_model_name_stays_in_its_cell(tmp_path, data_root, capsys):
    plugin = tmp_path / "piped.py"
    plugin.write_text(NAMED)
    results = tmp_path / "results"
    code, _, err = run_cli(["--import", str(plugin), "run", "--model", "pix|els", "--task", "probe", "-o",
                            "protocol=split", "--data-root", str(data_root), "--results", str(results)], capsys)
    assert code == 0, err
    code, _, err = run_cli(["leaderboard", "--results", str(results), "--out", str(tmp_path / "page")], capsys)
    assert code == 0, err
    table = [line for line in (tmp_path / "page" / "leaderboard.md").read_text().splitlines() if "pix" in line]
    header = next(line for line in (tmp_path / "page" / "leaderboard.md").read_text().splitlines()
                  if line.startswith("| # |"))
    assert "pix\\|els" in table[0]
    assert table[0].replace("\\|", "").count("|") == header.count("|")


def test_fid_reference_features_are_cached_by_data_and_extractor(tmp_path, data_root, capsys, isolated_home):
    args = ["run", "--model", "dmz", "--preset", "init", "--task", "fid", "-o", "n_samples=4", "-o", "steps=1",
            "--data-root", str(data_root), "--results", str(tmp_path / "results"), "--json"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    first = json.loads(out)["metrics"]
    cache = sorted((isolated_home / "features").glob("*.pt"))
    assert len(cache) == 1  # the reference split's features (fid encodes nothing)
    before = cache[0].stat().st_mtime_ns
    code, out, err = run_cli(args, capsys)
    assert code == 0 and json.loads(out)["metrics"] == first
    assert cache[0].stat().st_mtime_ns == before  # read, not extracted and written again
