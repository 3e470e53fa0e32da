"""Run by tests/test_distributed.py: train one stage in 2 gloo processes, or in one, and save the weights."""

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from dmzbench.api import TrainStage
from dmzbench.train import Trainer
from tests.conftest import tiny_data


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(1024, 16), nn.Tanh(), nn.Linear(16, 1))


def make_stage(model):
    # A loss with no randomness: a distributed run must then match one process up to float rounding.
    target = lambda x: x.mean((1, 2, 3))[:, None]  # noqa: E731
    return TrainStage("regress", model, lambda x, y, c: ((model(x) - target(x)) ** 2).mean(), steps=12,
                      batch_size=16, lr=1e-2, ema_decay=0.9)


def train(out: Path) -> None:
    torch.set_num_threads(1)
    model = build()
    Trainer(torch.device("cpu"), progress=False).fit(model, [make_stage(model)], tiny_data(), out, {}, seed=0)
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(model.state_dict(), out.with_suffix(".weights"))


def _worker(rank: int, world: int, out: str, init: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world))
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        train(Path(out))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    out, world = Path(sys.argv[1]), int(sys.argv[2])
    if world == 1:
        train(out)
    else:
        mp.spawn(_worker, args=(world, str(out), f"file://{out.parent / 'rendezvous'}"), nprocs=world)
