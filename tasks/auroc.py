"""AUROC attribute classification: per binary attribute, how well a linear classifier on the latent ranks it.

Protocol (InfoDiffusion, PROTOCOLS.md): the latents of the first ``max_images`` images (10,000) of a split,
5-fold KFold(shuffle=True, random_state=0), StandardScaler + LogisticRegression (default parameters) fitted on the
training folds, roc_auc_score of the predicted probabilities on the held-out fold; per attribute the mean over folds;
``auroc_mean`` is the mean over attributes, ``auroc_mean_std`` the std over the 5 folds of the per-fold mean over
attributes (its uncertainty). A fold whose held-out part has one class only is skipped and counted
(``skipped_folds``).

``protocol=dmz-official`` (tasks/dmz_official.py) is exlab-research/dmz ``downstream_task_eval.py --auroc``: the train
and test latents joined (each split capped at ``max_images``, 0 = all), plain LogisticRegression() without a scaler,
the latent form the official ``ddpm_eval.py`` saves, ``binary=true`` for its ``--binary``; its ``auroc_mean_std`` is the
same statistic, the std over the 5 folds of the per-fold mean over attributes. The record names the protocol
(``task.config.protocol``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from dmzbench.api import ImageData, Metric, ModelAdapter, ModelInfo, TaskContext
from dmzbench.errors import UsageError
from dmzbench.budget import TaskCost
from dmzbench.tasks import dmz_official
from dmzbench.tasks.linear_fit import linear_fit_context
from dmzbench.tasks.probe import probe_classifier


@dataclass(frozen=True)
class AUROCConfig:
    protocol: Literal["infodiffusion", "dmz-official"] = "infodiffusion"
    split: Literal["test", "train"] = "test"  # infodiffusion only; dmz-official joins both
    max_images: int = 10_000  # per split for dmz-official, where 0 = all
    max_iter: int = 100
    binary: bool = False  # dmz-official only: threshold the latents at 0.5

    def __post_init__(self):
        dmz_official.check_binary_option(self.protocol, self.binary)
        if self.max_images < 10 and not (self.protocol == "dmz-official" and self.max_images == 0):
            raise ValueError(f"max_images must be >= 10 for 5 folds, got {self.max_images}")


def attribute_aurocs(x: np.ndarray, attrs: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, int, float]:
    """(N, D) features, (N, A) 0/1 attributes -> per-attribute mean AUROC over 5 folds, the skipped folds, and the std
    over folds of the per-fold mean over attributes."""
    folds = list(KFold(n_splits=5, shuffle=True, random_state=0).split(x))
    table = np.full((attrs.shape[1], len(folds)), np.nan)  # attribute x fold
    skipped = 0
    for a in range(attrs.shape[1]):
        y = attrs[:, a]
        for f, (tr, te) in enumerate(folds):
            if len(np.unique(y[te])) < 2 or len(np.unique(y[tr])) < 2:
                skipped += 1
                continue
            with linear_fit_context():
                clf = probe_classifier(max_iter).fit(x[tr], y[tr])
            table[a, f] = roc_auc_score(y[te], clf.predict_proba(x[te])[:, 1])
    with warnings.catch_warnings():  # an attribute or fold with no scorable split is NaN, and says so by being NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = np.nanmean(table, axis=1)
        fold_std = float(np.nanstd(np.nanmean(table, axis=0)))
    return scores, skipped, fold_std


class AUROC:
    name = "auroc"
    version = "1"
    Config = AUROCConfig
    default_dataset = "shapes"
    requires = frozenset({"encode"})
    data_needs = frozenset({"attributes"})  # checked from the data set's ``provides`` before it is loaded
    training_mode = ""
    group = "Representation"
    control = True  # the run prints the init control's AUROC beside the model's
    position = 2
    metrics = (
        Metric("auroc_mean", True, "Mean over binary attributes of the 5-fold AUROC of a logistic regression on the "
               "latent.", uncertainty="auroc_mean_std", uncertainty_meaning="std over the 5 folds"),
        Metric("skipped_folds", None, "Folds skipped because their held-out part had one class only.", shown=False),
        Metric("auroc_*", True, "AUROC of one attribute (auroc_<attribute>).", shown=False),
    )
    artifacts = {}

    @staticmethod
    def cost(config: AUROCConfig, info: ModelInfo, invert_steps=None) -> TaskCost:
        """Encoding up to max_images, then a 5-fold logistic regression per attribute on the CPU (priced for 8
        attributes, as ``shapes`` has, at ~0.3 us per image x dim x fit)."""
        n = config.max_images
        return TaskCost(encoded_images=n, fixed_s=2 + 3e-7 * n * math.prod(info.latent_shape) * 8 * 5)

    @staticmethod
    def validate(data: ImageData, config: AUROCConfig) -> None:
        if any(data.attributes(s) is None for s in ([config.split] if config.protocol == "infodiffusion" else
                                                    dmz_official.SPLITS)):
            raise UsageError(f"data set {data.spec.name} has no attributes; use shapes or celeba64 for auroc")

    def run(self, adapter: ModelAdapter, data: ImageData, config: AUROCConfig, ctx: TaskContext) -> dict[str, float]:
        self.validate(data, config)
        if config.protocol == "dmz-official":
            return self.run_official(adapter, data, config, ctx)
        attrs = data.attributes(config.split)
        n = min(config.max_images, len(attrs))
        x = ctx.cached_features(config.split)[:n].double().numpy()
        scores, skipped, fold_std = attribute_aurocs(x, attrs[:n].numpy(), config.max_iter)
        ctx.details.update(n_images=n, split=config.split, attributes=list(data.attribute_names))
        ctx.log(f"auroc: {len(scores)} attributes on {n} latents of dim {x.shape[1]}")
        out = {"auroc_mean": float(np.nanmean(scores)), "auroc_mean_std": fold_std, "skipped_folds": float(skipped)}
        out.update({f"auroc_{name}": float(s) for name, s in zip(data.attribute_names, scores)})
        return out

    @staticmethod
    def run_official(adapter: ModelAdapter, data: ImageData, config: AUROCConfig, ctx: TaskContext) -> dict[str, float]:
        dmz_official.check_binary(adapter, config.binary)
        x, sizes = dmz_official.joined_latents(adapter, data, ctx, config.max_images, config.binary)
        attrs = dmz_official.joined_labels(data.attributes, sizes)
        per_fold, skipped = zip(*(dmz_official.fold_aurocs(x, attrs[:, a], config.max_iter) for a in range(attrs.shape[1])))
        table = np.stack(per_fold)  # (attributes, folds), NaN where a fold was skipped
        ctx.details.update(n_images=len(x), attributes=list(data.attribute_names))
        ctx.log(f"auroc: dmz-official, {attrs.shape[1]} attributes on {len(x)} joined latents of dim {x.shape[1]}")
        # the official summary: per fold the mean over attributes, then mean and std over folds
        by_fold = np.nanmean(table, axis=0)
        out = {"auroc_mean": float(np.nanmean(by_fold)), "auroc_mean_std": float(np.nanstd(by_fold)),
               "skipped_folds": float(sum(skipped))}
        out.update({f"auroc_{name}": float(np.nanmean(s)) for name, s in zip(data.attribute_names, table)})
        return out
