"""The trainer: exact resume, checkpoint contents, loss summaries, NaN handling."""

import pytest
import torch
from torch import nn

from dmzbench.api import TrainStage
from dmzbench.atomic import load_checkpoint_file
from dmzbench.errors import DmzbenchError
from dmzbench.run.checkpoints import load_checkpoint
from dmzbench.train import CHECKPOINT_FORMAT, Trainer, summarise
from tests.conftest import tiny_data


from tests.fault_helpers import TinyDMZ


def _train(tmp_path, name, stop_after=None, resume=False):
    data = tiny_data()
    b = TinyDMZ()
    torch.manual_seed(0)
    model = b.build("tiny", data.spec)
    path = tmp_path / f"{name}.pt"
    state = None
    if resume:
        state = load_checkpoint(path, {"m": 1})
        model.load_state_dict(state["model"])
    trainer = Trainer(torch.device("cpu"), progress=False)
    summaries, done = trainer.fit(model, b.stages(model, "tiny", data.spec), data, path, {"m": 1}, seed=3,
                                  resume_state=state, stop_after_steps=stop_after)
    return model, summaries, done, path


def test_resume_is_bit_exact(tmp_path):
    """N steps in one go == N/2, stop, resume N/2: identical weights, EMA, importance-sampler state and losses."""
    full, full_summary, done, _ = _train(tmp_path, "full")
    assert done
    _, _, done, _ = _train(tmp_path, "split", stop_after=3)
    assert not done
    resumed, resumed_summary, done, path = _train(tmp_path, "split", resume=True)
    assert done
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert full_summary == [s.__class__(**{**s.__dict__, "seconds": full_summary[0].seconds}) for s in resumed_summary]
    ckpt = load_checkpoint_file(path)
    assert ckpt["format"] == CHECKPOINT_FORMAT and ckpt["done"] and {"model", "rng", "meta"} <= set(ckpt)


def test_interrupted_checkpoint_holds_everything_needed(tmp_path):
    _, _, _, path = _train(tmp_path, "part", stop_after=2)
    ckpt = load_checkpoint_file(path)
    assert not ckpt["done"] and ckpt["step"] == 2
    assert {"optimizer", "ema", "rng", "losses", "model", "meta", "stage_index"} <= set(ckpt)
    assert len(ckpt["losses"]) == 2


def test_nan_loss_stops_with_the_step_and_keeps_last_checkpoint(tmp_path):
    data = tiny_data()
    lin = nn.Linear(1, 1)
    calls = {"n": 0}

    def loss(x, y, c):
        calls["n"] += 1
        out = lin(x.mean((1, 2, 3))[:, None]).mean()
        return out * float("nan") if calls["n"] >= 4 else out

    stage = TrainStage("s", lin, loss, steps=8, batch_size=4, lr=1e-3)
    trainer = Trainer(torch.device("cpu"), progress=False, log_every=1)
    with pytest.raises(DmzbenchError, match="at step 4 of"):
        trainer.fit(lin, [stage], data, tmp_path / "c.pt", {}, seed=0)


@pytest.mark.parametrize("save_every_s", [0.0, None])
def test_nan_loss_at_step_4_names_step_4_and_leaves_only_finite_checkpoints(tmp_path, save_every_s):
    """Issue 25: the loss read back at step 8 was reported "near step 8"; with a save every step both checkpoint.pt
    and .prev held NaN weights, and with the default interval the message named a checkpoint that did not exist."""
    from dmzbench.atomic import previous

    data = tiny_data()
    lin = nn.Linear(1, 1)
    calls = {"n": 0}

    def loss(x, y, c):
        calls["n"] += 1
        out = lin(x.mean((1, 2, 3))[:, None]).mean()
        return out * float("nan") if calls["n"] >= 4 else out

    stage = TrainStage("s", lin, loss, steps=8, batch_size=4, lr=1e-3)
    path = tmp_path / "c.pt"
    with pytest.raises(DmzbenchError) as err:  # losses are read back every 10 steps (the default): at step 8 here
        Trainer(torch.device("cpu"), progress=False, save_every_s=save_every_s).fit(lin, [stage], data, path, {}, 0)
    message = str(err.value)
    assert "training loss became nan at step 4 of stage 's'" in message
    if save_every_s == 0:
        assert f"the last good checkpoint (step 3 of stage 's') is kept at {path}" in message
        for file, step in ((path, 3), (previous(path), 2)):
            state = load_checkpoint_file(file)
            assert state["step"] == step
            assert all(torch.isfinite(t).all() for t in [*state["model"].values(), *state["ema"]])
    else:  # the first save comes after 10 s; none was made, and none is named
        assert not path.exists() and not previous(path).exists()
        assert "no checkpoint of this run was written before it" in message and str(path) not in message


def test_summary_uses_first_and_last_tenth():
    s = summarise("x", [10.0] * 10 + [5.0] * 80 + [1.0] * 10, batch_size=4, seconds=1.0)
    assert (s.steps, s.images, s.loss_start, s.loss_end) == (100, 400, 10.0, 1.0)
