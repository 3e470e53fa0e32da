"""The one trainer every family uses: AdamW, EMA, gradient clipping, bf16 autocast on CUDA, atomic checkpoints.

Resume is exact: each step reseeds torch from (seed, stage, step) and draws its batch from a permutation keyed by
(seed, stage, epoch), so step k does the same thing whether or not the run was interrupted before it. Checkpoints hold the
model, EMA, optimiser, RNG states, stage, step, the per-step losses and the config they were made for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from dmzbench.api import ImageData, TrainStage, to_model_range
from dmzbench.atomic import save_checkpoint
from dmzbench import distributed, stopping
from dmzbench.errors import DmzbenchError, Interrupted
from dmzbench.progress import EVERY_S as PROGRESS_EVERY_S
from dmzbench.progress import LineProgress, training_progress
from dmzbench.snapshots import SnapshotTarget

CHECKPOINT_FORMAT = "dmzbench-checkpoint-1"
# A stage saves every ``save_every_s`` seconds ($DMZBENCH_SAVE_EVERY_S, default 120), but its first checkpoint comes
# after at most FIRST_SAVE_S: a run killed in its first minutes still resumes from a step > 0.
SAVE_EVERY_S = 120.0
FIRST_SAVE_S = 10.0


@dataclass(frozen=True)
class StageSummary:
    name: str
    steps: int
    images: int
    seconds: float
    loss_start: float | None  # mean loss over the first 10% of steps
    loss_end: float | None  # mean loss over the last 10% of steps


def summarise(name: str, losses: Sequence[float], batch_size: int, seconds: float) -> StageSummary:
    n = len(losses)
    k = max(1, n // 10)
    mean = lambda xs: float(sum(xs) / len(xs)) if xs else None  # noqa: E731
    return StageSummary(name, n, n * batch_size, round(seconds, 3), mean(losses[:k]), mean(losses[-k:]))


def train_summary(stages: Sequence[StageSummary]) -> dict[str, Any]:
    """The record's ``train`` block: totals, the first stage's loss_start/loss_end (the representation stage), and one
    entry per stage."""
    first = stages[0] if stages else None
    return {
        "steps": sum(s.steps for s in stages),
        "images": sum(s.images for s in stages),
        "seconds": round(sum(s.seconds for s in stages), 3),
        "loss_start": first.loss_start if first else None,
        "loss_end": first.loss_end if first else None,
        "stages": [asdict(s) for s in stages],
    }


def step_seed(seed: int, *keys: int) -> int:
    digest = hashlib.blake2b(f"{seed}/{'/'.join(map(str, keys))}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def batch_indices(n: int, batch_size: int, seed: int, stage: int, step: int) -> Tensor:
    """Epoch-wise shuffling without replacement, addressable by step (so a resumed run draws the same batches)."""
    per_epoch = max(1, n // batch_size)
    epoch, offset = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(step_seed(seed, stage, epoch, -1))
    perm = torch.randperm(n, generator=g)
    if batch_size > n:  # tiny data sets: sample with replacement
        return torch.randint(0, n, (batch_size,), generator=g)
    return perm[offset * batch_size : (offset + 1) * batch_size]


class Trainer:
    def __init__(
        self,
        device: torch.device,
        *,
        save_every_s: float | None = None,
        log_every: int = 10,
        progress: bool = True,
        console: Console | None = None,
        compile: bool = False,
    ):
        self.device = device
        # torch.compile of each stage's loss (model forward included): off by default; bench/gpu_check.py measures it.
        self.compile = compile
        # How often a running stage checkpoints (seconds); $DMZBENCH_SAVE_EVERY_S overrides (0 = every step).
        env = os.environ.get("DMZBENCH_SAVE_EVERY_S")
        self.save_every_s = save_every_s if save_every_s is not None else _seconds(env) if env else SAVE_EVERY_S
        self.clock = time.monotonic  # tests substitute a fake clock
        self.saved: str | None = None  # what the checkpoint on disk holds, in words ("step 3 of stage 's'")
        self._stages: Sequence[TrainStage] = ()
        self.log_every = log_every
        self.progress = progress
        self.console = console or Console(stderr=True)
        self.autocast = device.type == "cuda"  # bf16 on CUDA; fp32 on the CPU, where bf16 is slower and less exact
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

    # ---------------------------------------------------------------------------------------------------- checkpoint
    def _save(self, path: Path, model: nn.Module | dict[str, Tensor], meta: dict, state: dict) -> None:
        """Write a checkpoint, only if its weights are finite: a NaN update must never replace the last good checkpoint
        (or its ``.prev``)."""
        what = _progress_in_words(self._stages, state["stage_index"], state["step"])
        snapshot = isinstance(model, dict)  # a shorter run's checkpoint (_save_snapshot): not this run's progress
        bad = _non_finite(model, state.get("ema") or [])
        if bad:
            raise DmzbenchError(f"training weights became non-finite ({bad}) by {what}; "
                                f"{self._kept(path)}; lower the learning rate or check the data")
        if not snapshot:
            self.saved = what
        if not distributed.is_main():  # rank 0 alone writes
            return
        with stopping.saving():  # a stop signal's watch lets the write finish
            save_checkpoint(
                path,
                {
                    "format": CHECKPOINT_FORMAT,
                    "meta": meta,
                    "model": model if isinstance(model, dict) else model.state_dict(),
                    "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all()},
                    **state,
                },
            )

    def _kept(self, path: Path) -> str:
        """What the user still has, in words: never a checkpoint that does not exist."""
        if self.saved is not None and path.exists():
            return f"the last good checkpoint ({self.saved}) is kept at {path}"
        return "no checkpoint of this run was written before it"

    def _read_losses(self, pending: list[Tensor], done_steps: int, stage: TrainStage, checkpoint: Path) -> list[float]:
        """The pending per-step losses as floats (emptying ``pending``), which end at step ``done_steps``; a
        non-finite one stops training, naming its own step (not the step it was read back at)."""
        if not pending:
            return []
        values = distributed.mean_across_ranks(torch.stack(pending)).tolist()
        pending.clear()
        for i, value in enumerate(values):
            if not math.isfinite(value):
                at = done_steps - len(values) + i + 1
                raise DmzbenchError(f"training loss became {value} at step {at} of stage '{stage.name}'; "
                                    f"{self._kept(checkpoint)}; lower the learning rate or check the data")
        return values

    # ------------------------------------------------------------------------------------------------------ training
    def fit(
        self,
        model: nn.Module,
        stages: Sequence[TrainStage],
        data: ImageData,
        checkpoint: Path,
        meta: dict[str, Any],
        seed: int,
        *,
        resume_state: dict[str, Any] | None = None,
        stop_after_steps: int | None = None,
        paired: bool = False,
        snapshots: Sequence[SnapshotTarget] = (),
    ) -> tuple[list[StageSummary], bool]:
        """Train ``model`` through ``stages``, checkpointing to ``checkpoint``. Returns the stage summaries and whether
        training finished (False only when ``stop_after_steps`` interrupted it, as tests do). At each snapshot's step
        of the first stage, the checkpoint the shorter run would write at the end of that stage is written to the
        snapshot's path (dmzbench/snapshots.py).

        SIGINT or SIGTERM during training is noted, not obeyed at once: at the next step boundary the trainer saves a
        checkpoint and raises ``Interrupted`` (exit 130 or 143, "interrupted at step N; the same command resumes")."""
        with _StopOnSignal() as stop:
            return self._fit(model, stages, data, checkpoint, meta, seed, stop, resume_state=resume_state,
                             stop_after_steps=stop_after_steps, paired=paired, snapshots=snapshots)

    def _fit(
        self,
        model: nn.Module,
        stages: Sequence[TrainStage],
        data: ImageData,
        checkpoint: Path,
        meta: dict[str, Any],
        seed: int,
        stop: _StopOnSignal,
        *,
        resume_state: dict[str, Any] | None,
        stop_after_steps: int | None,
        paired: bool,
        snapshots: Sequence[SnapshotTarget],
    ) -> tuple[list[StageSummary], bool]:
        model.to(self.device)
        rank, world = distributed.world()
        state = resume_state or {"stage_index": 0, "step": 0, "summaries": [], "losses": [], "seconds": 0.0}
        summaries = [StageSummary(**s) for s in state["summaries"]]
        self._stages = stages
        self.saved = None if resume_state is None else _progress_in_words(stages, state["stage_index"], state["step"])
        images, labels = data.train_images, data.train_labels
        conds = data.train_sources if paired else images
        if self.device.type == "cuda":
            images, labels, conds = images.to(self.device), labels.to(self.device), conds.to(self.device)
        steps_this_call = 0

        for stage_index in range(state["stage_index"], len(stages)):
            stage = stages[stage_index]
            resuming = resume_state is not None and stage_index == state["stage_index"] and state["step"] > 0
            start = state["step"] if resuming else 0
            losses: list[float] = list(state["losses"]) if resuming else []
            seconds = float(state["seconds"]) if resuming else 0.0

            if not resuming and stage.prepare is not None:
                torch.manual_seed(step_seed(seed, stage_index, -1))
                model.eval()
                stage.prepare(dataclasses.replace(data, train_images=data.train_sources) if paired else data)
            params = [p for p in stage.module.parameters() if p.requires_grad]
            if not params and stage.steps:
                raise DmzbenchError(f"stage '{stage.name}' has {stage.steps} steps but nothing to train")
            if stage.steps and (stage.loss is None or stage.batch_size < 1):
                raise DmzbenchError(f"stage '{stage.name}' has {stage.steps} steps but no loss or batch size; give both "
                                    "(only a steps=0 stage may leave them out)")
            if not stage.steps:  # nothing to optimise (e.g. PCA fitted in prepare): no optimiser, loss or batch size
                summaries.append(summarise(stage.name, [], 0, 0.0))
                self._save(checkpoint, model, meta, {
                    "done": stage_index + 1 == len(stages), "stage_index": stage_index + 1, "step": 0,
                    "summaries": [asdict(s) for s in summaries], "losses": [], "seconds": 0.0,
                })
                resume_state = None
                continue
            opt = torch.optim.AdamW(params, lr=stage.lr, betas=stage.betas, weight_decay=stage.weight_decay,
                                    fused=self.device.type == "cuda")
            ema = [p.detach().clone() for p in params]
            if resuming:
                opt.load_state_dict(state["optimizer"])
                for e, saved in zip(ema, state["ema"]):
                    e.copy_(saved.to(e.device))
                if state.get("rng") is not None:
                    torch.set_rng_state(state["rng"]["torch"])

            model.eval()  # only the stage's own module trains; frozen parts (earlier stages) stay in eval mode
            stage.module.train()
            step_loss = stage.loss
            if world > 1:
                if stage.batch_size % world:
                    raise DmzbenchError(f"global batch {stage.batch_size} of stage '{stage.name}' does not split over "
                                        f"{world} processes; use a process count that divides it")
                step_loss = DistributedDataParallel(
                    distributed.LossModule(stage.module, stage.loss),
                    device_ids=[self.device.index] if self.device.type == "cuda" else None,
                    find_unused_parameters=True,  # e.g. SD-VAE's discriminator before it starts
                )
            if self.compile:
                step_loss = torch.compile(step_loss)
            snapshot_at = {s.step: s for s in snapshots} if stage_index == 0 else {}
            if snapshot_at and (stage.warmup_steps or stage.final_lr is not None):
                raise DmzbenchError(f"stage '{stage.name}' has a learning-rate schedule over its total steps, so a "
                                    "snapshot would not equal the shorter run; drop the preset's snapshots")
            shard = stage.batch_size // world
            pending: list[Tensor] = []
            last_save = self.clock()
            last_report = time.monotonic()
            save_after = min(self.save_every_s, FIRST_SAVE_S)  # the first save comes soon; later ones every save_every_s
            t_begin = time.monotonic() - seconds
            # a step abandoned by a signal must leave no trace: the forward pass updates buffers (BatchNorm running
            # statistics, samplers' state), so they are copied before each step and put back (one fused copy)
            buffers = [b for b in model.buffers()] if stop.installed else []
            before_step = [b.detach().clone() for b in buffers]
            bar = self._bar(stage, start)
            with bar:
                task = bar.add_task(stage.name, total=stage.steps, completed=start, loss="", rate="")
                for step in range(start, stage.steps):
                    try:  # a first signal during forward/backward abandons the step (weights untouched), see below
                        if buffers:
                            torch._foreach_copy_(before_step, buffers)
                        stop.abortable = True
                        # Each rank draws its own noise (rank 0's matches a single-process run's) ...
                        torch.manual_seed(step_seed(seed, stage_index, step, *([rank] if rank else [])))
                        # ... and takes its shard of the same global batch.
                        idx = batch_indices(len(images), stage.batch_size, seed, stage_index, step)
                        idx = idx[rank * shard : (rank + 1) * shard]
                        x = to_model_range(images[idx.to(images.device)]).to(self.device, non_blocking=True)
                        y = labels[idx.to(labels.device)].to(self.device)
                        c = x if conds is images else to_model_range(conds[idx.to(conds.device)]).to(self.device)
                        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                            loss = step_loss(x, y, c)
                        loss.backward()
                        if stage.warmup_steps or stage.final_lr is not None:  # a function of the step: resumes exactly
                            for group in opt.param_groups:
                                group["lr"] = stage.lr_at(step)
                        if stage.grad_clip:
                            torch.nn.utils.clip_grad_norm_(params, stage.grad_clip)
                        stop.abortable = False
                    except _StepAborted:
                        # A long step is not waited for: the optimiser has not touched the weights yet, so the state
                        # after the previous step is saved as it is and the same command redoes this step exactly.
                        opt.zero_grad(set_to_none=True)
                        if buffers:
                            torch._foreach_copy_(buffers, before_step)
                        losses.extend(self._read_losses(pending, step, stage, checkpoint))
                        self._save(checkpoint, model, meta, {
                            "done": False, "stage_index": stage_index, "step": step,
                            "summaries": [asdict(s) for s in summaries], "losses": losses,
                            "seconds": time.monotonic() - t_begin, "optimizer": opt.state_dict(),
                            "ema": [e.cpu() for e in ema],
                        })
                        raise Interrupted.by_signal(stop.signum, f"step {step} of stage '{stage.name}'") from None
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    # EMA with the usual warm-up (toolkit choice): decay = min(decay, (1+n)/(10+n)).
                    decay = min(stage.ema_decay, (1 + step) / (10 + step))
                    with torch.no_grad():
                        torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - decay)
                    pending.append(loss.detach().float())
                    steps_this_call += 1

                    done = step + 1 == stage.steps
                    # read losses back in batches (one sync per N steps), and at least every ~10 s for the progress
                    # line: on a slow machine N steps can outlast the periodic save, which empties the batch. Only
                    # in one process: under torchrun the read-back is collective, so every rank must decide alike.
                    slow = world == 1 and time.monotonic() - last_report >= PROGRESS_EVERY_S
                    snapshot = snapshot_at.get(step + 1)
                    if len(pending) >= self.log_every or done or slow or snapshot:
                        last_report = time.monotonic()
                        values = self._read_losses(pending, step + 1, stage, checkpoint)
                        losses.extend(values)
                        elapsed = time.monotonic() - t_begin
                        rate = (step + 1 - start) * stage.batch_size / max(elapsed - seconds, 1e-9)
                        bar.update(task, completed=step + 1, loss=f"{values[-1]:.4f}", rate=f"{rate:,.0f} img/s")
                    if snapshot:  # after the loss check above: a snapshot never holds weights of a non-finite loss
                        self._save_snapshot(snapshot, model, params, ema, stage, losses, time.monotonic() - t_begin,
                                            last=len(stages) == 1)
                    interrupted = (stop_after_steps is not None and steps_this_call >= stop_after_steps
                                   or stop.signum is not None) and not done
                    if (self.clock() - last_save >= save_after and not done) or interrupted:
                        # the losses are checked before the save: a NaN step's weights never become a checkpoint
                        losses.extend(self._read_losses(pending, step + 1, stage, checkpoint))
                        self._save(checkpoint, model, meta, {
                            "done": False, "stage_index": stage_index, "step": step + 1,
                            "summaries": [asdict(s) for s in summaries], "losses": losses,
                            "seconds": time.monotonic() - t_begin, "optimizer": opt.state_dict(),
                            "ema": [e.cpu() for e in ema],
                        })
                        last_save, save_after = self.clock(), self.save_every_s
                        if stop.signum is not None:
                            raise Interrupted.by_signal(stop.signum, f"step {step + 1} of stage '{stage.name}'")
                        if interrupted:
                            return summaries, False

            with torch.no_grad():  # the stage's result is its EMA weights
                for p, e in zip(params, ema):
                    p.copy_(e)
            summaries.append(summarise(stage.name, losses, stage.batch_size, time.monotonic() - t_begin))
            resume_state = None
            self._save(checkpoint, model, meta, {
                "done": stage_index + 1 == len(stages), "stage_index": stage_index + 1, "step": 0,
                "summaries": [asdict(s) for s in summaries], "losses": [], "seconds": 0.0,
            })
            if stop.signum is not None:
                raise Interrupted.by_signal(stop.signum, f"the end of stage '{stage.name}'")
        model.eval()
        distributed.barrier()  # the other ranks wait for rank 0's final checkpoint
        return summaries, True

    def _save_snapshot(self, target: SnapshotTarget, model: nn.Module, params: list[nn.Parameter],
                       ema: list[Tensor], stage: TrainStage, losses: list[float], seconds: float, last: bool) -> None:
        """The checkpoint the run of ``target.step`` steps writes at the end of this (first) stage: EMA weights in
        place of the parameters, the stage's summary, and the next stage (if any) still to run."""
        ema_of = {id(p): e for p, e in zip(params, ema)}
        state = model.state_dict()
        for name, p in model.named_parameters(remove_duplicate=False):
            if id(p) in ema_of:
                state[name] = ema_of[id(p)].detach().clone()
        summary = summarise(stage.name, losses[: target.step], stage.batch_size, seconds)
        self._save(target.path, state, target.meta, {
            "done": last, "stage_index": 1, "step": 0, "summaries": [asdict(summary)], "losses": [], "seconds": 0.0,
        })

    def _bar(self, stage: TrainStage, start: int) -> Progress | LineProgress:
        # a live bar on a terminal; one plain line every ~10 s in a log or a pipe (dmzbench/progress.py)
        return training_progress(self.console, self.progress and distributed.is_main())


