"""Damaged checkpoints (issue 14, items 1-3): what is loaded is what is hashed, a damaged file never becomes the
fallback, and the first checkpoint of a stage comes soon."""

import pytest
import torch
from torch import nn

from dmzbench import registry, workspace
from dmzbench.api import TrainStage
from dmzbench.atomic import checkpoint_is_intact, damaged, load_checkpoint_file, previous, sha256_file
from dmzbench.run import runner
from dmzbench.train import FIRST_SAVE_S, Trainer
from tests.conftest import TinySource, tiny_data
from tests.fault_helpers import TinyDMZ

CPU = torch.device("cpu")


@pytest.fixture
def tiny(monkeypatch):
    registry.register("model", "tiny-dmz", TinyDMZ, "tests")
    registry.register("dataset", "tiny", TinySource, "tests")
    monkeypatch.setenv("DMZBENCH_SAVE_EVERY_S", "0")  # a checkpoint every step, so .prev is one step behind


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return data[: len(data) // 2]


def test_record_hash_is_of_the_checkpoint_actually_loaded(tiny, capsys):
    first = runner.obtain_model("tiny-dmz", "tiny", "tiny", 0, CPU, progress=False)
    path = first.checkpoint
    previous(path).write_bytes(path.read_bytes())  # a good fallback holding the finished model
    bad = _truncate(path)
    loaded = runner.obtain_model("tiny-dmz", "tiny", "tiny", 0, CPU, progress=False)
    assert "damaged" in capsys.readouterr().err
    # the hash in the record (and the feature-cache key) is of an intact file whose weights are the model's
    assert loaded.checkpoint_sha256 == sha256_file(path)
    weights = load_checkpoint_file(path)["model"]
    for key, value in loaded.module.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert damaged(path).read_bytes() == bad  # kept for inspection, never trusted


def test_a_corrupt_mid_training_checkpoint_never_becomes_the_fallback(tiny, capsys):
    with pytest.raises(Exception, match="run the same command to resume"):
        runner.obtain_model("tiny-dmz", "tiny-long", "tiny", 0, CPU, progress=False, stop_after_train_steps=4)
    path = workspace.checkpoint_path("tiny-dmz", "tiny-long", "tiny", 0)
    good_prev = previous(path).read_bytes()
    _truncate(path)
    with pytest.raises(Exception, match="run the same command to resume"):
        runner.obtain_model("tiny-dmz", "tiny-long", "tiny", 0, CPU, progress=False, stop_after_train_steps=2)
    err = capsys.readouterr().err
    assert "restored the previous good checkpoint (stage 0, step 3)" in err
    assert "from step 3 of stage 'dmz'" in err
    assert checkpoint_is_intact(path) and checkpoint_is_intact(previous(path))
    assert load_checkpoint_file(path)["step"] == 5


def test_saving_over_a_damaged_file_keeps_the_good_previous_one(tmp_path):
    from dmzbench.atomic import save_checkpoint

    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    path.write_bytes(b"garbage")
    save_checkpoint(path, {"step": 3})
    assert load_checkpoint_file(previous(path)) == {"step": 1}
    assert load_checkpoint_file(path) == {"step": 3} and damaged(path).read_bytes() == b"garbage"


class _FakeClock:
    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_the_first_checkpoint_comes_within_seconds_not_after_the_full_interval(tmp_path, monkeypatch):
    """With the default 120 s interval and steps that take 2 (fake) seconds, a stage of 40 steps saves long before its
    end: a kill in the first minutes resumes from a step > 0."""
    monkeypatch.delenv("DMZBENCH_SAVE_EVERY_S", raising=False)
    data = tiny_data()
    b = TinyDMZ()
    model = b.build("tiny-long", data.spec)
    trainer = Trainer(CPU, progress=False)
    trainer.clock = _FakeClock(1.0)  # called about twice per step
    saved_steps = []
    save = trainer._save
    monkeypatch.setattr(trainer, "_save", lambda path, m, meta, state: (saved_steps.append(state["step"]),
                                                                        save(path, m, meta, state)))
    trainer.fit(model, b.stages(model, "tiny-long", data.spec), data, tmp_path / "c.pt", {}, seed=0)
    assert saved_steps and 0 < saved_steps[0] <= FIRST_SAVE_S
    assert trainer.save_every_s == 120


def test_a_steps0_stage_needs_no_loss_batch_size_or_learning_rate(tmp_path):
    data = tiny_data()
    fitted = nn.Linear(2, 2)

    def prepare(d):
        with torch.no_grad():
            fitted.bias.fill_(float(d.train_images.float().mean()))

    stage = TrainStage("fit", fitted, prepare=prepare)
    summaries, done = Trainer(CPU, progress=False).fit(fitted, [stage], data, tmp_path / "c.pt", {}, seed=0)
    assert done and summaries[0].steps == 0
    assert torch.allclose(load_checkpoint_file(tmp_path / "c.pt")["model"]["bias"], data.train_images.float().mean())


def test_a_stage_with_steps_but_no_loss_is_a_clear_error(tmp_path):
    from dmzbench.errors import DmzbenchError

    stage = TrainStage("s", nn.Linear(2, 2), steps=3)
    with pytest.raises(DmzbenchError, match="has 3 steps but no loss or batch size"):
        Trainer(CPU, progress=False).fit(stage.module, [stage], tiny_data(), tmp_path / "c.pt", {}, seed=0)
