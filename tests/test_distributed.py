"""DistributedDataParallel on 2 CPU processes (gloo) against one process with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
# Max abs weight difference after 12 AdamW steps at lr 1e-2 (weights move by ~0.1): only the float summation order of
# the gradient differs (an all-reduce of two half-batch means vs one mean), and Adam's normalisation amplifies that.
TOLERANCE = 1e-4


def _run(out: Path, world: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "tests.ddp_helpers", str(out), str(world)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out.with_suffix(".weights"), weights_only=True)


def test_two_gloo_processes_match_one_process(tmp_path):
    single = _run(tmp_path / "single.pt", 1)
    (tmp_path / "ddp").mkdir()
    ddp = _run(tmp_path / "ddp" / "ddp.pt", 2)
    assert single.keys() == ddp.keys()
    for k in single:
        assert (single[k] - ddp[k]).abs().max() <= TOLERANCE, k
    moved = max((v - v0).abs().max().item() for v, v0 in zip(single.values(), _initial().values()))
    assert moved > 100 * TOLERANCE  # it did train, by far more than the tolerance


def _initial():
    sys.path.insert(0, str(REPO))
    from tests.ddp_helpers import build

    return build().state_dict()
