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
