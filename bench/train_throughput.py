"""Training throughput per model: the dmzbench trainer's step against the same work done bare, and FLOPs per image.

    python bench/train_throughput.py [--preset smoke] [--device cpu] [--batch 16]

For each family's first stage: images/s of ``Trainer`` steps (the harness: seeding, batch drawing, autocast, clipping,
AdamW, EMA, loss bookkeeping) and of a bare loop doing only loss -> backward -> AdamW step on the same module and batch;
their ratio is the harness overhead (the harness time includes one checkpoint write per call, amortised over the steps). DMZ is also set beside a bare diffusers UNet2DConditionModel of the same
configuration (eps-MSE forward/backward/step). FLOPs per training image come from torch.utils.flop_counter.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import FAMILIES, FMNIST, environment, first_stage, flops_per_image, markdown, timed  # noqa: E402
from dmzbench.api import ImageData  # noqa: E402
from dmzbench.train import Trainer  # noqa: E402


def synthetic(n: int, spec) -> ImageData:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, spec.channels, spec.image_size, spec.image_size), generator=g, dtype=torch.uint8)
    y = torch.zeros(n, dtype=torch.long)
    return ImageData(spec, x, y, x[:8], y[:8], "synthetic")


def measure(name: str, preset: str, batch: int, device: torch.device, steps: int, compile: bool = False,
            flop_count: bool = True) -> dict:
    _, model, stage = first_stage(name, preset, FMNIST, device)
    stage.batch_size, stage.steps = batch, steps
    data = synthetic(max(batch * 4, 64), FMNIST)
    x = (torch.rand(batch, 1, 32, 32, device=device) * 2 - 1)
    params = [p for p in stage.module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    stage.module.train()

    def bare():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = stage.loss(x, None, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_bare = timed(bare, device, warmup=2, repeats=steps)

    def harness_step_time(trainer: Trainer) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            def harness():
                trainer.fit(model, [stage], data, Path(tmp) / "c.pt", {}, seed=0)
            return timed(harness, device, warmup=1, repeats=1) / steps  # includes one final checkpoint write

    t_harness = harness_step_time(Trainer(device, progress=False, save_every_s=1e9))
    row = {"model": name, "preset": preset, "batch": batch,
           "harness img/s": batch / t_harness, "bare img/s": batch / t_bare, "overhead ratio": t_harness / t_bare,
           "GFLOP/img": flops_per_image(lambda: stage.loss(x, None, x), batch) / 1e9 if flop_count else None}
    if compile:  # warm-up (the compilation) is the first fit; the timed fit reuses the compiled graph
        row["compiled img/s"] = batch / harness_step_time(Trainer(device, progress=False, save_every_s=1e9,
                                                                  compile=True))
    if name == "dmz":
        row["bare diffusers img/s"] = batch / timed(bare_diffusers_step(model, batch, device), device, 2, steps)
    return row


def bare_diffusers_step(model, batch: int, device: torch.device):
    """The same UNet2DConditionModel configuration, trained bare: eps-MSE on a random code, AdamW."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_config(model.unet.config).to(device).train()
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-5)
    x = torch.randn(batch, 1, 32, 32, device=device)
    code = torch.rand(batch, 1, unet.config.cross_attention_dim, device=device)
    t = torch.randint(0, 1000, (batch,), device=device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = unet(x, t, encoder_hidden_states=code).sample
        loss = ((out[:, :1].float() - x) ** 2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="smoke")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--models", default=",".join(FAMILIES))
    p.add_argument("--compile", action="store_true", help="also time the trainer with torch.compile")
    args = p.parse_args()
    device = torch.device(args.device)
    rows = [measure(m, args.preset, args.batch, device, args.steps, args.compile) for m in args.models.split(",")]
    print(f"# Training throughput ({args.preset}, batch {args.batch})\n\n{environment(device)}\n")
    print(markdown(rows, ["model", "preset", "batch", "harness img/s", "bare img/s", "overhead ratio", "GFLOP/img",
                          "bare diffusers img/s", "compiled img/s"]))


if __name__ == "__main__":
    main()