def _progress_in_words(stages: Sequence[TrainStage], stage_index: int, step: int) -> str:
    """A checkpoint's place in training, as its messages name it: "step 3 of stage 's'", "the end of stage 's'"."""
    if stage_index > 0 and (step == 0 or stage_index >= len(stages)):
        return f"the end of stage '{stages[stage_index - 1].name}'"
    return f"step {step} of stage '{stages[stage_index].name}'"


def _non_finite(model: nn.Module | dict[str, Tensor], ema: Sequence[Tensor]) -> str | None:
    """The name of the first parameter (or EMA copy) holding NaN or inf, None when all are finite."""
    named = model.items() if isinstance(model, dict) else model.named_parameters()
    for name, p in named:
        if not p.is_floating_point():
            continue
        if not bool(torch.isfinite(p.detach()).all()):
            return name
    for i, e in enumerate(ema):
        if not bool(torch.isfinite(e).all()):
            return f"EMA copy {i}"
    return None


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise DmzbenchError(f"DMZBENCH_SAVE_EVERY_S={raw!r} must be a number of seconds >= 0 (0 = save every step)")
    return value


class _StepAborted(Exception):
    """Raised by the signal handler inside a step's forward/backward: the step is abandoned, not waited for."""


class _StopOnSignal:
    """While training: SIGINT/SIGTERM set ``signum``; the trainer stops at the next step boundary, after a save, or at
    once when the signal comes while a step is still computing its gradients (``abortable``: the weights are not yet
    touched, so the previous step's state is saved and the step is redone on resume). A second signal acts at once.
    Installed only in the main thread of a single-process run: under torchrun the ranks would stop at different
    steps. (A signal that arrives inside one long C++ call, e.g. a backward pass, runs this handler only when the call
    returns; ``dmzbench.stopping`` bounds that wait for the command line.)"""

    def __init__(self):
        self.signum: int | None = None
        self.abortable = False
        self.installed = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopOnSignal:
        if threading.current_thread() is threading.main_thread() and distributed.world()[1] == 1:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._note)
            self.installed = True
        return self

    def _note(self, signum: int, frame: Any) -> None:
        if self.signum is not None:  # asked twice: stop now, by the handler that was there before
            signal.signal(signum, self._old[signum])
            signal.raise_signal(signum)
            return
        self.signum = signum
        if self.abortable:
            self.abortable = False
            raise _StepAborted

    def __exit__(self, *exc: Any) -> None:
        self.abortable = False  # a step left by an exception must not be "abandoned" later, outside the loop
        for sig, old in self._old.items():
            signal.signal(sig, old)
