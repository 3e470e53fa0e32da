"""The diffusion core against closed forms and against diffusers' schedulers."""

import math

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler
from torch.distributions import Normal, kl_divergence

from dmzbench.errors import UsageError
from dmzbench.diffusion import GaussianDiffusion, ddim_grid, named_betas, space_timesteps
from dmzbench.diffusion.gaussian import discretized_gaussian_log_likelihood
from dmzbench.diffusion.sampling import ancestral_sample, ddim_invert, ddim_sample
from dmzbench.diffusion.timesteps import LossSecondMomentSampler


@pytest.mark.parametrize("name,diffusers_name", [("cosine", "squaredcos_cap_v2"), ("linear", "linear")])
def test_schedules_match_diffusers(name, diffusers_name):
    ours = named_betas(name, 1000)
    theirs = DDPMScheduler(num_train_timesteps=1000, beta_schedule=diffusers_name).betas.double().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def _process():
    return GaussianDiffusion(named_betas("cosine", 1000))


def test_q_sample_closed_form():
    d = _process()
    x0, eps = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    t = torch.tensor([0, 10, 500, 999])
    abar = np.cumprod(1 - named_betas("cosine", 1000))[t.numpy()]
    expected = torch.tensor(np.sqrt(abar)).float().view(-1, 1, 1, 1) * x0 + torch.tensor(
        np.sqrt(1 - abar)
    ).float().view(-1, 1, 1, 1) * eps
    torch.testing.assert_close(d.q_sample(x0, t, eps), expected)


def test_posterior_is_bayes_rule():
    """q(x_{t-1}|x_t,x0) from the product of q(x_{t-1}|x0) and q(x_t|x_{t-1}), derived independently."""
    d = _process()
    betas = named_betas("cosine", 1000)
    abar = np.cumprod(1 - betas)
    x0, xt = torch.randn(3, 1, 2, 2).double(), torch.randn(3, 1, 2, 2).double()
    t = torch.tensor([1, 250, 998])
    mean, var, _ = d.q_posterior(x0.float(), xt.float(), t)
    for i, ti in enumerate(t.tolist()):
        prior_var, lik_var = 1 - abar[ti - 1], betas[ti]
        post_var = 1 / (1 / prior_var + (1 - betas[ti]) / lik_var)
        post_mean = post_var * (math.sqrt(abar[ti - 1]) * x0[i] / prior_var + math.sqrt(1 - betas[ti]) * xt[i] / lik_var)
        assert var[i].item() == pytest.approx(post_var, rel=1e-5)
        torch.testing.assert_close(mean[i].double(), post_mean, rtol=1e-4, atol=1e-5)


def test_learned_range_endpoints():
    d = _process()
    x, t = torch.randn(2, 1, 2, 2), torch.tensor([5, 700])
    for v, expected in ((1.0, np.log(d.betas)), (-1.0, d.posterior_log_variance_clipped)):
        out = d.p_mean_variance(torch.cat([torch.zeros_like(x), torch.full_like(x, v)], 1), x, t,
                                learned_variance=True, clip_x0=False)
        torch.testing.assert_close(out["log_variance"][:, 0, 0, 0], torch.tensor(expected[t.numpy()]).float())


def test_vb_term_is_gaussian_kl_in_bits():
    d = _process()
    x0, xt = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    out = torch.randn(3, 2, 4, 4).clamp(-1, 1)
    t = torch.tensor([3, 400, 999])
    vb = d.vb_terms_bpd(out, x0, xt, t)
    true_mean, true_var, _ = d.q_posterior(x0, xt, t)
    p = d.p_mean_variance(out, xt, t, learned_variance=True, clip_x0=False)
    kl = kl_divergence(Normal(true_mean, true_var.sqrt().expand_as(true_mean)),
                       Normal(p["mean"], (0.5 * p["log_variance"]).exp()))
    torch.testing.assert_close(vb, kl.flatten(1).mean(1) / math.log(2), rtol=1e-4, atol=1e-5)


def test_decoder_nll_matches_bin_probability():
    x = torch.tensor([-1.0, 0.0, 1.0, 0.2])
    mean, log_scale = torch.tensor([-0.9, 0.05, 0.8, 0.2]), torch.full((4,), math.log(0.1))
    ll = discretized_gaussian_log_likelihood(x, mean, log_scale)
    n = Normal(mean, torch.full((4,), 0.1))
    expected = torch.stack([
        n.cdf(x + 1 / 255)[0].log(), (n.cdf(x + 1 / 255) - n.cdf(x - 1 / 255))[1].log(),
        (1 - n.cdf(x - 1 / 255))[2].log(), (n.cdf(x + 1 / 255) - n.cdf(x - 1 / 255))[3].log(),
    ])
    torch.testing.assert_close(ll, expected, rtol=1e-4, atol=1e-5)


