"""Linear probe: how linearly separable the classes are in a model's latent.

Three protocols (PROTOCOLS.md); the record names the one used (``task.config.protocol``):
- ``kfold5`` (default; DMZ / InfoDiffusion): 5-fold KFold(shuffle=True, random_state=0) over the latents of one split,
  StandardScaler fitted on the training fold, scikit-learn LogisticRegression with default parameters; accuracy mean and
  std over folds.
- ``split``: fit on the train split's latents, score on the test split ("linear eval"); accuracy_std is the binomial
  standard error sqrt(p (1 - p) / n) of the test accuracy.
- ``dmz-official``: exlab-research/dmz ``downstream_task_eval.py`` (tasks/dmz_official.py): train and test latents
  joined, KFold(5, shuffle, random_state=0), plain LogisticRegression() without a scaler, on the latent form the
  official ``ddpm_eval.py`` saves; ``binary=true`` thresholds it at 0.5 (the script's ``--binary``).

Toolkit choices: ``kfold5`` uses the test split (10k images for Fashion-MNIST) unless ``images=train`` or ``all``;
``max_iter`` stays at scikit-learn's default (100), as the protocol says "default parameters" (on 1024-d
pixels lbfgs then stops before full convergence; the ConvergenceWarning is silenced, and more iterations gave 0.838 vs
0.844 on Fashion-MNIST pixels, so the default is kept); ``max_images`` caps the images for quick runs and is recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dmzbench.api import ImageData, Metric, ModelAdapter, ModelInfo, TaskContext
from dmzbench.budget import TaskCost
from dmzbench.tasks import dmz_official
from dmzbench.tasks.linear_fit import linear_fit_context


@dataclass(frozen=True)
class ProbeConfig:
    protocol: Literal["kfold5", "split", "dmz-official"] = "kfold5"
    images: Literal["test", "train", "all"] = "test"  # which split kfold5 runs on
    max_images: int = 0  # 0 = all
    max_iter: int = 100
    binary: bool = False  # dmz-official only: threshold the latents at 0.5

    def __post_init__(self):
        dmz_official.check_binary_option(self.protocol, self.binary)
        if self.max_images < 0:
            raise ValueError(f"max_images must be >= 0 (0 = all), got {self.max_images}")
        if self.max_iter <= 0:
            raise ValueError(f"max_iter must be > 0, got {self.max_iter}")


def probe_classifier(max_iter: int):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))


def fit_score(train_x, train_y, test_x, test_y, max_iter: int) -> float:
    with linear_fit_context():
        return float(probe_classifier(max_iter).fit(train_x, train_y).score(test_x, test_y))


def kfold_accuracies(x: np.ndarray, y: np.ndarray, max_iter: int) -> list[float]:
    folds = KFold(n_splits=5, shuffle=True, random_state=0).split(x)
    return [fit_score(x[tr], y[tr], x[te], y[te], max_iter) for tr, te in folds]


class Probe:
    name = "probe"
    version = "1"
    Config = ProbeConfig
    default_dataset = "fashion-mnist"
    requires = frozenset({"encode"})
    training_mode = ""
    group = "Representation"
    position = 1
    control = True  # the run prints the init control's accuracy beside the model's
    metrics = (
        Metric("accuracy", True, "Linear-probe classification accuracy on the latent (5-fold or train/test split).",
               uncertainty="accuracy_std",
               uncertainty_meaning="std over the 5 folds (kfold5) or binomial standard error (split)"),
        Metric("n_images", None, "Number of latents the probe saw.", shown=False),
    )
    artifacts = {}

    @staticmethod
    def cost(config: ProbeConfig, info: ModelInfo, invert_steps=None) -> TaskCost:
        """Encoding the split(s) once, then 5 (or 1) logistic regressions on the CPU: ~0.3 us per image x dim x fit
        (measured ~0.8 us on 2 CPU cores in the ci records; the GPU machine has 16 cores)."""
        n = {"test": 10_000, "train": 60_000, "all": 70_000}[config.images if config.protocol == "kfold5" else "all"]
        n = min(n, config.max_images) if config.max_images else n
        dim = math.prod(info.latent_shape)
        return TaskCost(encoded_images=n, fixed_s=2 + 3e-7 * n * dim * (5 if config.protocol == "kfold5" else 1))

    def run(self, adapter: ModelAdapter, data: ImageData, config: ProbeConfig, ctx: TaskContext) -> dict[str, float]:
        def latents(split: str) -> tuple[np.ndarray, np.ndarray]:
            feats = ctx.cached_features(split)
            labels = data.split(split)[1]
            if config.max_images:
                feats, labels = feats[: config.max_images], labels[: config.max_images]
            return feats.double().numpy(), labels.numpy()

        if config.protocol == "dmz-official":
            dmz_official.check_binary(adapter, config.binary)
            x, sizes = dmz_official.joined_latents(adapter, data, ctx, config.max_images, config.binary)
            y = dmz_official.joined_labels(lambda s: data.split(s)[1], sizes)
            ctx.log(f"probe: dmz-official on {len(x)} joined train+test latents of dim {x.shape[1]}")
            acc = dmz_official.fold_accuracies(x, y, config.max_iter)
            return {"accuracy": float(acc.mean()), "accuracy_std": float(acc.std()), "n_images": len(x)}
        if config.protocol == "split":
            (tx, ty), (vx, vy) = latents("train"), latents("test")
            ctx.log(f"probe: split protocol, {len(tx)} train / {len(vx)} test latents of dim {tx.shape[1]}")
            acc = fit_score(tx, ty, vx, vy, config.max_iter)
            return {"accuracy": acc, "accuracy_std": float(np.sqrt(acc * (1 - acc) / len(vx))), "n_images": len(vx)}

        splits = ["train", "test"] if config.images == "all" else [config.images]
        parts = [latents(s) for s in splits]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        ctx.log(f"probe: kfold5 on {len(x)} latents of dim {x.shape[1]} ({config.images})")
        acc = kfold_accuracies(x, y, config.max_iter)
        return {"accuracy": float(np.mean(acc)), "accuracy_std": float(np.std(acc)), "n_images": len(x)}


