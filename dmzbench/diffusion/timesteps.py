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
        if not bool((self.loss_counts == self.history_len).all()):
            return torch.full((self.num_steps,), 1.0 / self.num_steps, dtype=torch.float64)
        w = self.loss_history.pow(2).mean(-1).sqrt()
        w = w / w.sum()
        return w * (1 - self.uniform_prob) + self.uniform_prob / self.num_steps

    def sample(self, batch_size: int, device: torch.device) -> tuple[Tensor, Tensor]:
        p = self.probabilities().cpu()
        t = torch.multinomial(p, batch_size, replacement=True)
        weights = 1.0 / (self.num_steps * p[t])
        return t.to(device), weights.float().to(device)

    @torch.no_grad()
    def update(self, t: Tensor, losses: Tensor) -> None:
        history, counts = self.loss_history, self.loss_counts
        for ti, loss in zip(t.tolist(), losses.detach().double().tolist()):
            if counts[ti] == self.history_len:
                history[ti, :-1] = history[ti, 1:].clone()
                history[ti, -1] = loss
            else:
                history[ti, counts[ti]] = loss
                counts[ti] += 1
