"""Progress: rich's live bar (training) or spinner (any other phase) on a terminal; elsewhere (a log file, a pipe, CI,
a Jupyter notebook) plain lines: one every ~10 s while training, and for any other phase that takes longer than ~2 s a
line when it has run that long and one when it ends.

A live bar written to a file shows nothing until the stage ends, so a user piping a first run into a log would see no
sign of life for minutes. ``LineProgress`` implements the part of rich's ``Progress`` API the trainer uses
(``with``, ``add_task``, ``update``) so the training loop is the same in both cases.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

EVERY_S = 10.0
PHASE_QUIET_S = 2.0  # a phase shorter than this prints nothing in plain mode


def live(console: Console) -> bool:
    """Whether live displays (bars, spinners) render: a terminal, not a notebook (whose output would keep every
    frame) nor a pipe."""
    return console.is_terminal and not console.is_jupyter


@contextmanager
def phase(console: Console, label: str, enabled: bool = True, quiet_s: float | None = None) -> Iterator[None]:
    """A sign of life for one phase (encoding, fitting, sampling): a spinner with the elapsed time on a terminal; in
    plain mode ``<label> ...`` once it has run ``quiet_s`` seconds and ``<label>: done in N s`` when it ends (nothing
    for a phase shorter than that, so fast steps stay quiet)."""
    if not enabled:
        yield
        return
    if live(console):
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as spinner:
            spinner.add_task(label, total=None)
            yield
        return
    t0 = time.monotonic()
    said = threading.Event()

    def say() -> None:
        said.set()
        console.print(f"{label} ...", highlight=False, soft_wrap=True)

    timer = threading.Timer(PHASE_QUIET_S if quiet_s is None else quiet_s, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()  # a line being printed is finished before the closing one
        if said.is_set():
            console.print(f"{label}: done in {time.monotonic() - t0:.0f} s", highlight=False, soft_wrap=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LineProgress:
    """``<stage>: step 40/90 (44%), loss 0.1234, 70 img/s, ETA 0:00:25``, at most every ``every_s`` seconds and
    once when the stage completes."""

    def __init__(self, console: Console, every_s: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.console, self.clock = console, clock
        self.every_s = EVERY_S if every_s is None else every_s
        self.tasks: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: int, completed: int = 0, **fields: Any) -> int:
        now = self.clock()
        self.tasks[len(self.tasks)] = dict(description=description, total=total, start_step=completed,
                                           start_time=now, last_print=now, fields=fields)
        return len(self.tasks) - 1

    def update(self, task_id: int, *, completed: int, **fields: Any) -> None:
        task = self.tasks[task_id]
        task["fields"].update(fields)
        now = self.clock()
        if now - task["last_print"] < self.every_s and completed < task["total"]:
            return
        task["last_print"] = now
        total, done_here = task["total"], completed - task["start_step"]
        elapsed = now - task["start_time"]
        eta = _duration((total - completed) * elapsed / done_here) if done_here > 0 else "?"
        parts = [f"{task['description']}: step {completed}/{total} ({100 * completed // max(total, 1)}%)"]
        if task["fields"].get("loss"):
            parts.append(f"loss {task['fields']['loss']}")
        if task["fields"].get("rate"):
            parts.append(str(task["fields"]["rate"]))
        parts.append("done" if completed >= total else f"ETA {eta}")
        self.console.print(", ".join(parts), highlight=False, soft_wrap=True)


def training_progress(console: Console, enabled: bool) -> Progress | LineProgress:
    """The progress display for one training stage: a live bar on a terminal, plain lines otherwise."""
    if enabled and not live(console):
        return LineProgress(console)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )
