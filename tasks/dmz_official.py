"""The ``dmz-official`` protocol of the probe and AUROC tasks: exlab-research/dmz ``downstream_task_eval.py`` on the
latents ``ddpm_eval.py`` saves.

What the official scripts do, and this module repeats:
- latents: ``ddpm_eval.py`` saves ``model.encode(img).hidden`` of the train and the test split; for DMZ that is ONE soft
  Gumbel-softmax sample (tau = 1) of each bit's two-way logits, flattened one-hot pairs (B, 2d). An adapter offers that
  form through the optional ``encode_sample(x, generator=)``; a family without it gives its ``encode`` features;
- ``--binary``: the latents are thresholded at 0.5 (for DMZ's soft pairs, a hard Bernoulli sample of every bit);
- the train and test latents are joined, then KFold(n_splits=5, shuffle=True, random_state=0), and a plain
  scikit-learn ``LogisticRegression()`` (no scaler, default parameters) is fitted per fold; accuracy, or with
  ``--auroc`` the roc_auc_score of ``predict_proba[:, 1]``, is reported per fold.

Toolkit choices: the Gumbel noise comes from the run's seeded generator (the official script uses the global RNG);
``max_images`` (0 = all) caps each split before joining; a fold whose training or held-out part has one class only is
skipped and counted for AUROC (the official script would stop with an error).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from dmzbench.api import ImageData, ModelAdapter, TaskContext, to_model_range
from dmzbench.errors import UsageError
from dmzbench.tasks.linear_fit import linear_fit_context

SPLITS = ("train", "test")  # joined in this order, as torch.cat((X_train, X_test)) does


def check_binary_option(protocol: str, binary: bool) -> None:
    """For config validation (probe, AUROC): ``binary`` is this protocol's option (the official script's --binary)."""
    if binary and protocol != "dmz-official":
        raise ValueError("binary=true belongs to protocol=dmz-official (the official script's --binary)")


def check_binary(adapter: ModelAdapter | None, binary: bool) -> None:
    """``binary`` thresholds probabilities at 0.5, which only means something for a binary latent."""
    if binary and adapter is not None and adapter.info.latent_kind != "binary":
        raise UsageError(f"binary=true thresholds a binary latent at 0.5; {adapter.info.name}'s latent is "
                         f"{adapter.info.latent_kind}; drop binary=true")


@torch.no_grad()
def _sampled(adapter: ModelAdapter, images: torch.Tensor, ctx: TaskContext, key: int, batch_size: int = 500):
    g = ctx.generator(key)
    chunks = [adapter.encode_sample(to_model_range(images[i : i + batch_size]).to(ctx.device), generator=g).float().cpu()
              for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def joined_latents(adapter: ModelAdapter | None, data: ImageData, ctx: TaskContext, max_images: int,
                   binary: bool) -> tuple[np.ndarray, list[int]]:
    """The train then test latents, joined as the official script does, and the number taken from each split.
    Records which latent form was used in ``ctx.details``."""
    sample = getattr(adapter, "encode_sample", None)
    parts, sizes = [], []
    for key, split in enumerate(SPLITS):
        images = data.split(split)[0]
        n = min(max_images, len(images)) if max_images else len(images)
        feats = _sampled(adapter, images[:n], ctx, key) if sample is not None else ctx.cached_features(split)[:n]
        parts.append(feats.double())
        sizes.append(n)
    x = torch.cat(parts)
    if binary:
        x = (x > 0.5).double()
    ctx.details.update(
        latent=("encode_sample: one posterior sample in the official evaluation's form" if sample is not None
                else "encode: the adapter's deterministic features"),
        joined_splits={s: n for s, n in zip(SPLITS, sizes)}, binary=binary, scaler="none",
    )
    return x.numpy(), sizes


def _fit(x: np.ndarray, y: np.ndarray, max_iter: int) -> LogisticRegression:
    with linear_fit_context():
        return LogisticRegression(max_iter=max_iter).fit(x, y)


def folds(n: int):
    return KFold(n_splits=5, shuffle=True, random_state=0).split(np.zeros((n, 1)))


def fold_accuracies(x: np.ndarray, y: np.ndarray, max_iter: int = 100) -> np.ndarray:
    return np.array([_fit(x[tr], y[tr], max_iter).score(x[te], y[te]) for tr, te in folds(len(x))])


def fold_aurocs(x: np.ndarray, y: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, int]:
    """Per-fold AUROC of one binary attribute (NaN for a skipped fold) and the number skipped."""
    out, skipped = [], 0
    for tr, te in folds(len(x)):
        if len(np.unique(y[tr])) < 2 or len(np.unique(y[te])) < 2:
            out.append(np.nan)
            skipped += 1
            continue
        out.append(roc_auc_score(y[te], _fit(x[tr], y[tr], max_iter).predict_proba(x[te])[:, 1]))
    return np.array(out), skipped


def joined_labels(parts: Callable[[str], torch.Tensor], sizes: list[int]) -> np.ndarray:
    return torch.cat([parts(s)[:n] for s, n in zip(SPLITS, sizes)]).numpy()
