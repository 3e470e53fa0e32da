"""Training progress when stderr is not a terminal: plain lines at most every ~10 s, with step, loss, rate and ETA."""

import io

from rich.console import Console

from dmzbench.progress import LineProgress, training_progress


def test_lines_come_every_ten_seconds_and_at_the_end():
    now = [0.0]
    out = io.StringIO()
    bar = LineProgress(Console(file=out, width=200), every_s=10.0, clock=lambda: now[0])
    with bar:
        task = bar.add_task("autoencoder", total=90, completed=0, loss="", rate="")
        for step in range(10, 91, 10):  # the trainer updates every 10 steps; here 4 s apart
            now[0] += 4.0
            bar.update(task, completed=step, loss=f"{1 / step:.4f}", rate="80 img/s")
    lines = out.getvalue().splitlines()
    # 36 s in all: lines at 12 s, 24 s, 36 s (the last one because the stage is done)
    assert lines == ["autoencoder: step 30/90 (33%), loss 0.0333, 80 img/s, ETA 0:00:24",
                     "autoencoder: step 60/90 (66%), loss 0.0167, 80 img/s, ETA 0:00:12",
                     "autoencoder: step 90/90 (100%), loss 0.0111, 80 img/s, done"]


def test_a_resumed_stage_estimates_from_the_steps_done_in_this_call():
    now = [0.0]
    out = io.StringIO()
    bar = LineProgress(Console(file=out, width=200), every_s=10.0, clock=lambda: now[0])
    task = bar.add_task("dmz", total=100, completed=50, loss="", rate="")
    now[0] = 10.0
    bar.update(task, completed=60, loss="0.2000", rate="")
    assert out.getvalue().strip() == "dmz: step 60/100 (60%), loss 0.2000, ETA 0:00:40"


def test_a_terminal_gets_the_live_bar_and_a_pipe_the_lines():
    assert isinstance(training_progress(Console(file=io.StringIO()), enabled=True), LineProgress)
    assert not isinstance(training_progress(Console(file=io.StringIO(), force_terminal=True), enabled=True),
                          LineProgress)
    assert not isinstance(training_progress(Console(file=io.StringIO()), enabled=False), LineProgress)


def test_a_slow_trainer_still_reports_though_its_periodic_save_empties_the_loss_batch(tmp_path, monkeypatch):
    """Slow steps (here: a save after every step, and 10 s = 0 s) must not starve the line: every step reports."""
    import torch

    from dmzbench import progress, train
    from tests.conftest import tiny_data
    from tests.fault_helpers import TinyDMZ

    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    monkeypatch.setattr(train, "PROGRESS_EVERY_S", 0.0)
    data, family = tiny_data(), TinyDMZ()
    torch.manual_seed(0)
    model = family.build("tiny", data.spec)
    out = io.StringIO()
    trainer = train.Trainer(torch.device("cpu"), console=Console(file=out, width=200), save_every_s=0, log_every=100)
    trainer.fit(model, family.stages(model, "tiny", data.spec), data, tmp_path / "c.pt", {"m": 1}, seed=3)
    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [f"dmz: step {s}/6 ({100 * s // 6}%)" for s in range(1, 7)]
    assert "loss " in lines[0] and "img/s" in lines[0] and "ETA" in lines[0] and lines[-1].endswith("done")
