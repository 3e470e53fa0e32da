"""The guard before long or large work (issue 25, item 4): time and peak memory estimated on the meta device, refused
over the free memory or over --max-hours (asked on a terminal), before anything is built on a device or loaded."""

import time

import pytest

from dmzbench import data
from dmzbench.errors import UsageError
from dmzbench.run import guard, runner
from tests.test_cli import cli

GIB = 2**30


@pytest.fixture
def nothing_real(monkeypatch):
    """A guarded run must decide before any model is built on a device or any data set is loaded."""
    def forbidden(*args, **kwargs):
        raise AssertionError("built or loaded before the guard decided")

    monkeypatch.setattr(runner, "build_seeded", forbidden)
    monkeypatch.setattr(data, "load", forbidden)


def test_the_paper_preset_on_this_machine_is_refused_in_seconds_with_its_time_and_memory(nothing_real, tmp_path,
                                                                                        capsys):
    """Was: minutes of silence while memory grew past 18 GiB, then a kill. Over the free memory (this machine) or,
    where it fits, over 2 h without a terminal (a GPU machine's 128 GiB): one line either way."""
    t0 = time.process_time()  # CPU seconds: the wall clock of a loaded 2-core machine says more about its load
    code = cli("run", "--model", "dmz", "--preset", "cifar10-paper", "--task", "probe", "--device", "cpu",
               "--results", str(tmp_path / "r"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and time.process_time() - t0 < 30, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "estimated" in err and " days and " in err and "GiB of memory" in err
    assert "--preset " in err  # a preset that fits
    assert not (tmp_path / "r").exists() and not list(tmp_path.rglob("checkpoint.pt*"))


def test_over_the_free_memory_names_the_estimate_and_a_smaller_preset_that_fits(monkeypatch):
    monkeypatch.setattr(guard, "free_bytes", lambda device: 4 * GIB)
    with pytest.raises(UsageError) as err:
        guard.check("dmz", "cifar10-paper", "cifar10", 0, "", guard.torch.device("cpu"), guard.Policy(assume_yes=True))
    message = str(err.value)
    assert "over the 4.0 GiB free" in message
    suggested = message.split("--preset ")[1].split(")")[0]
    smaller = guard.training_estimate("dmz", suggested, "cifar10", guard.profile_for(guard.torch.device("cpu")))
    assert smaller.peak_bytes <= 4 * GIB and smaller.seconds <= 2 * 3600


def test_over_the_time_limit_asks_on_a_terminal_and_refuses_without_one_unless_yes(monkeypatch):
    monkeypatch.setattr(guard, "free_bytes", lambda device: None)
    cpu = guard.torch.device("cpu")
    args = ("dmz", "smoke", "fashion-mnist", 0, "", cpu)
    tiny_limit = 1e-6  # hours
    with pytest.raises(UsageError, match="over the 1e-06 h limit; use .*--max-hours H or --yes"):
        guard.check(*args, guard.Policy(max_hours=tiny_limit))
    asked = []
    assert guard.check(*args, guard.Policy(max_hours=tiny_limit, ask=lambda q: asked.append(q) or True)).seconds > 0
    assert "start anyway?" in asked[0]
    with pytest.raises(UsageError):
        guard.check(*args, guard.Policy(max_hours=tiny_limit, ask=lambda q: False))
    assert guard.check(*args, guard.Policy(max_hours=tiny_limit, assume_yes=True)).seconds > 0
    assert guard.check(*args, guard.Policy()).seconds < 2 * 3600  # the smoke preset passes the default limit


def test_max_hours_from_the_flag_and_the_environment_are_checked(monkeypatch, capsys, nothing_real):
    monkeypatch.setenv("DMZBENCH_MAX_HOURS", "0.5")
    assert guard.policy().max_hours == 0.5 and guard.policy(3.0).max_hours == 3.0
    for bad in ("abc", "nan", "-1", "0"):
        monkeypatch.setenv("DMZBENCH_MAX_HOURS", bad)
        with pytest.raises(UsageError, match="DMZBENCH_MAX_HOURS"):
            guard.policy()
    monkeypatch.delenv("DMZBENCH_MAX_HOURS")
    for bad in ("nan", "-1"):
        assert cli("run", "--model", "dmz", "--task", "probe", "--max-hours", bad) == 2
        assert "--max-hours must be a number of hours > 0" in capsys.readouterr().err


def test_a_model_with_a_checkpoint_costs_no_training(monkeypatch, tmp_path):
    from dmzbench import workspace

    cpu = guard.profile_for(guard.torch.device("cpu"))
    before = guard.untrained_estimate("dmz", "smoke", "fashion-mnist", 0, "", cpu)
    path = workspace.checkpoint_path("dmz", "smoke", "fashion-mnist", 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    assert before.seconds > 0 and guard.untrained_estimate("dmz", "smoke", "fashion-mnist", 0, "", cpu).seconds == 0


def test_training_memory_is_weights_optimiser_state_and_activations_at_the_batch_size():
    cpu = guard.profile_for(guard.torch.device("cpu"))
    full = guard.training_estimate("dmz", "cifar10-paper", "cifar10", cpu)
    half = guard.training_estimate("dmz", "cifar10-paper+batch_size=64", "cifar10", cpu)
    parameters = guard._counted("dmz", "cifar10-paper", "cifar10").parameters
    assert 68e6 < parameters < 70e6  # the paper preset's UNet (68.6M) and its encoder
    fixed = (4 + guard.ADAMW_TRAINED_BYTES) * parameters  # every parameter trains in DMZ's one stage
    assert half.peak_bytes > fixed and full.peak_bytes - fixed == pytest.approx(2 * (half.peak_bytes - fixed), rel=1e-3)


def test_a_loss_that_needs_real_values_is_counted_on_the_cpu_and_leaves_the_random_state_alone():
    """SD-VAE's autoencoder loss reads its step counter (``int(steps_seen)``), which the meta device cannot: the guard
    counts its training memory on the CPU at batch 2 instead of starting the run unguarded."""
    guard._counted("sdvae", "smoke", "fashion-mnist")  # the FLOP count (budget.py) now cached on disk
    guard._count.cache_clear()
    guard.torch.manual_seed(123)
    before = guard.torch.random.get_rng_state()
    counted = guard._counted("sdvae", "smoke", "fashion-mnist")
    assert guard.torch.equal(guard.torch.random.get_rng_state(), before)
    assert counted.peak_bytes > (4 + guard.ADAMW_TRAINED_BYTES) * counted.parameters > 0


def test_a_task_whose_sizes_make_it_long_is_refused_naming_its_options(nothing_real, capsys, tmp_path):
    """recon -o n_images=... ran until the time limit; the task's declared cost prices it before it starts."""
    code = cli("run", "--model", "dmz", "--preset", "init", "--task", "recon", "-o", "n_images=5000", "-o",
               "steps=1000", "--device", "cpu", "--results", str(tmp_path / "r"))
    err = capsys.readouterr().err
    assert code == 2 and "for recon on dmz/init" in err and "use smaller recon options (-o), --max-hours H" in err, err
    assert "training" not in err  # init trains nothing
