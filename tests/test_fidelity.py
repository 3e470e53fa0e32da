"""Each family follows its official code where docs/fidelity.md says it does: PDAE's sampler rules, SD-VAE's frozen
logvar, DGAE's KL scaling, DiffAE's latent MLP, the flip, the presets' latent sizes."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from dmzbench.baselines.dgae import DGAE
from dmzbench.baselines.diffae import DiffAE
from dmzbench.baselines.pdae import PDAE, STOP_PERCENT, PDAEEncoder
from dmzbench.baselines.sdvae import SDVAE
from dmzbench.api import DataSpec
from dmzbench.augment import flips, random_flip
from dmzbench.diffusion import ddim_grid
from dmzbench.nn.latent_diffusion import LatentDiffusion, LatentMLPSkip, training_latents
from dmzbench.train import Trainer
from tests.conftest import tiny_data

FMNIST = DataSpec("fashion-mnist", 32, 1, 10)


def _built(baseline, preset="init", spec=FMNIST):
    torch.manual_seed(0)
    model = baseline.build(preset, spec).eval()
    return model, baseline.adapter(model, preset, spec)


# ------------------------------------------------------------------------------------------------------------- PDAE
def test_pdae_latent_ddim_clamps_z_T_and_every_predicted_z0():
    """PDAE latent_diffusion_sample: z_T.clamp_(-1, 1); latent_ddim_sample_loop goes through ddim_sample, which clamps
    the predicted z0. A wild eps-model would otherwise throw z far outside [-1, 1]."""
    seen = []

    class Wild(nn.Module):
        def forward(self, z, t):
            seen.append(z.clone())
            return 30 * torch.ones_like(z)

    model, _ = _built(PDAE())
    latent = model.latent
    assert latent.clamp and latent.grid == "pdae"
    latent.denoiser = Wild()
    z = latent.sample(8, 10, torch.Generator().manual_seed(0))
    assert seen[0].abs().max() <= 1.0 and len(seen) == 10
    assert z.abs().max() <= 1.1  # mean 0, std 1 at init: z0 clamped, plus sqrt(1 - 0.992) of the re-derived eps


def official_pdae_timestep_map(num_steps: int, k: int) -> list[int]:
    """ckczzj/PDAE diffusion/gaussian_diffusion.py, get_ddim_betas_and_timestep_map("ddimK"), as it computes it."""
    return sorted(set(int(s) for s in list(np.linspace(0, num_steps - 1, k + 1))))


def official_pdae_g_timesteps(num_steps: int, k: int, stop_percent: float) -> set[int]:
    """ckczzj/PDAE diffusion/ddim.py, shift_ddim_sample_loop: the DDIM's ``timesteps`` is len(map) - 1,
    stop_step = int(stop_percent * timesteps), and index i (= K..1, evaluating timestep_map[i]) uses G iff
    (i - 1) >= stop_step."""
    timestep_map = official_pdae_timestep_map(num_steps, k)
    timesteps = len(timestep_map) - 1
    stop_step = int(stop_percent * timesteps)
    return {timestep_map[i] for i in reversed(range(1, timesteps + 1)) if (i - 1) >= stop_step}


@pytest.mark.parametrize("k", [10, 20, 50, 100])
def test_pdae_image_and_latent_ddim_run_on_the_official_timestep_map(k):
    timestep_map = official_pdae_timestep_map(1000, k)
    grid = ddim_grid("pdae", 1000, k)
    assert list(grid.timesteps) == timestep_map
    assert list(grid.evaluated) == timestep_map[:0:-1]  # indices K..1: t = 0 is only the end point
    model, adapter = _built(PDAE())
    seen = []
    real = model.frozen_eps
    model.frozen_eps = lambda x, t: seen.append(int(t[0])) or real(x, t)
    adapter.decode(torch.zeros(1, model.z_dim), k)
    assert seen == timestep_map[:0:-1]

    class Recording(nn.Module):
        def forward(self, z, t):
            seen.append(int(t[0]))
            return torch.zeros_like(z)

    seen.clear()
    model.latent.denoiser = Recording()
    model.latent.sample(2, k, torch.Generator().manual_seed(0))
    assert seen == timestep_map[:0:-1]


@pytest.mark.parametrize("k", [10, 20, 50, 100])
def test_pdae_uses_g_where_the_official_stop_percent_rule_does(k):
    model, adapter = _built(PDAE())
    x = torch.zeros(1, 1, 32, 32)
    model.frozen_eps = lambda x_t, t: (torch.zeros_like(x_t), [], None)

    class UnitG(nn.Module):  # any nonzero G: eps' != 0 exactly where G is used
        def forward(self, hs, emb, z):
            return torch.ones_like(x)

    model.estimator = UnitG()
    z = torch.zeros(1, model.z_dim)

    def with_g(generating: bool) -> set[int]:
        eps = adapter.denoiser(z, k, generating=generating)
        return {t for t in ddim_grid("pdae", 1000, k).evaluated if eps(x, torch.tensor([t])).abs().max() > 0}

    assert with_g(generating=True) == official_pdae_g_timesteps(1000, k, STOP_PERCENT)
    everywhere = set(ddim_grid("pdae", 1000, k).evaluated)
    assert with_g(generating=False) == official_pdae_g_timesteps(1000, k, 0.0) == everywhere
    if k == 10:  # the worked case: G at 7 of 10 steps, t = 999, 899, ..., 399
        assert sorted(with_g(generating=True)) == list(range(399, 1000, 100))


def test_pdae_uses_g_at_every_step_except_when_decoding_a_generated_z():
    model, adapter = _built(PDAE())
    calls = []
    real = adapter.denoiser
    adapter.denoiser = lambda z, steps, generating=False: calls.append(generating) or real(z, steps, generating=generating)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    adapter.reconstruct(x, steps=2, x_T="inferred", invert_steps=2)
    adapter.interpolate(x[0], x[1], frames=3, steps=2, seed=0, invert_steps=2)
    assert calls and not any(calls) and adapter.g_threshold(10, generating=False) == 0
    calls.clear()
    adapter.generate(2, steps=2)
    assert calls == [True]


def test_pdae_estimator_projects_z_once_and_diffae_feeds_z_to_each_block():
    """ckczzj/PDAE model/shift_unet.py: shift_emb = label_emb(z) with label_emb = Linear(latent_dim, 4 * ch), and each
    ResBlockShift (model/module.py) applies SiLU -> Linear(4 * ch, 2 * out) to it. DiffAE's blocks read z itself."""
    model, _ = _built(PDAE())
    ch = model.unet.cfg.channels
    proj = model.estimator.cond_embed
    assert isinstance(proj, nn.Linear) and (proj.in_features, proj.out_features) == (model.z_dim, 4 * ch)
    blocks = [m for m in model.estimator.modules() if hasattr(m, "cond_proj")]
    assert blocks and all(b.cond_proj.in_features == 4 * ch for b in blocks)
    assert all(p.requires_grad for p in proj.parameters())
    diffae, _ = _built(DiffAE())
    blocks = [m for m in diffae.unet.modules() if hasattr(m, "cond_proj")]
    assert blocks and all(b.cond_proj.in_features == diffae.cfg.z_dim for b in blocks)
    assert diffae.unet.decoder.cond_embed is None


