"""DMZ against the official exlab-research/dmz code: 64 px presets, the size guard, the official latent form and
interpolation path."""

import pytest
import torch

from dmzbench.baselines.dmz import DMZ, down_block_types
from dmzbench.api import DataSpec
from dmzbench.errors import UsageError

CELEBA64 = DataSpec("celeba64", 64, 3, 2)


def _meta_build(preset: str, spec: DataSpec):
    with torch.device("meta"):  # shapes only: a 400M-parameter model costs no memory or init time
        return DMZ().build(preset, spec)


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_celeba64_paper_unet_has_409M_parameters():
    model = _meta_build("celeba64-paper", CELEBA64)
    n = _count(model.unet)
    assert abs(n - 409e6) / 409e6 < 0.005, n  # MODELS.md: the official 64 px configuration has 409M parameters
    cfg = model.unet.config
    assert tuple(cfg.block_out_channels) == (192, 384, 576, 768)
    assert cfg.cross_attention_dim == 2 * 64 and cfg.attention_head_dim == 64
    assert list(cfg.down_block_types) == ["DownBlock2D"] + ["CrossAttnDownBlock2D"] * 3
    assert model.encoder.proj.out_features == 2 * 64 and len(model.encoder.layers) == 3 * 5  # widths 32..512
    assert model.cfg.input_perturbation == 0.1 and model.cfg.dropout == 0.1


def test_edges2handbags_paper_cross_attends_at_one_level_only():
    """--one_cross_attention 2: level 2 cross-attends to z, levels 1 and 3 keep self-attention (official create_model)."""
    edges, bags = _meta_build("edges2handbags-paper", DataSpec("edges", 64, 1, 2)), _meta_build(
        "edges2handbags-paper", DataSpec("bags", 64, 3, 2))
    assert list(edges.unet.config.down_block_types) == ["DownBlock2D", "AttnDownBlock2D", "CrossAttnDownBlock2D",
                                                        "AttnDownBlock2D"]
    assert list(edges.unet.config.up_block_types) == ["AttnUpBlock2D", "CrossAttnUpBlock2D", "AttnUpBlock2D",
                                                      "UpBlock2D"]
    assert edges.unet.config.cross_attention_dim == 2 * 256 and edges.encoder.proj.out_features == 2 * 256
    assert edges.unet.config.in_channels == 1 and bags.unet.config.in_channels == 3
    # self-attention blocks have no key/value projections of z: fewer parameters than all-levels cross-attention
    assert _count(bags.unet) < _count(_meta_build("celeba64-paper", CELEBA64).unet)


def test_existing_presets_keep_their_block_types():
    assert down_block_types(DMZ.presets["smoke"]) == ["DownBlock2D", "CrossAttnDownBlock2D",
                                                              "CrossAttnDownBlock2D"]


@pytest.mark.parametrize("preset, spec", [("celeba64-paper", DataSpec("fashion-mnist", 32, 1, 10)),
                                          ("cifar10-paper", CELEBA64),
                                          ("edges2handbags-paper", DataSpec("edges2fashion", 32, 1, 10))])
def test_build_refuses_a_preset_made_for_another_image_size(preset, spec):
    with pytest.raises(UsageError, match=f"preset {preset} is for") as err:
        DMZ().build(preset, spec)
    assert "\n" not in str(err.value)


def test_encode_sample_is_the_official_soft_gumbel_pairs():
    """ddpm_eval.py saves encode(img).hidden: one soft Gumbel-softmax sample, flattened pairs (B, 2d)."""
    model = DMZ().build("init", DataSpec("fashion-mnist", 32, 1, 10)).eval()
    adapter = DMZ().adapter(model, "init", model.spec)
    x = torch.rand(400, 1, 32, 32) * 2 - 1
    s1 = adapter.encode_sample(x, generator=torch.Generator().manual_seed(1))
    s2 = adapter.encode_sample(x, generator=torch.Generator().manual_seed(1))
    s3 = adapter.encode_sample(x, generator=torch.Generator().manual_seed(2))
    assert s1.shape == (400, 32) and torch.equal(s1, s2) and not torch.equal(s1, s3)
    pairs = s1.view(400, 16, 2)
    torch.testing.assert_close(pairs.sum(-1), torch.ones(400, 16))
    # thresholding the soft sample at 0.5 is a Bernoulli(p) draw of each bit: its mean is p
    p = adapter.encode(x)
    hard = (pairs[..., 1] > 0.5).float()
    assert (hard.mean(0) - p.mean(0)).abs().max() < 0.1
    assert not torch.equal(hard, (p > 0.5).float())  # a sample, not the most likely code


