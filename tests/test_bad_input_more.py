"""The bad-input table, round two (issue 14): faults found from outside, each at the command line. Every row ends in
exit code 2 (usage) or 1 (runtime), one ``error:`` line that names the fix, no traceback, and nothing trained or
recorded. docs/reliability.md lists these rows with the first table's."""

import gzip
import json

import numpy as np
import pytest

from dmzbench.cli.app import main
from tests.conftest import write_idx

WRONG_INFO = '''
from dmzbench.baselines.pixels import Pixels


class Renamed(Pixels):
    name = "renamed"  # its adapter still reports info.name "pixels"
'''

RUN = ["run", "--model", "dmz", "--task", "probe", "--preset", "init"]
PIX = ["run", "--model", "pixels", "--task", "probe"]
HUGE = "99999999999999999999"
CASES = [
    # item 4: a data root with some of the four files
    (PIX + ["--data-root", "{tmp}/partial"], 1, "holds only 3 of Fashion-MNIST's 4 IDX files"),
    # item 5: damaged archives
    (PIX + ["--data-root", "{tmp}/truncated"], 1, "train-images-idx3-ubyte.gz is a truncated archive; delete it"),
    (PIX + ["--data-root", "{tmp}/flipped"], 1, "t10k-images-idx3-ubyte.gz is a damaged"),
    (PIX + ["--data-root", "{tmp}/mismatch"], 1, "do not match (expected (N, 28, 28) and (N,))"),
    # item 6: seeds out of range
    (RUN + ["--seed", HUGE], 2, "--seed must be in 0..4294967295"),
    (["train", "--model", "dmz", "--preset", "init", "--seed", HUGE], 2, "--seed must be in 0..4294967295"),
    (RUN + ["--seed", str(2**32)], 2, "--seed must be in 0..4294967295"),
    # item 7: a results folder that cannot be written, found before any work
    (RUN + ["--results", "{tmp}/afile"], 2, "--results {tmp}/afile is a file, not a folder"),
    (RUN + ["--results", "{tmp}/afile/deeper"], 2, "cannot be created: {tmp}/afile is a file"),
    # item 8: leaderboard --out pointing at a file
    (["leaderboard", "--results", "{tmp}/good", "--out", "{tmp}/afile"], 2, "--out {tmp}/afile is a file"),
    (["suite", "tiny", "--models", "pixels", "--results", "{tmp}/results", "--out", "{tmp}/afile"], 2,
     "--out {tmp}/afile is a file"),
    # item 9: leaderboard input
    (["leaderboard", "--results", "{tmp}/missingkey", "--out", "{tmp}/page"], 1,
     "is not a complete result record (missing or malformed 'task')"),
    (["leaderboard", "--results", "{tmp}/strmetric", "--out", "{tmp}/page"], 1, "metric accuracy is 'high', not a number"),
    # item 10: sizes with an upper bound
    (["run", "--model", "dmz", "--task", "fid", "--preset", "init", "-o", "n_samples=1000000000000"], 2,
     "n_samples=1000000000000 is above its bound 200,000"),
    (["run", "--model", "dmz", "--task", "fid", "--preset", "init", "-o", "steps=10,1000000"], 2,
     "steps=1000000 is above its bound 10,000"),
    (["run", "--model", "dmz", "--task", "recon", "--preset", "init", "-o", "steps=100000000"], 2,
     "above its bound 10,000"),
    # item 12: conformance checks the registration and can train first
    (["--import", "{tmp}/renamed.py", "check", "--model", "renamed"], 1, "conformance checks failed"),
    (["check", "--model", "dmz", "--train-steps", "-1"], 2, "--train-steps must be in 0..10000"),
]


def _record(metrics):
    return {"schema_version": 1, "model": {"name": "m", "preset": "p"}, "task": {"name": "probe", "details": {}},
            "dataset": {"name": "fashion-mnist"}, "seed": 0, "metrics": metrics}


def _fashion(root, n_train=64, n_test=32, labels_train=None):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (labels_train or n,)))
    return root


