"""A tiny DMZ trained by the real trainer, for fault-injection tests that run it in subprocesses."""

import sys
from pathlib import Path

import torch

from dmzbench.atomic import previous
from dmzbench.baselines.dmz import DMZ
from dmzbench.run.checkpoints import load_checkpoint
from dmzbench.train import Trainer
from tests.conftest import tiny_data

TINY = dict(bits=4, encoder_widths=[8, 8, 8, 8], channels=8, channel_mult=(1, 2), layers_per_block=1,
            cross_attention_levels=(1,), heads=2, dropout=0.1, input_perturbation=0.15, steps=6, batch_size=8,
            lr=1e-3, ema=0.9)
META = {"model": "tiny-dmz"}


class TinyDMZ(DMZ):
    name = "tiny-dmz"
    presets = {"tiny": TINY, "tiny-long": dict(TINY, steps=40)}
    default_preset = "tiny"


def train(path: Path, preset: str = "tiny-long", stop_after: int | None = None):
    """Train (resuming from ``path`` if a checkpoint is there) and return (model, finished)."""
    data = tiny_data()
    b = TinyDMZ()
    torch.manual_seed(0)
    model = b.build(preset, data.spec)
    state = None
    if path.exists() or previous(path).exists():
        state = load_checkpoint(path, META)
        model.load_state_dict(state["model"])
        if state["done"]:
            return model, True
    _, done = Trainer(torch.device("cpu"), progress=False).fit(
        model, b.stages(model, preset, data.spec), data, path, META, seed=3, resume_state=state,
        stop_after_steps=stop_after)
    return model, done


if __name__ == "__main__":
    torch.set_num_threads(1)
    train(Path(sys.argv[1]))
    print("finished", flush=True)