def test_pdae_decoder_runs_on_pdae_grid_and_recon_inverts_with_official_counts():
    _, pdae = _built(PDAE())
    _, diffae = _built(DiffAE())
    assert pdae.ddim_grid == "pdae" and diffae.ddim_grid == "diffae"
    assert pdae.invert_steps_for("recon", 100) == 1000 and pdae.invert_steps_for("interp", 20) == 100
    assert diffae.invert_steps_for("recon", 100) == 100 and diffae.invert_steps_for("interp", 20) == 250
    seen = []
    real = diffae.model.unet.forward
    diffae.model.unet.forward = lambda x, t, z: seen.append(int(t[0])) or real(x, t, z)
    diffae.decode(torch.zeros(1, 512), 10)
    assert seen == list(range(900, -1, -100))


@pytest.mark.parametrize("size, stride2", [(64, 4), (32, 3)])
def test_pdae_encoder_downsamples_to_4x4_with_4_head_attention(size, stride2):
    enc = PDAEEncoder(size, 3, 64, 512)
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert sum(c.stride == (2, 2) for c in convs) == stride2 and len(convs) == 4
    assert enc.proj.in_features == 128 * 4 * 4
    attn = [m for m in enc.modules() if m.__class__.__name__ == "AttentionBlock"]
    assert len(attn) == 1 and attn[0].heads == 4
    assert enc(torch.zeros(2, 3, size, size)).shape == (2, 512)


# ------------------------------------------------------------------------------------------------------------ SD-VAE
def test_sdvae_logvar_is_not_trained_and_the_autoencoder_has_no_ema(tmp_path):
    data = tiny_data(n=16)
    b = SDVAE()
    model, _ = _built(b, "smoke")
    stage = dataclasses.replace(b.stages(model, "smoke", data.spec)[0], steps=2, batch_size=4)
    assert stage.ema_decay == 0.0
    before = {k: v.clone() for k, v in model.vae.state_dict().items()}
    Trainer(torch.device("cpu"), progress=False).fit(model, [stage], data, tmp_path / "c.pt", {}, seed=0)
    assert float(model.loss_scale.logvar) == 0.0
    assert any(not torch.equal(before[k], v) for k, v in model.vae.state_dict().items())


