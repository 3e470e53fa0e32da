"""The command line: discovery, errors that teach, option parsing."""

import subprocess
import sys

import pytest

from dmzbench.cli.app import main


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


def test_ls_shows_task_options_metrics_and_suites_as_json(tmp_path):
    import json
    import os

    env = dict(os.environ, DMZBENCH_HOME=str(tmp_path))
    listing = run_proc("ls", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    probe = next(t for t in data["tasks"] if t["name"] == "probe")
    assert probe["options"]["protocol"] == "kfold5"
    assert {"name": "accuracy", "direction": "higher"}.items() <= probe["metrics"][0].items()
    assert {s["name"] for s in data["suites"]} >= {"ci", "small", "tiny"}
    # the second ls reads the cache: it imports no model, task or torch (what made ls take seconds)
    code = ("import sys, io, contextlib; from dmzbench.cli.app import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['ls'])\n"
            "    except SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'dmzbench.tasks.probe', 'dmzbench.baselines.dmz') if m in sys.modules))")
    fast = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert fast.returncode == 0 and fast.stdout.strip() == "[]", fast.stdout + fast.stderr


def test_train_piped_prints_valid_json_even_with_a_long_path(tmp_path):
    import json
    import os

    home = tmp_path / ("a-long-folder-name-that-rich-used-to-wrap-at-eighty-columns" * 2)
    done = run_proc("train", "--model", "pixels", "--device", "cpu", env=dict(os.environ, DMZBENCH_HOME=str(home)))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["checkpoint"].startswith(str(home))


# ---------------------------------------------------------------------------------------- conventions (issue 24, 8)
@pytest.mark.parametrize("args", [["-h"], ["run", "-h"], ["suite", "-h"], ["data", "get", "-h"], ["ls", "-h"]])
def test_dash_h_everywhere_with_plain_metavars(args, capsys):
    assert cli(*args) == 0
    text = capsys.readouterr().out
    assert text.startswith("Usage: dmzbench") and "<" not in text.replace("<=", "")  # no <str>, <bool>, <list[str]>


def test_run_help_names_plain_metavars_and_the_short_form(capsys):
    assert cli("run", "-h") == 0
    text = capsys.readouterr().out
    for metavar in ("--model NAME", "-o, --option KEY=VALUE", "-m, --model-setting KEY=VALUE", "--seed N",
                    "--results PATH", "dmzbench run dmz probe"):
        assert metavar in text, metavar


def test_model_task_and_dataset_names_ignore_case_and_suggest(tmp_path, capsys):
    from dmzbench.run import plan

    import torch

    resolved = plan.resolve("DMZ", "Probe", dataset="Fashion-MNIST", preset="init",
                            device=torch.device("cpu"))
    assert (resolved.model, resolved.task, resolved.dataset) == ("dmz", "probe", "fashion-mnist")
    assert cli("run", "--model", "DMZZ", "--task", "probe", "--results", str(tmp_path)) == 2
    assert "did you mean 'dmz'" in capsys.readouterr().err


def test_positional_model_and_task_are_accepted(tmp_path, capsys):
    # the positional names reach the resolution: the preset typo is the first thing refused
    assert cli("run", "dmz", "probe", "--preset", "smok", "--results", str(tmp_path)) == 2
    assert "did you mean 'smoke'" in capsys.readouterr().err
    assert cli("run", "dmz", "--results", str(tmp_path)) == 2
    assert "dmzbench run --model dmz --task NAME" in capsys.readouterr().err


def test_option_key_space_value_is_answered_with_key_equals_value(tmp_path, capsys):
    assert cli("run", "--model", "pixels", "--task", "probe", "-o", "max_images", "100", "--results", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "KEY=VALUE" in err and "-o max_images=100" in err and len(err.strip().splitlines()) == 1


def test_end_of_run_table_folds_uncertainty_and_prints_counts_as_integers():
    from dmzbench.cli.run_table import metric_rows, title
    from dmzbench.registry import get
    from dmzbench.run.records import ResultRecord

    rec = ResultRecord(model={"name": "pixels", "preset": "identity"}, task={"name": "probe"},
                       dataset={"name": "fashion-mnist"}, seed=0, timings={}, train={}, device="cpu",
                       metrics={"accuracy": 0.79642, "accuracy_std": 0.00581, "n_images": 10000.0},
                       libraries={}, environment={})
    assert dict(metric_rows(rec, get("task", "probe"))) == {"accuracy": "0.7964 ± 0.0058", "n_images": "10000"}
    assert "\n" not in title(rec)


def test_ls_shows_each_metrics_meaning(capsys):
    assert cli("ls", "tasks") == 0
    assert "accuracy ↑: Linear-probe classification accuracy" in capsys.readouterr().out