def test_hybrid_loss_vb_gradient_reaches_only_variance():
    d = _process()
    x0, noise = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    t = torch.tensor([10, 600])
    xt = d.q_sample(x0, t, noise)
    out = torch.zeros(2, 2, 4, 4, requires_grad=True)
    d.hybrid_loss(out, x0, xt, t, noise)["vb"].sum().backward()
    assert out.grad[:, :1].abs().sum() == 0 and out.grad[:, 1:].abs().sum() > 0


@pytest.mark.parametrize("steps", [10, 20, 50, 100])
def test_respacing_keeps_alpha_bar(steps):
    d = _process()
    ts = space_timesteps(1000, steps)
    assert len(ts) == steps and ts[0] == 0 and ts[-1] == 999
    np.testing.assert_allclose(d.respaced(ts).alphas_cumprod, d.alphas_cumprod[ts], rtol=1e-8)


@pytest.mark.parametrize("steps", [10, 20, 50, 100])
@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_samplers_recover_a_point_mass(steps, sampler):
    """With the exact denoiser of a one-point data distribution, every sampler must land on that point."""
    d = _process()
    target = torch.full((2, 1, 4, 4), 0.3)

    def exact(x, t_model):
        abar = torch.tensor(d.alphas_cumprod[t_model.numpy()]).float().view(-1, 1, 1, 1)
        eps = (x - abar.sqrt() * target) / (1 - abar).sqrt()
        return torch.cat([eps, torch.zeros_like(eps)], 1)

    g = torch.Generator().manual_seed(0)
    if sampler == "ancestral":
        x = ancestral_sample(exact, d, tuple(target.shape), steps, learned_variance=True, generator=g)
    else:
        x = ddim_sample(exact, d, tuple(target.shape), steps, learned_variance=True, generator=g)
    torch.testing.assert_close(x, target, atol=2e-3, rtol=0)


def iddpm_space_timesteps(num_steps: int, count: int) -> list[int]:
    """openai/improved-diffusion improved_diffusion/respace.py space_timesteps(T, [K]) for one section, as it computes
    it (guided-diffusion's and DDPM-IP's respace.py are the same): frac_stride = (size - 1) / (K - 1) (1 when K <= 1),
    cur_idx advanced by it, each taken step round(cur_idx)."""
    frac_stride = (num_steps - 1) / (count - 1) if count > 1 else 1
    cur_idx, taken = 0.0, []
    for _ in range(count):
        taken.append(round(cur_idx))
        cur_idx += frac_stride
    return sorted(set(taken))


def test_even_grid_is_iddpms_for_every_count_but_one():
    assert all(space_timesteps(1000, k) == iddpm_space_timesteps(1000, k) for k in range(2, 1001))
    assert space_timesteps(1000, 21)[10] == 499  # 10 * 49.95 = 499.5 rounds to 500; the summed index is just below
    assert iddpm_space_timesteps(1000, 1) == [0] and space_timesteps(1000, 1) == [999]  # docs/fidelity.md


def test_ddim_inversion_round_trip():
    """On PDAE's grid the inversion stops at t = 999, where sampling starts: DDIM then nearly reproduces x0."""
    d = GaussianDiffusion(named_betas("linear", 1000))

    def denoise(x, t_model):  # any smooth deterministic eps-model
        return 0.05 * torch.tanh(x) * (t_model.float().view(-1, 1, 1, 1) / 1000)

    x0 = torch.rand(2, 1, 4, 4) * 1.6 - 0.8
    x_T = ddim_invert(denoise, d, x0, 100, grid="pdae")
    back = ddim_sample(denoise, d, tuple(x0.shape), 100, x_T=x_T, clip_x0=False, grid="pdae")
    torch.testing.assert_close(back, x0, atol=2e-2, rtol=0)


def test_diffae_ddim_grid_is_the_official_integer_stride():
    """phizaz/diffae space_timesteps(1000, "ddimT"): T = 10 evaluates 0, 100, ..., 900 and never 999."""
    assert ddim_grid("diffae", 1000, 10).evaluated == tuple(range(900, -1, -100))
    assert ddim_grid("diffae", 1000, 20).timesteps == tuple(range(0, 1000, 50))
    assert ddim_grid("diffae", 1000, 30).timesteps == tuple(range(0, 1000, 34))  # smallest stride giving 30, not 1000//30
    with pytest.raises(UsageError, match="integer stride; use e.g."):
        ddim_grid("diffae", 1000, 999)