def test_sdvae_paper_latent_stage_follows_the_kl_f8_ldm_config():
    """CompVis/latent-diffusion configs/latent-diffusion/lsun_churches-ldm-kl-8.yaml: base_learning_rate 5.0e-5 (the
    target lr, main.py --scale_lr False), loss_type l1, linear_start 0.0015, linear_end 0.0155 with
    make_beta_schedule("linear") = linspace(start ** 0.5, end ** 0.5, T) ** 2, batch_size 96, model_channels 192,
    channel_mult [1, 2, 2, 4, 4], num_res_blocks 2, warm_up_steps 10000; LatentDiffusion.configure_optimizers:
    torch.optim.AdamW(params, lr=lr), i.e. weight decay 0.01; ldm/data/lsun.py LSUNBase flip_p 0.5."""
    spec = DataSpec("imagenet256", 256, 3, 1000)
    with torch.device("meta"):  # the shapes and settings only: no 350M-parameter initialisation
        model = SDVAE().build("kl-f8-paper", spec)
    stage = SDVAE().stages(model, "kl-f8-paper", spec)[1]
    assert (stage.lr, stage.batch_size, stage.weight_decay, stage.warmup_steps) == (5e-5, 96, 0.01, 10_000)
    assert model.latent.loss_type == "l1"
    np.testing.assert_allclose(model.latent.diffusion.betas,
                               np.linspace(0.0015**0.5, 0.0155**0.5, 1000, dtype=np.float64) ** 2, rtol=1e-12)
    unet = model.latent.denoiser.config
    assert tuple(unet.block_out_channels) == (192, 384, 384, 768, 768) and unet.layers_per_block == 2
    assert model.latent_shape == (4, 32, 32)  # image_size 32, channels 4 in the config
    assert SDVAE().preset_config("kl-f8-paper")["latent_flip"] is True
    smoke = SDVAE().preset_config("smoke")  # the short presets keep their toolkit choices
    assert (smoke["latent_loss"], smoke["latent_betas"], smoke["latent_weight_decay"], smoke["latent_flip"]) == (
        "l2", "linear", 0.0, False)


@pytest.mark.parametrize("preset, flipped", [("smoke", False), ("smoke+latent_flip=true", True)])
def test_sdvae_latent_stage_flips_its_images_where_the_preset_says(preset, flipped):
    model, _ = _built(SDVAE(), preset)
    seen = []
    model.posterior_sample = lambda x: seen.append(x) or model.vae.encode(x).latent_dist.sample()
    stage = SDVAE().stages(model, preset, FMNIST)[1]
    x = torch.rand(32, 1, 32, 32) * 2 - 1
    torch.manual_seed(0)
    stage.loss(x, torch.zeros(32), x)
    mirrored = [not torch.equal(a, b) for a, b in zip(seen[0], x)]
    assert any(mirrored) == flipped
    assert all(torch.equal(a, b.flip(-1)) for a, b, m in zip(seen[0], x, mirrored) if m)


# -------------------------------------------------------------------------------------------------------------- DGAE
def test_dgae_kl_is_weighted_per_pixel_value_like_sdvae():
    model, _ = _built(DGAE(), "smoke")
    x = torch.rand(4, 1, 32, 32) * 2 - 1

    def loss(kl_weight):
        model.cfg = dataclasses.replace(model.cfg, kl_weight=kl_weight)
        torch.manual_seed(1)
        return model.autoencoder_loss(x, None, x).item()

    torch.manual_seed(1)
    kl_sum = model.posterior(x).kl().sum().item()  # the first draw of the loss is the same posterior
    assert math.isclose(loss(1.0) - loss(0.0), kl_sum / x.numel(), rel_tol=1e-4)


def test_equal_latent_size_presets_have_the_papers_compression():
    """DGAE f16 x 16 channels vs SD-VAE f8 x 4 channels: 64 latent values each at 32 px (4096 each at 256 px)."""
    dgae, _ = _built(DGAE(), "small-f16c16")
    sdvae, _ = _built(SDVAE(), "small-f8c4")
    assert dgae.latent_shape == (16, 2, 2) and sdvae.latent_shape == (4, 4, 4)
    assert DGAE().stages(dgae, "small-f16c16", FMNIST)[0].lr_at(0) == DGAE().preset_config("small")["lr"]
    dgae.cfg = DGAE.presets["b-paper"]  # stages read the built model's preset (b-paper is a 256 px model)
    b = DGAE().stages(dgae, "b-paper", FMNIST)[0]
    assert b.warmup_steps == 10_000 and b.final_lr == 1e-5


