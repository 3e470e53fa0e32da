"""The optional learning-rate schedule of a TrainStage: linear warm-up, then constant or cosine to ``final_lr``."""

import math

import torch
from torch import nn

from dmzbench.api import TrainStage
from dmzbench.train import Trainer
from tests.conftest import tiny_data


def _stage(module, steps, **kw):
    return TrainStage("s", module, lambda x, y, c: (module(x.flatten(1)[:, :4]) ** 2).mean(), steps, 4, 1e-2, **kw)


def test_schedule_is_off_by_default_and_warms_up_then_decays():
    m = nn.Linear(4, 1)
    assert [_stage(m, 10).lr_at(s) for s in range(10)] == [1e-2] * 10
    warm = _stage(m, 10, warmup_steps=4)
    assert [warm.lr_at(s) for s in range(5)] == [2.5e-3, 5e-3, 7.5e-3, 1e-2, 1e-2]
    cos = _stage(m, 104, warmup_steps=4, final_lr=1e-5)
    assert math.isclose(cos.lr_at(4), 1e-2) and math.isclose(cos.lr_at(54), (1e-2 + 1e-5) / 2)
    assert math.isclose(cos.lr_at(104), 1e-5) and cos.lr_at(80) < cos.lr_at(60)


def test_trainer_applies_the_schedule(tmp_path):
    """The optimiser's lr after the last step is the schedule's: without the schedule the warm-up stage would move the
    weights as much as the constant one."""
    data = tiny_data()
    moved = {}
    for name, kw in {"constant": {}, "warmup": {"warmup_steps": 1000}}.items():
        torch.manual_seed(0)
        m = nn.Linear(4, 1)
        before = m.weight.detach().clone()
        Trainer(torch.device("cpu"), progress=False).fit(m, [_stage(m, 3, ema_decay=0.0, **kw)], data,
                                                         tmp_path / f"{name}.pt", {}, seed=0)
        moved[name] = (m.weight.detach() - before).abs().sum().item()
    assert 0 < moved["warmup"] < moved["constant"] / 50
