"""Issue 25 item 1: every adapter output a task scores is checked once (dmzbench/run/outputs.py) before it is scored. Each
scored method x each fault, at the command line, through the task that scores it: one ``error:`` line naming the model,
the method and what was wrong, exit 1, no traceback, no record."""

import json
from pathlib import Path

import pytest
import torch

from dmzbench.cli.app import main
from dmzbench.run.outputs import OutputError, checked
from tests.conftest import write_idx
from tests.faulty_plugin import FAULTS, FaultyAdapter

PLUGIN = Path(__file__).with_name("faulty_plugin.py")
# method -> the task (and options) that scores it, kept small
TASKS = {
    "encode": ["--task", "probe", "-o", "protocol=split"],
    "reconstruct": ["--task", "recon", "-o", "n_images=8", "-o", "x_T=random"],
    "generate": ["--task", "fid", "-o", "n_samples=8", "-o", "steps=1"],
    "interpolate": ["--task", "interp", "-o", "n_pairs=2", "-o", "frames=3"],
    "decode_latent": ["--task", "transfer", "--dataset", "edges2fashion", "-o", "protocol=bridge", "-o", "n_images=8",
                      "-o", "bridge_epochs=1"],
}
WHAT = {"nan": "returned NaN values", "inf": "returned inf values", "range": "must lie in", "shape": "expected",
        "count": "expected", "dtype": "dtype", "raises": "raised ValueError: the plugin's own bug (--debug shows the "
                                                          "traceback)"}


@pytest.fixture
def data_root(tmp_path) -> Path:
    import numpy as np

    root = tmp_path / "data" / "fashion-mnist"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    return root.parent


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def faulty_run(method: str, preset: str, tmp_path: Path, data_root: Path) -> list[str]:
    return ["--import", str(PLUGIN), "run", "--model", "faulty", "--preset", preset, *TASKS[method],
            "--data-root", str(data_root), "--results", str(tmp_path / "results"), "--json"]


CASES = [(m, f) for m in TASKS for f in FAULTS]


@pytest.mark.parametrize("method,fault", CASES, ids=[f"{m}-{f}" for m, f in CASES])
def test_a_broken_output_is_one_line_and_never_scored(method, fault, tmp_path, data_root, capsys):
    code, out, err = run_cli(faulty_run(method, f"{method}-{fault}", tmp_path, data_root), capsys)
    one_line = " ".join(err.split())
    assert code == 1, err
    assert "Traceback" not in err + out
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert f"model faulty's {method}" in one_line and WHAT[fault] in one_line, err
    results = tmp_path / "results"
    assert not results.exists() or not any(results.rglob("*.json"))


@pytest.mark.parametrize("method", list(TASKS))
def test_the_clean_plugin_is_scored(method, tmp_path, data_root, capsys):
    """The same tasks on the plugin without a fault end in a record, so the faults above are what fails them."""
    code, out, err = run_cli(faulty_run(method, "clean", tmp_path, data_root), capsys)
    assert code == 0, err
    assert json.loads(out)["metrics"]


def test_the_debug_flag_shows_the_plugins_own_traceback(tmp_path, data_root):
    with pytest.raises(Exception) as info:
        main(["--debug", *faulty_run("generate", "generate-raises", tmp_path, data_root)])
    assert "model faulty's generate raised ValueError" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_checked_adapters_keep_the_adapters_own_members_and_capabilities():
    from dmzbench.api import DataSpec, InvertibleAdapter, can
    from dmzbench.baselines.pixels import PixelsAdapter

    spec = DataSpec("x", 8, 1, 10)
    pixels = checked(PixelsAdapter(spec, "identity"))
    assert not can(pixels, "decode") and not isinstance(pixels, InvertibleAdapter)
    assert can(checked(FaultyAdapter(spec, "clean")), "decode")
    assert checked(pixels) is pixels  # checked once, however often it is wrapped
    with pytest.raises(OutputError, match=r"model pixels's encode returned NaN values \(1 of 64\)"):
        bad = torch.zeros(1, 1, 8, 8)
        bad[0, 0, 0, 0] = float("nan")
        pixels.encode(bad)