def make_inputs(tmp):
    """Every bad input the table names, built in ``tmp``."""
    (_fashion(tmp / "partial") / "t10k-labels-idx1-ubyte.gz").unlink()
    truncated = _fashion(tmp / "truncated") / "train-images-idx3-ubyte.gz"
    truncated.write_bytes(truncated.read_bytes()[:-500])
    flipped = _fashion(tmp / "flipped") / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(flipped.read_bytes())
    for i in range(40, 60):
        raw[i] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    _fashion(tmp / "mismatch", labels_train=50)
    (tmp / "afile").write_text("a file where a folder should be")
    for name, record in (("good", _record({"accuracy": 0.5})), ("missingkey", {"schema_version": 1, "metrics": {}}),
                         ("strmetric", _record({"accuracy": "high"}))):
        (tmp / name).mkdir()
        (tmp / name / "x.json").write_text(json.dumps(record))
    (tmp / "renamed.py").write_text(WRONG_INFO)


@pytest.mark.parametrize("args,code,fragment", CASES, ids=[" ".join(c[0])[:70] for c in CASES])
def test_bad_input(args, code, fragment, tmp_path, capsys, isolated_home):
    make_inputs(tmp_path)
    results = tmp_path / "results"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    fragment = fragment.replace("{tmp}", str(tmp_path))
    if "run" in args[:3] and "--results" not in args:
        args += ["--results", str(results)]
    try:
        main(args)
        exit_code = 0
    except SystemExit as exc:
        exit_code = exc.code
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())  # rich may wrap long paths
    assert exit_code == code, captured.err
    assert fragment in err and "Traceback" not in captured.err + captured.out
    assert len([line for line in captured.err.splitlines() if line.startswith("error:")]) == 1
    assert not results.exists() or not any(results.rglob("*.json"))  # no result written
    runs = isolated_home / "runs"
    assert not runs.exists() or not any(runs.rglob("*.pt"))  # nothing trained
    assert not (tmp_path / "page").exists()
    assert (tmp_path / "afile").read_text().startswith("a file")


def test_the_renamed_model_fails_on_its_info_names(tmp_path, capsys):
    make_inputs(tmp_path)
    with pytest.raises(SystemExit):
        main(["--import", str(tmp_path / "renamed.py"), "check", "--model", "renamed"])
    out = capsys.readouterr().out
    assert "interface" in out and "FAIL" in out
    from dmzbench import conformance, registry

    subject = conformance.subject_for(registry.get("model", "renamed")())
    assert conformance.check_interface(subject) == (
        "info names 'pixels'/'identity', but the model is registered as 'renamed' and built with preset 'identity'; "
        "report those in ModelInfo")


def test_damaged_home_or_save_interval_are_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("DMZBENCH_HOME", str(tmp_path / "afile"))
    with pytest.raises(SystemExit) as exc:
        main(RUN + ["--results", str(tmp_path / "results")])
    assert exc.value.code == 2 and "DMZBENCH_HOME" in capsys.readouterr().err
    from dmzbench.errors import DmzbenchError
    from dmzbench.train import Trainer
    import torch

    monkeypatch.setenv("DMZBENCH_SAVE_EVERY_S", "soon")
    with pytest.raises(DmzbenchError, match="DMZBENCH_SAVE_EVERY_S='soon' must be a number of seconds"):
        Trainer(torch.device("cpu"))


def test_records_store_the_content_hash_of_the_data_they_used(tmp_path, capsys):
    from dmzbench import data

    root = _fashion(tmp_path / "data")
    with pytest.raises(SystemExit) as exc:
        main(["run", "--model", "pixels", "--task", "probe", "--data-root", str(root), "--results",
              str(tmp_path / "r"), "--json"])
    assert exc.value.code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["dataset"]["content_sha256"] == data.content_sha256(data.load("fashion-mnist", root))
    assert record["dataset"]["source"] == str(root)


def test_long_sampling_loops_report_progress():
    import torch

    from dmzbench.images import in_batches

    lines = []
    out = in_batches(lambda i, k: torch.arange(i, i + k), 1000, 30, log=lines.append, what="sampled")
    assert torch.equal(out, torch.arange(1000))
    assert 5 <= len(lines) <= 11 and lines[0] == "sampled 120/1,000"