def test_ldm_linear_betas_are_linear_in_sqrt_beta():
    """CompVis/latent-diffusion make_beta_schedule("linear"): linspace(start ** 0.5, end ** 0.5, T) ** 2."""
    betas = named_betas("ldm-linear:0.0015:0.0155", 1000)
    assert betas[0] == pytest.approx(0.0015) and betas[-1] == pytest.approx(0.0155)
    np.testing.assert_allclose(np.diff(np.sqrt(betas)), (0.0155**0.5 - 0.0015**0.5) / 999, rtol=1e-9)
    with pytest.raises(ValueError, match="write ldm-linear:<start>:<end>"):
        named_betas("ldm-linear:0.0015,0.0155")


def test_pdae_ddim_grid_is_the_official_linspace_and_never_evaluates_t0():
    """ckczzj/PDAE get_ddim_betas_and_timestep_map: {int(s) for s in linspace(0, T-1, K+1)}; the DDIM loop runs over
    indices K..1, so t = 0 is only the end point (tests/test_fidelity.py checks K = 10, 20, 50, 100 against the rule)."""
    grid = ddim_grid("pdae", 1000, 10)
    assert grid.timesteps == (0, *range(99, 1000, 100))
    assert grid.evaluated == tuple(range(999, 0, -100))
    assert ddim_grid("pdae", 1000, 1).evaluated == (999,)
    assert len(ddim_grid("pdae", 1000, 1000).evaluated) == 999  # 1001 points truncate onto 1000 integers, as there
    assert len(ddim_grid("pdae", 1000, 30).evaluated) == 30  # no integer stride needed


@pytest.mark.parametrize("grid", ["even", "diffae", "pdae"])
def test_ddim_sample_calls_the_network_at_its_grid(grid):
    seen = []

    def denoise(x, t_model):
        seen.append(int(t_model[0]))
        return torch.zeros_like(x)

    ddim_sample(denoise, _process(), (1, 1, 2, 2), 10, grid=grid)
    assert tuple(seen) == ddim_grid(grid, 1000, 10).evaluated and len(seen) == 10
    seen.clear()
    ddim_invert(denoise, _process(), torch.zeros(1, 1, 2, 2), 10, grid=grid)
    assert tuple(seen) == ddim_grid(grid, 1000, 10).timesteps[:10]  # inversion: from the lowest level up


def test_importance_sampler_uniform_then_second_moment():
    s = LossSecondMomentSampler(4, history=2)
    torch.testing.assert_close(s.probabilities(), torch.full((4,), 0.25, dtype=torch.float64))
    for _ in range(2):
        s.update(torch.tensor([0, 1, 2, 3]), torch.tensor([1.0, 1.0, 2.0, 4.0]))
    p = s.probabilities()
    w = torch.tensor([1.0, 1.0, 2.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(p, (w / w.sum()) * 0.999 + 0.001 / 4)
    t, weights = s.sample(1000, torch.device("cpu"))
    torch.testing.assert_close(weights, (1 / (4 * p[t])).float())


def _sequential_update(history, counts, t, losses):
    """I-DDPM's per-sample loop, the reference for the vectorised update."""
    cap = history.shape[1]
    for ti, loss in zip(t.tolist(), losses.double().tolist()):
        if counts[ti] == cap:
            history[ti, :-1] = history[ti, 1:].clone()
            history[ti, -1] = loss
        else:
            history[ti, counts[ti]] = loss
            counts[ti] += 1


def test_importance_sampler_update_matches_the_per_sample_loop():
    g = torch.Generator().manual_seed(0)
    s = LossSecondMomentSampler(7, history=3)
    history, counts = s.loss_history.clone(), s.loss_counts.clone()
    for batch in (1, 5, 12, 30, 4, 9):  # repeats of one t within a batch, rows filling up and overflowing
        t = torch.randint(0, 7, (batch,), generator=g)
        losses = torch.rand(batch, generator=g)
        s.update(t, losses)
        _sequential_update(history, counts, t, losses)
        torch.testing.assert_close(s.loss_history, history, rtol=0, atol=0)
        torch.testing.assert_close(s.loss_counts, counts, rtol=0, atol=0)
