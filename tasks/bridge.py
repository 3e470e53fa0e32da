"""The DMZ paper's domain-transfer method, offered to every family with an encoder and a decoder: two models, each
trained on one domain alone, and a small MLP (the "bridge") from the source model's codes to the target model's codes.

From the official exlab-research/dmz ``bridge_train.py`` / ``bridge_eval.py``:
- the MLP is ``layers`` x (Linear -> BatchNorm1d -> ReLU) of ``hidden_dim`` units, then a Linear, then a Sigmoid for a
  binary latent; it is trained with BCE against the target model's code of the SAME (paired) training image, Adam
  lr 1e-3, batch 256, up to 100 epochs, stopping after 10 epochs without a better bit accuracy;
- the codes are hard: the saved soft Gumbel-softmax latents thresholded at 0.5 (a Bernoulli(p) draw of each bit);
- at evaluation the source code of an image is mapped, thresholded at 0.5 and decoded by the target model (ancestral
  sampling respaced to 40 steps).

Toolkit choices: a binary code is drawn as Bernoulli(encode's p) from the run's seeded generator (the same distribution
as thresholding the official soft sample); early stopping watches a held-out 10% of the training pairs (the official
script watches the test pairs, which the task then scores); a continuous latent (DiffAE, PDAE, SD-VAE, DGAE) gets the
same MLP without the Sigmoid, trained with MSE on the target code standardised per dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dmzbench.api import ModelAdapter, to_model_range


@dataclass(frozen=True)
class BridgeSettings:
    hidden_dim: int = 256
    layers: int = 4
    lr: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 100
    patience: int = 10  # epochs without improvement on the held-out pairs before stopping (bridge_train.py: > 10)
    holdout: float = 0.1


class CodeBridge(nn.Module):
    def __init__(self, d_in: int, d_out: int, hidden_dim: int, layers: int, binary: bool):
        super().__init__()
        blocks, width = [], d_in
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU()]
            width = hidden_dim
        blocks.append(nn.Linear(width, d_out))
        if binary:
            blocks.append(nn.Sigmoid())
        self.net = nn.Sequential(*blocks)
        self.binary = binary
        # a continuous target is learnt standardised; these map the output back to the target model's units
        self.register_buffer("mean", torch.zeros(d_out))
        self.register_buffer("std", torch.ones(d_out))

    def forward(self, z: Tensor) -> Tensor:
        out = self.net(z)
        return out if self.binary else out * self.std + self.mean


@torch.no_grad()
def codes(adapter: ModelAdapter, images_uint8: Tensor, device: torch.device, generator: torch.Generator,
          batch_size: int = 500) -> Tensor:
    """The codes the bridge sees: a hard Bernoulli(p) draw for a binary latent, ``encode``'s features otherwise."""
    out = []
    for i in range(0, len(images_uint8), batch_size):
        z = adapter.encode(to_model_range(images_uint8[i : i + batch_size]).to(device)).float().cpu()
        out.append(torch.bernoulli(z, generator=generator) if adapter.info.latent_kind == "binary" else z)
    return torch.cat(out)


def _score(bridge: CodeBridge, z_in: Tensor, z_out: Tensor) -> float:
    """Higher is better: bit accuracy for a binary code, minus the MSE otherwise."""
    bridge.eval()
    with torch.no_grad():
        pred = bridge(z_in)
    bridge.train()
    if bridge.binary:
        return (pred.round() == z_out).float().mean().item()
    return -(pred - z_out).pow(2).mean().item()


def fit_bridge(z_src: Tensor, z_tgt: Tensor, binary: bool, settings: BridgeSettings, seed: int) -> tuple[CodeBridge, dict]:
    """Train the bridge on paired training codes; returns it (in eval mode) and a summary for the record."""
    threads = torch.get_num_threads()
    # a few-thousand-parameter MLP gains nothing from intra-op threads, and on a busy CPU their synchronisation costs
    # 20x (measured: 7 ms vs 174 ms a step on 2 loaded cores)
    torch.set_num_threads(1)
    try:
        return _fit(z_src, z_tgt, binary, settings, seed)
    finally:
        torch.set_num_threads(threads)


def _fit(z_src: Tensor, z_tgt: Tensor, binary: bool, settings: BridgeSettings, seed: int) -> tuple[CodeBridge, dict]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        order = torch.randperm(len(z_src))
        n_val = max(1, int(settings.holdout * len(z_src)))
        val, train = order[:n_val], order[n_val:]
        bridge = CodeBridge(z_src.shape[1], z_tgt.shape[1], settings.hidden_dim, settings.layers, binary)
        if not binary:
            bridge.mean.copy_(z_tgt[train].mean(0))
            bridge.std.copy_(z_tgt[train].std(0).clamp_min(1e-6))
        loss_fn = nn.BCELoss() if binary else nn.MSELoss()
        opt = torch.optim.Adam(bridge.parameters(), lr=settings.lr)
        best, stale, epochs = float("-inf"), 0, 0
        for epoch in range(settings.max_epochs):
            epochs = epoch + 1
            for idx in train[torch.randperm(len(train))].split(settings.batch_size):
                if len(idx) < 2:  # BatchNorm needs two rows
                    continue
                target = z_tgt[idx] if binary else (z_tgt[idx] - bridge.mean) / bridge.std
                loss = loss_fn(bridge.net(z_src[idx]), target)
                opt.zero_grad()
                loss.backward()
                opt.step()
            score = _score(bridge, z_src[val], z_tgt[val])
            if score > best:
                best, stale = score, 0
            else:
                stale += 1
                if stale > settings.patience:
                    break
    summary = {"epochs": epochs, "train_pairs": len(train), "heldout_pairs": n_val,
               ("heldout_bit_accuracy" if binary else "heldout_mse"): best if binary else -best}
    return bridge.eval(), summary
