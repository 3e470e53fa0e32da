"""The bad-input table: every mistake ends in exit code 2 (usage) or 1 (runtime), one line that names the fix, no
traceback, and nothing written on disk; all of it on a machine without Fashion-MNIST (checks come before the data)."""


import pytest

from dmzbench.cli.app import main

BAD_ADAPTER = '''
import torch
from torch import nn
from dmzbench.api import Baseline, ModelInfo

class WrongShape:
    def __init__(self, spec):
        self.info = ModelInfo("wrongshape", "x", "p", spec.image_size, spec.channels, (8,), "continuous",
                              can_reconstruct=False, can_generate=False)
    def encode(self, x):
        return torch.zeros(len(x), 5)

class WrongShapeModel(Baseline):
    name = "wrongshape"
    family = "x"
    presets = {"p": {}}
    default_preset = "p"
    def build(self, preset, spec): return nn.Identity()
    def stages(self, model, preset, spec): return []
    def adapter(self, model, preset, spec): return WrongShape(spec)
'''

RUN = ["run", "--model", "dmz", "--task", "probe", "--preset", "init"]
PIX = ["run", "--model", "pixels", "--task", "probe"]
CASES = [
    # (arguments, exit code, a fragment of the one line)
    (["run", "--model", "dmzz", "--task", "probe"], 2, "did you mean 'dmz'"),
    (["run", "--model", "dmz", "--task", "prob"], 2, "did you mean 'probe'"),
    (["run", "--model", "dmz", "--task", "probe", "--dataset", "fashionmnist"], 2, "did you mean 'fashion-mnist'"),
    (["run", "--model", "dmz", "--task", "probe", "--preset", "smok"], 2, "did you mean 'smoke'"),
    (PIX + ["-o", "protocl=split"], 2, "did you mean 'protocol'"),
    (PIX + ["-o", "max_images=abc"], 2, "max_images='abc' must be an integer"),
    (PIX + ["-o", "protocol=loo"], 2, "not one of: kfold5, split"),
    (PIX + ["-o", "max_images"], 2, "not of the form key=value"),
    (PIX + ["-o", "max_images=-3"], 2, "max_images must be >= 0"),
    (PIX + ["-o", "max_iter=0"], 2, "max_iter must be > 0"),
    (PIX + ["--seed", "-1"], 2, "seed must be in 0..4294967295"),
    (PIX + ["--device", "tpu"], 2, "unknown device 'tpu'"),
    (PIX + ["--device", "cuda:7"], 2, "cuda"),
    (["run", "--model", "dmz", "--task", "fid", "--preset", "init", "-o", "n_samples=0"], 2, "n_samples must be >= 2"),
    (["run", "--model", "dmz", "--task", "fid", "--preset", "init", "-o", "steps=0"], 2, "steps must be positive"),
    (["run", "--model", "dmz", "--task", "fid", "--preset", "init", "-o", "steps=ten"], 2, "must be an integer"),
    (["run", "--model", "dmz", "--task", "recon", "--preset", "init", "-o", "steps=-1"], 2, "steps >= 1"),
    (["run", "--model", "dmz", "--task", "interp", "--preset", "init", "-o", "frames=2"], 2, "frames >= 3"),
    (["run", "--model", "dmz", "--task", "fid", "--preset", "init", "-o", "features=vgg"], 2, "unknown feature space"),
    (["run", "--model", "dmz", "--task", "transfer", "--preset", "init", "--dataset", "fashion-mnist"], 2,
     "needs a paired data set"),
    (["run", "--model", "dmz", "--task", "auroc", "--preset", "init", "--dataset", "fashion-mnist"], 2,
     "has no attributes"),
    (["run", "--model", "diffae", "--task", "probe", "--preset", "celeba64-paper"], 2, "is for 64 px images"),
    (PIX + ["--data-root", "/nonexistent/dmzbench-data"], 2, "is not a directory"),
    (["run", "--model", "pixels", "--task", "probe", "--dataset", "celeba64", "--data-root", "{tmp}"], 1,
     "CelebA not found"),
    (["run", "--model", "pixels", "--task", "probe", "--dataset", "edges2shoes", "--data-root", "{tmp}"], 1,
     "edges2shoes not found"),
    (["train", "--model", "dmz", "--dataset", "mnist"], 2, "unknown dataset 'mnist'"),
    (["train", "--model", "dmz", "--preset", "huge"], 2, "unknown preset of dmz 'huge'"),
    (["ls", "gizmos"], 2, "cannot list 'gizmos'"),
    (["leaderboard", "--results", "{tmp}/none"], 2, "does not exist"),
    (["leaderboard", "--results", "{tmp}/malformed"], 1, "is not a readable result record"),
    (["--import", "{tmp}/missing.py", "ls"], 2, "no such file"),
    (["--import", "{tmp}/wrongshape.py", "run", "--model", "wrongshape", "--task", "probe"], 1,
     "encode returned (2, 5) for 2 images, expected (2, 8)"),
    (["--import", "{tmp}/wrongshape.py", "check", "--model", "wrongshape"], 1, "conformance checks failed"),
]


@pytest.mark.parametrize("args,code,fragment", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input(args, code, fragment, tmp_path, capsys, isolated_home, monkeypatch):
    # as on a machine without Fashion-MNIST: a usage error must not depend on whether the data is there
    monkeypatch.setenv("DMZBENCH_SYSTEM_DATA", str(tmp_path / "no-system-datasets"))
    (tmp_path / "malformed").mkdir()
    (tmp_path / "malformed" / "x.json").write_text("{not json")
    (tmp_path / "wrongshape.py").write_text(BAD_ADAPTER)
    results = tmp_path / "results"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] == "run" or "run" in args[:3]:
        args += ["--results", str(results)]
    try:
        main(args)
        exit_code = 0
    except SystemExit as exc:
        exit_code = exc.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert exit_code == code, captured.err
    assert fragment in captured.err and "Traceback" not in captured.err + captured.out
    assert len([line for line in lines if line.startswith("error:")]) == 1
    assert not results.exists() or not any(results.rglob("*.json"))  # no result written
    runs = isolated_home / "runs"
    assert not runs.exists() or not any(runs.rglob("*.pt")) or "wrongshape" in args  # nothing trained


def test_the_table_is_at_least_25_rows():
    assert len(CASES) >= 25
