"""Multi-process training on PyTorch's own engine (torch.distributed + DistributedDataParallel).

Launched with ``torchrun --nproc_per_node=N -m dmzbench train ...``: torchrun sets RANK / WORLD_SIZE / LOCAL_RANK,
``setup()`` joins the process group (NCCL on GPUs, gloo on CPUs) and picks this rank's GPU. The trainer then shards
each global batch across ranks (the global batch is preserved), seeds each rank differently, wraps the stage in DDP
(gradients averaged by its all-reduce), averages logged losses across ranks, and lets rank 0 alone write checkpoints,
logs and results.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def setup() -> torch.device | None:
    """Join the process group if launched by torchrun (WORLD_SIZE > 1); returns this rank's device, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return torch.device("cuda", local_rank)
    dist.init_process_group("gloo")
    return torch.device("cpu")


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def mean_across_ranks(t: torch.Tensor) -> torch.Tensor:
    if world()[1] > 1:
        t = t.clone()
        dist.all_reduce(t)
        t /= world()[1]
    return t


class LossModule(torch.nn.Module):
    """What DDP wraps: the stage's module, with the stage's loss as its forward (so DDP's hooks see every parameter
    the loss uses, whatever methods of the model it calls)."""

    def __init__(self, module: torch.nn.Module, loss):
        super().__init__()
        self.module, self.loss = module, loss

    def forward(self, x: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.loss(x, y, c)
