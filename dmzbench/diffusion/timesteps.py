"""Which timesteps a training batch sees: uniform, or I-DDPM's loss-second-moment importance sampling."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class UniformTimesteps:
    def __init__(self, num_steps: int):
        self.num_steps = num_steps

    def sample(self, batch_size: int, device: torch.device) -> tuple[Tensor, Tensor]:
        t = torch.randint(0, self.num_steps, (batch_size,), device=device)
        return t, torch.ones(batch_size, device=device)


class LossSecondMomentSampler(nn.Module):
    """p(t) proportional to sqrt(E[L_t^2]) over the last ``history`` losses of each t, mixed with 0.1% uniform.

    Uniform until every t has ``history`` losses (I-DDPM's warm-up). Returns importance weights 1 / (T p(t)) so that the
    weighted loss stays unbiased. The loss history is a buffer, so checkpoints carry it and resume is exact.
    """

    def __init__(self, num_steps: int, history: int = 10, uniform_prob: float = 0.001):
        super().__init__()
        self.num_steps, self.history_len, self.uniform_prob = num_steps, history, uniform_prob
        self.register_buffer("loss_history", torch.zeros(num_steps, history, dtype=torch.float64))
        self.register_buffer("loss_counts", torch.zeros(num_steps, dtype=torch.long))

    def probabilities(self) -> Tensor:
        # torch.where rather than an if on the counts: no host-device synchronisation inside the training step
        uniform = torch.full((self.num_steps,), 1.0 / self.num_steps, dtype=torch.float64, device=self.loss_counts.device)
        w = self.loss_history.pow(2).mean(-1).sqrt()
        w = w / w.sum().clamp(min=1e-300)
        mixed = w * (1 - self.uniform_prob) + self.uniform_prob / self.num_steps
        return torch.where((self.loss_counts == self.history_len).all(), mixed, uniform)

    def sample(self, batch_size: int, device: torch.device) -> tuple[Tensor, Tensor]:
        p = self.probabilities()
        t = torch.multinomial(p, batch_size, replacement=True)
        weights = 1.0 / (self.num_steps * p[t])
        return t.to(device), weights.float().to(device)

    @torch.no_grad()
    def update(self, t: Tensor, losses: Tensor) -> None:
        """Append each sample's loss to its t's history (the oldest dropped once ``history`` are held), in batch order,
        as I-DDPM's per-sample loop does, but with fixed-shape tensor ops: no host synchronisation on a GPU."""
        num, cap = self.num_steps, self.history_len
        t = t.to(self.loss_counts.device)
        t_sorted, order = torch.sort(t, stable=True)  # stable: repeats of one t keep their batch order
        new = losses.detach().to(self.loss_history)[order]
        added = torch.zeros(num, dtype=torch.long, device=t.device).scatter_add_(0, t, torch.ones_like(t))
        first = torch.cumsum(added, 0) - added  # where each t's run starts in t_sorted
        rank = torch.arange(len(t), device=t.device) - first[t_sorted]  # 0, 1, ... within a run of one t
        held = self.loss_counts
        dropped = (held + added - cap).clamp(min=0)  # oldest entries pushed out of each row
        # Old entry j moves to j - dropped; new entry r lands at held + r - dropped; anything < 0 is gone (column cap
        # is a scratch column that absorbs them).
        j = torch.arange(cap, device=t.device)
        old_pos = j[None, :] - dropped[:, None]
        old_pos = torch.where((j[None, :] < held[:, None]) & (old_pos >= 0), old_pos, cap)
        rows = torch.zeros(num, cap + 1, dtype=self.loss_history.dtype, device=t.device)
        rows.scatter_(1, old_pos, self.loss_history)
        new_pos = held[t_sorted] + rank - dropped[t_sorted]
        rows[t_sorted, torch.where(new_pos >= 0, new_pos, cap)] = new
        self.loss_history.copy_(rows[:, :cap])
        self.loss_counts.copy_((held + added).clamp(max=cap))