def test_interpolation_codes_follow_interpolate_z():
    """ddpm_eval.py interpolate_z: inner frame k flips the first floor(k * n_differ / (frames - 1)) differing bits."""
    from dmzbench.baselines.dmz import interpolation_codes

    a = torch.zeros(10)
    b = torch.tensor([1.0, 0, 1, 1, 0, 1, 1, 0, 1, 1])  # 7 differing bits, at 0, 2, 3, 5, 6, 8, 9
    path = interpolation_codes(a, b, frames=5)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert [int((p != a).sum()) for p in path] == [0, 1, 3, 5, 7]  # floor(1.75), floor(3.5), floor(5.25)
    assert torch.equal(path[2], torch.tensor([1.0, 0, 1, 1, 0, 0, 0, 0, 0, 0]))  # index order


def test_interpolate_starts_from_sampled_codes():
    """The official path thresholds a posterior sample, not the most likely code."""
    from dmzbench.baselines.dmz import one_hot_pairs

    model = DMZ().build("init", DataSpec("fashion-mnist", 32, 1, 10)).eval()
    adapter = DMZ().adapter(model, "init", model.spec)
    seen = []
    adapter.decode = lambda code, steps, g: seen.append(code) or torch.zeros(len(code), 1, 32, 32)
    a, b = torch.rand(2, 1, 32, 32) * 2 - 1
    adapter.interpolate(a, b, frames=4, steps=1, seed=7)
    expected = torch.bernoulli(adapter.encode(torch.stack([a, b])), generator=torch.Generator().manual_seed(7))
    assert torch.equal(seen[0], one_hot_pairs(expected[:1])) and torch.equal(seen[-1], one_hot_pairs(expected[1:]))


# The official exlab-research/dmz training loss on this batch, t, noise, perturbation and Gumbel draw, with our weights.
# How it was obtained (CPU, fp32, torch 2.x, diffusers 0.42): in a scratch folder outside the repository, the official
# loss path was taken verbatim - dmz/gaussian_diffusion.py (GaussianDiffusion.p_mean_variance, _vb_terms_bpd,
# training_losses, SpacedDiffusion) at 1d740e1 and dmz/models.py (BernoulliEncoder, DiffDecoder) at fc2e952 - on
# DDPM-IP's guided_diffusion (forever208/DDPM-IP at 1f76719, which holds input_pertub). DiffDecoder was built with this
# preset's shapes (z_via_cross_att, learned-range output, attention_head_dim 4, widths 32 x (1, 2, 2), encoder
# 32..256; 2,157,570 parameters, the same as ours), our encoder and UNet weights loaded into it, and
# SpacedDiffusion(cosine, learned_range, RESCALED_MSE, input_pertub 0.15) evaluated
# (training_losses(...)["loss"] * weights).mean() on the t, noise and perturbation that our training_loss drew under
# torch.manual_seed(1), with the official encoder's Gumbel-softmax fed our one Gumbel draw (it draws two and trains on
# the second: docs/fidelity.md). Result 1.1501706838607788; ours the same, 0.0 apart. (A t = 0 batch differs by 0.05%:
# the official decoder likelihood uses guided-diffusion's tanh approximation of the normal CDF, ours the exact one.)
OFFICIAL_LOSS = 1.1501706838607788


def test_dmz_training_loss_equals_the_official_codes_on_a_fixed_batch():
    torch.manual_seed(0)
    model = DMZ().build("init", DataSpec("fashion-mnist", 32, 1, 10)).train()
    x = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(123)) * 2 - 1
    torch.manual_seed(1)  # draws, in order: the Gumbel noise, t, eps, the perturbation
    loss = model.training_loss(x, torch.zeros(8), x)
    assert loss.item() == pytest.approx(OFFICIAL_LOSS, rel=1e-5)
