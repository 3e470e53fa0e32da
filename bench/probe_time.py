"""Latent extraction and linear-probe time for all 70k Fashion-MNIST images (train + test), per model.

    python bench/probe_time.py [--models dmz,diffae,...] [--preset init] [--device cpu] [--images 70000]

For each model: seconds to encode the images (batches of 500, as the runner does) and seconds for the kfold5 probe
(StandardScaler + LogisticRegression, five folds) on those latents. The ``init`` preset is the default: the time does
not depend on the weights, and nothing needs training first.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import environment, markdown  # noqa: E402
from dmzbench import data, registry  # noqa: E402
from dmzbench.run.features import encode_all  # noqa: E402
from dmzbench.tasks.probe import kfold_accuracies  # noqa: E402

ENCODERS = ("dmz", "diffae", "pdae", "sdvae", "dgae", "pixels")


def measure(name: str, preset: str, images: torch.Tensor, labels: np.ndarray, device: torch.device) -> dict:
    baseline = registry.get("model", name)()
    spec = data.spec_of("fashion-mnist")
    preset = preset if preset in baseline.presets else baseline.default_preset
    torch.manual_seed(0)
    adapter = baseline.adapter(baseline.build(preset, spec).to(device).eval(), preset, spec)
    t = time.perf_counter()
    feats = encode_all(adapter, images, device).double().numpy()
    t_encode = time.perf_counter() - t
    t = time.perf_counter()
    acc = kfold_accuracies(feats, labels, max_iter=100)
    t_probe = time.perf_counter() - t
    return {"model": name, "preset": preset, "images": len(images), "latent dim": feats.shape[1],
            "encode s": t_encode, "encode img/s": len(images) / t_encode, "probe s": t_probe,
            "accuracy": float(np.mean(acc))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(ENCODERS))
    p.add_argument("--preset", default="init")
    p.add_argument("--device", default="cpu")
    p.add_argument("--images", type=int, default=70_000)
    args = p.parse_args()
    device = torch.device(args.device)
    d = data.load("fashion-mnist")
    images = torch.cat([d.train_images, d.test_images])[: args.images]
    labels = torch.cat([d.train_labels, d.test_labels])[: args.images].numpy()
    rows = [measure(m, args.preset, images, labels, device) for m in args.models.split(",")]
    print(f"# Latent extraction and kfold5 probe, {len(images)} Fashion-MNIST images\n\n{environment(device)}\n")
    print(markdown(rows, ["model", "preset", "images", "latent dim", "encode s", "encode img/s", "probe s",
                          "accuracy"]))


if __name__ == "__main__":
    main()
