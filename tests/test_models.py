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
    from dmzbench.baselines.dmz import DMZ

    model = DMZ().build("cifar10-paper", DataSpec("cifar10", 32, 3, 10))
    n = sum(p.numel() for p in model.unet.parameters())
    assert abs(n - 68.6e6) / 68.6e6 < 0.01, n


def test_dmz_code_is_one_cross_attention_token():
    from dmzbench.baselines.dmz import DMZ

    model = DMZ().build("init", DataSpec("fashion-mnist", 32, 1, 10))
    assert model.unet.config.cross_attention_dim == 2 * model.cfg.bits
    assert model.unet.config.out_channels == 2  # learned variance
    assert model.unet.config.resnet_time_scale_shift == "scale_shift"
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    model.train()
    code = model.encoder.relaxed_code(x)
    assert code.shape == (2, 32)
    torch.testing.assert_close(code.view(2, 16, 2).sum(-1), torch.ones(2, 16))  # relaxed one-hot pairs


def test_dmz_training_loss_is_finite_and_has_gradients_into_encoder():
    from dmzbench.baselines.dmz import DMZ

    model = DMZ().build("init", DataSpec("fashion-mnist", 32, 1, 10)).train()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    loss = model.training_loss(x, torch.zeros(4), x)
    loss.backward()
    assert torch.isfinite(loss)
    assert model.encoder.proj.weight.grad.abs().sum() > 0


def _count(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


def test_diffae_celeba64_paper_has_90_8M_parameters():
    from dmzbench.baselines.diffae import DiffAE

    m = DiffAE().build("celeba64-paper", DataSpec("celeba64", 64, 3, 40))
    n = _count(m.encoder, m.unet)
    assert abs(n - 90.8e6) / 90.8e6 < 0.01, n


def test_sdvae_kl_f8_paper_has_83_65M_parameters():
    from dmzbench.baselines.sdvae import SDVAE

    m = SDVAE().build("kl-f8-paper", DataSpec("imagenet256", 256, 3, 1000))
    assert abs(_count(m.vae) - 83.65e6) / 83.65e6 < 0.01


def test_pdae_matches_the_official_shift_unet_and_encoder_parameter_counts():
    """Counts of the official modules, instantiated on CPU from ckczzj/PDAE at commit 4f9c29a (model/shift_unet.py
    ShiftUNet, model/representation_learning/encoder/celeba64.py CELEBA64Encoder(latent_dim=512)) at the celeba64 config:
    latent_dim 512, 3 channels, and the CelebA-64 DPM shape base_channel 64, channel_multiplier [1, 2, 4, 8], 2 residual
    blocks, attention at downsample rate 4 (16 px) - the DPM's own config.yml comes with the pre-trained weights (Google
    Drive), not the repository, so the shape is DiffAE's CelebA-64 UNet. Trainable = label_emb + shift_middle_block +
    shift_output_blocks + shift_out (trainer/train_representation_learning.py's optimiser groups), of which label_emb
    is Linear(512, 256) = 131,328; frozen = time_embed + input_blocks + middle_block + output_blocks + out."""
    from dmzbench.baselines.pdae import PDAE, PDAEModel
    from dmzbench.nn.adm_presets import ADMShape

    shape = ADMShape(channels=64, channel_mult=(1, 2, 4, 8), num_res_blocks=2, attention_resolutions=(16,), dropout=0.1)
    m = PDAEModel(PDAE.presets["cifar10-paper"], shape, DataSpec("celeba64", 64, 3, 40))
    assert _count(m.estimator) == 52_007_811
    assert _count(m.estimator.cond_embed) == 131_328
    assert _count(m.unet) == 63_958_019
    assert _count(m.encoder) == 1_487_104


def test_paper_preset_refuses_the_wrong_image_size():
    from dmzbench.baselines.diffae import DiffAE
    from dmzbench.errors import UsageError

    with pytest.raises(UsageError, match="64 px"):
        DiffAE().build("celeba64-paper", DataSpec("fashion-mnist", 32, 1, 10))


def test_pdae_loss_weights_match_the_official_formulas():
    import numpy as np

    from dmzbench.baselines.pdae import PDAE

    m = PDAE().build("init", DataSpec("fashion-mnist", 32, 1, 10))
    d = m.diffusion
    t = 500
    snr = d.alphas_cumprod[t] / (1 - d.alphas_cumprod[t])
    assert m.weight[t] == pytest.approx(snr**0.1 / (1 + snr))
    expected = -np.sqrt(1 - d.betas[t]) * (1 - d.alphas_cumprod[t - 1]) / np.sqrt(1 - d.alphas_cumprod[t])
    assert m.shift_coef[t] == pytest.approx(expected)
    assert not any(p.requires_grad for p in m.unet.parameters())  # the pre-trained DPM is frozen


def test_diffae_two_condition_resblock_formula():
    """h = GN(h)*(1+t_scale)+t_shift, then h*(1+z_scale): check against a hand computation."""
    import torch.nn.functional as F

    from dmzbench.nn.adm_unet import ResBlockTwoCond

    blk = ResBlockTwoCond(4, 4, emb_dim=3, cond_dim=2, cond="scale", dropout=0.0).eval()
    torch.nn.init.normal_(blk.out_conv.weight)
    x, emb, z = torch.randn(1, 4, 5, 5), torch.randn(1, 3), torch.randn(1, 2)
    h = blk.out_norm(blk.in_conv(F.silu(blk.in_norm(x))))
    scale, shift = blk.emb(F.silu(emb))[..., None, None].chunk(2, 1)
    h = (h * (1 + scale) + shift) * (1 + blk.cond_proj(F.silu(z))[..., None, None])
    torch.testing.assert_close(blk(x, emb, z), x + blk.out_conv(F.silu(h)))
