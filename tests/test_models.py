"""Every registered model gets the conformance suite; family-specific facts follow."""

import pytest
import torch

from dmzbench import conformance, registry
from dmzbench.api import DataSpec


@pytest.mark.parametrize("check", sorted(conformance.CHECKS))
@pytest.mark.parametrize("model", registry.names("model"))
def test_conformance(model, check):
    subject = conformance.subject_for(registry.get("model", model)())
    with torch.no_grad():
        reason = conformance.CHECKS[check](subject)
    assert reason is None, f"{model}: {reason}"


def test_dmz_paper_unet_has_68_6M_parameters():
    from baselines.dmz import DMZ

    model = DMZ().build("cifar10-paper", DataSpec("cifar10", 32, 3, 10))
    n = sum(p.numel() for p in model.unet.parameters())
    assert abs(n - 68.6e6) / 68.6e6 < 0.01, n


def test_dmz_code_is_one_cross_attention_token():
    from baselines.dmz import DMZ

    model = DMZ().build("init", DataSpec("fashion-mnist", 32, 1, 10))
    assert model.unet.config.cross_attention_dim == 2 * model.cfg["bits"]
    assert model.unet.config.out_channels == 2  # learned variance
    assert model.unet.config.resnet_time_scale_shift == "scale_shift"
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    model.train()
    code = model.encoder.relaxed_code(x)
    assert code.shape == (2, 32)
    torch.testing.assert_close(code.view(2, 16, 2).sum(-1), torch.ones(2, 16))  # relaxed one-hot pairs


def test_dmz_training_loss_is_finite_and_has_gradients_into_encoder():
    from baselines.dmz import DMZ

    model = DMZ().build("init", DataSpec("fashion-mnist", 32, 1, 10)).train()
    loss = model.training_loss(torch.rand(4, 1, 32, 32) * 2 - 1, torch.zeros(4))
    loss.backward()
    assert torch.isfinite(loss)
    assert model.encoder.proj.weight.grad.abs().sum() > 0
