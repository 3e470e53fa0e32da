"""Training-time augmentation: the random horizontal flip most official codes train with.

DMZ (``load_data(random_flip=True)``), DiffAE (``RandomHorizontalFlip`` in every training set) and PDAE (CelebA-64
``augmentation: True``) flip; LDM's autoencoder (ImageNet, ``ImageNetSRTrain``) does not. A family's preset says whether
it flips (``flip``); the data set may veto it: on ``shapes`` a flip changes an attribute ("left"), so it never flips.
Fashion-MNIST flips where the family does: the official codes never saw it, and a mirrored garment is still a garment
(toolkit choice, in docs/fidelity.md).

The flip draws from torch's global generator, which the trainer reseeds every step, so resume stays exact.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dmzbench.api import DataSpec

Loss = Callable[[Tensor, Tensor, Tensor], Tensor]

# Data sets whose images a horizontal flip takes out of the data distribution or whose labels it changes.
NEVER_FLIPPED = frozenset({"shapes"})


def flips(preset_flip: bool, spec: DataSpec) -> bool:
    return bool(preset_flip) and spec.name not in NEVER_FLIPPED


def random_flip(loss: Loss) -> Loss:
    """``loss`` on a batch whose images are each mirrored left-right with probability 1/2; in paired mode the
    source-domain image (``cond``) is mirrored with its target."""

    def flipped(x: Tensor, labels: Tensor, cond: Tensor) -> Tensor:
        mask = (torch.rand(len(x), device=x.device) < 0.5).view(-1, *([1] * (x.ndim - 1)))
        x_f = torch.where(mask, x.flip(-1), x)
        cond_f = x_f if cond is x else torch.where(mask, cond.flip(-1), cond)
        return loss(x_f, labels, cond_f)

    return flipped


def maybe_flipped(loss: Loss, preset_flip: bool, spec: DataSpec) -> Loss:
    return random_flip(loss) if flips(preset_flip, spec) else loss