# ------------------------------------------------------------------------------------------------------------ DiffAE
def test_diffae_latent_mlp_has_silu_before_each_time_condition_and_kaiming_init():
    torch.manual_seed(0)
    net = LatentMLPSkip(512, 2048, 3)
    std = net.linears[0].weight.std().item()
    assert abs(std - math.sqrt(2 / 512)) < 0.05 * math.sqrt(2 / 512)  # PyTorch's default would be 1/sqrt(3*512)
    z, t = torch.randn(2, 512), torch.tensor([5, 500])
    from dmzbench.nn.adm_unet import timestep_embedding

    emb = net.time_embed(timestep_embedding(t, net.time_channels))
    h = net.linears[0](z)
    h = torch.nn.functional.silu(net.norms[0](h * (1 + net.conds[0](torch.nn.functional.silu(emb)))))
    h = net.linears[1](torch.cat([h, z], 1))
    h = torch.nn.functional.silu(net.norms[1](h * (1 + net.conds[1](torch.nn.functional.silu(emb)))))
    torch.testing.assert_close(net(z, t), net.linears[2](torch.cat([h, z], 1)))


def test_diffae_and_pdae_latent_stages_decay_weights_and_paper_presets_use_the_whole_training_set():
    """DiffAE's adamw_weight_decay and PDAE's config/celeba64_latent.yml (AdamW, weight_decay 0.01)."""
    for baseline in (DiffAE(), PDAE()):
        model, _ = _built(baseline, "smoke")
        assert baseline.stages(model, "smoke", FMNIST)[1].weight_decay == 0.01, baseline.name
        assert {baseline.preset_config(p)["latent_weight_decay"] for p in baseline.presets} == {0.01}, baseline.name
    for baseline, preset in [(DiffAE(), "celeba64-paper"), (DiffAE(), "small"), (PDAE(), "cifar10-paper"),
                             (SDVAE(), "small"), (DGAE(), "small")]:
        assert baseline.preset_config(preset)["stats_images"] is None, (baseline.name, preset)
    data = tiny_data(n=40)
    assert len(training_latents(lambda x: x.flatten(1), data, torch.device("cpu"), batch_size=16)) == 40


# -------------------------------------------------------------------------------------------------------------- flip
def test_random_flip_mirrors_about_half_and_the_pair_together():
    torch.manual_seed(0)
    x = torch.arange(64 * 4, dtype=torch.float32).view(64, 1, 2, 2)
    src = -x
    got = {}
    random_flip(lambda a, _y, c: got.update(x=a, c=c) or a.sum())(x, None, src)
    flipped = (got["x"] != x).flatten(1).any(1)
    assert 16 < int(flipped.sum()) < 48
    torch.testing.assert_close(got["c"], -got["x"])  # the source image flips with its target
    random_flip(lambda a, _y, c: got.update(same=c is a) or a.sum())(x, None, x)
    assert got["same"]


def test_flip_follows_the_official_codes_and_never_touches_shapes():
    from dmzbench.baselines.ddpm import DDPM
    from dmzbench.baselines.dmz import DMZ

    on = {b.name: b.preset_config("smoke")["flip"] for b in (DMZ(), DiffAE(), PDAE(), DDPM(), SDVAE())}
    assert on == {"dmz": True, "diffae": True, "pdae": True, "ddpm": True, "sdvae": False}
    assert flips(True, FMNIST) and not flips(True, DataSpec("shapes", 32, 3, 0)) and not flips(False, FMNIST)


# ------------------------------------------------------------------------------------------------------------- tasks
@pytest.mark.fashion_mnist
def test_recon_and_interp_record_the_inversion_steps(tmp_path):
    from dmzbench.run.runner import run_task

    def run(model, task, options):
        return run_task(model, task, preset="init", device=torch.device("cpu"), results_dir=tmp_path, progress=False,
                        overrides=options)

    rec = run("pdae", "recon", ["n_images=2", "steps=2", "invert_steps=3", "batch_size=2"])
    assert rec.task["details"]["invert_steps"] == 3 and "psnr_inferred" in rec.metrics
    rec = run("diffae", "recon", ["n_images=2", "steps=2", "x_T=inferred", "batch_size=2"])
    assert rec.task["details"]["invert_steps"] == 2  # DiffAE's evaluate_lpips inverts with the decoder's count
    rec = run("diffae", "interp", ["n_pairs=1", "frames=3", "steps=2", "invert_steps=4"])
    assert rec.task["details"]["invert_steps"] == 4
    assert "invert_steps" not in run("dmz", "recon", ["n_images=2", "steps=2"]).task["details"]
