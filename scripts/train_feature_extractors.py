"""Train the pinned feature extractors (FeatNet) for the offline data sets and write their weights.

    python scripts/train_feature_extractors.py [fmnist-featnet] [shapes-featnet]

Seeded and CPU-only, so a rerun on the same torch gives the same weights. After a rerun, paste the printed sha256
values into dmzbench/metrics/features.py (PINNED): FID numbers from different weights are not comparable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dmzbench import data
from dmzbench.atomic import sha256_file, torch_save
from dmzbench.metrics.features import PINNED, FeatNet

RECIPE = {"fmnist-featnet": dict(epochs=2, batch=128, lr=2e-3), "shapes-featnet": dict(epochs=2, batch=128, lr=2e-3)}


def train(space_name: str) -> None:
    space = PINNED[space_name]
    recipe = RECIPE[space_name]
    torch.manual_seed(0)
    d = data.load(space.dataset)
    targets = d.train_attributes.float() if space.multilabel else d.train_labels
    net = FeatNet(space.channels, space.outputs)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe["lr"])
    g = torch.Generator().manual_seed(0)
    for epoch in range(recipe["epochs"]):
        perm = torch.randperm(len(d.train_images), generator=g)
        for i in range(0, len(perm) - recipe["batch"] + 1, recipe["batch"]):
            idx = perm[i : i + recipe["batch"]]
            out = net(d.train_images[idx])
            loss = (F.binary_cross_entropy_with_logits(out, targets[idx]) if space.multilabel
                    else F.cross_entropy(out, targets[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        out = torch.cat([net(c) for c in d.test_images.split(1000)])
    if space.multilabel:
        acc = ((out > 0).long() == d.test_attributes).float().mean().item()
    else:
        acc = (out.argmax(1) == d.test_labels).float().mean().item()
    torch_save(space.path, net.state_dict())
    print(f"{space_name}: test accuracy {acc:.4f}, sha256 {sha256_file(space.path)}")


if __name__ == "__main__":
    import sys

    torch.set_num_threads(2)
    for name in sys.argv[1:] or PINNED:
        train(name)
