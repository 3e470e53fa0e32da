"""AUROC attribute classification: per binary attribute, how well a linear classifier on the latent ranks it.

Protocol (InfoDiffusion, PROTOCOLS.md): the latents of the first ``max_images`` images (10,000) of a split,
5-fold KFold(shuffle=True, random_state=0), StandardScaler + LogisticRegression (default parameters) fitted on the
training folds, roc_auc_score of the predicted probabilities on the held-out fold; per attribute the mean over folds;
``auroc_mean`` is the mean over attributes. A fold whose held-out part has one class only is skipped and counted
(``skipped_folds``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from dmzbench.api import ImageData, ModelAdapter, TaskContext
from dmzbench.errors import UsageError
from tasks.probe import probe_classifier


@dataclass(frozen=True)
class AUROCConfig:
    split: Literal["test", "train"] = "test"
    max_images: int = 10_000
    max_iter: int = 100

    def __post_init__(self):
        if self.max_images < 10:
            raise ValueError(f"max_images must be >= 10 for 5 folds, got {self.max_images}")


def attribute_aurocs(x: np.ndarray, attrs: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, int]:
    """(N, D) features, (N, A) 0/1 attributes -> per-attribute mean AUROC over 5 folds, and the skipped folds."""
    scores, skipped = [], 0
    for a in range(attrs.shape[1]):
        y, per_fold = attrs[:, a], []
        for tr, te in KFold(n_splits=5, shuffle=True, random_state=0).split(x):
            if len(np.unique(y[te])) < 2 or len(np.unique(y[tr])) < 2:
                skipped += 1
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = probe_classifier(max_iter).fit(x[tr], y[tr])
            per_fold.append(roc_auc_score(y[te], clf.predict_proba(x[te])[:, 1]))
        scores.append(np.mean(per_fold) if per_fold else np.nan)
    return np.array(scores), skipped


class AUROC:
    name = "auroc"
    version = "1"
    Config = AUROCConfig
    default_dataset = "shapes"
    requires = frozenset({"encode"})
    data_needs = frozenset({"attributes"})  # checked from the data set's ``provides`` before it is loaded
    training_mode = ""

    @staticmethod
    def validate(data: ImageData, config: AUROCConfig) -> None:
        if data.attributes(config.split) is None:
            raise UsageError(f"data set {data.spec.name} has no attributes; use shapes or celeba64 for auroc")

    def run(self, adapter: ModelAdapter, data: ImageData, config: AUROCConfig, ctx: TaskContext) -> dict[str, float]:
        self.validate(data, config)
        attrs = data.attributes(config.split)
        n = min(config.max_images, len(attrs))
        x = ctx.cached_features(config.split)[:n].double().numpy()
        scores, skipped = attribute_aurocs(x, attrs[:n].numpy(), config.max_iter)
        ctx.details.update(n_images=n, split=config.split, attributes=list(data.attribute_names))
        ctx.log(f"auroc: {len(scores)} attributes on {n} latents of dim {x.shape[1]}")
        out = {"auroc_mean": float(np.nanmean(scores)), "skipped_folds": float(skipped)}
        out.update({f"auroc_{name}": float(s) for name, s in zip(data.attribute_names, scores)})
        return out
