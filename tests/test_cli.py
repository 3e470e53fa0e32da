"""The command line: discovery, errors that teach, option parsing."""

import subprocess
import sys

import pytest

from dmzbench.cli import main


def cli(*args, capsys=None):
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    return code


def run_proc(*args, env=None):
    return subprocess.run([sys.executable, "-m", "dmzbench", *args], capture_output=True, text=True, env=env)


def test_ls_lists_builtins_through_entry_points(capsys):
    assert cli("ls") == 0
    text = capsys.readouterr().out
    for name in ("dmz", "pixels", "probe", "fashion-mnist", "cifar10"):
        assert name in text


def test_unknown_model_suggests_and_has_no_traceback():
    proc = run_proc("run", "--model", "dmzz", "--task", "probe")
    assert proc.returncode == 2
    assert "did you mean 'dmz'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["run", "--model", "dmz", "--task", "prob"], "did you mean 'probe'"),
        (["run", "--model", "dmz", "--task", "probe", "--preset", "smok"], "did you mean 'smoke'"),
        (["run", "--model", "dmz", "--task", "probe", "--dataset", "fashion"], "unknown dataset"),
        (["run", "--model", "pixels", "--task", "probe", "-o", "protocl=split"], "did you mean 'protocol'"),
        (["run", "--model", "pixels", "--task", "probe", "-o", "max_images=abc"], "must be an integer"),
        (["run", "--model", "pixels", "--task", "probe", "-o", "protocol=loo"], "not one of: kfold5, split"),
        (["run", "--model", "pixels", "--task", "probe", "-o", "max_images=-3"], "max_images must be >= 0"),
        (["run", "--model", "pixels", "--task", "probe", "--seed", "-1"], "seed must be in 0.."),
        (["run", "--model", "pixels", "--task", "probe", "--device", "tpu"], "device"),
        (["ls", "gizmos"], "cannot list"),
    ],
)
def test_bad_input_is_a_usage_error(args, fragment, capsys, tmp_path):
    assert cli(*args, "--results", str(tmp_path)) == 2 if args[0] == "run" else cli(*args) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_help_shows_example():
    proc = run_proc("run", "--help")
    assert proc.returncode == 0 and "Example" in proc.stdout and "--preset" in proc.stdout


def test_leaderboard_without_records_is_a_clear_error(tmp_path, capsys):
    assert cli("leaderboard", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "lb")) == 2
    assert "does not exist" in capsys.readouterr().err
