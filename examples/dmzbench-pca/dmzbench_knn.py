"""A complete third-party dmzbench task: k-nearest-neighbour agreement in a model's latent, using only
``dmzbench.api``. It declares its metrics (direction, uncertainty, meaning), so the leaderboard ranks them the right way
round with no change to dmzbench: ``neighbour_agreement`` is higher-is-better, ``neighbour_distance`` lower.

Protocol: the latents of the first ``n_test`` test images are matched to their ``k`` nearest training latents (the
first ``n_train``, Euclidean); agreement is the share of test images whose neighbours' majority label is their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from dmzbench.api import ImageData, Metric, ModelAdapter, TaskContext


@dataclass(frozen=True)
class KNNConfig:
    k: int = 5
    n_train: int = 10_000
    n_test: int = 2_000

    def __post_init__(self):
        if self.k < 1 or self.n_train < self.k or self.n_test < 2:
            raise ValueError("k must be >= 1, n_train >= k and n_test >= 2")


class KNN:
    name = "knn"
    version = "1"
    Config = KNNConfig
    default_dataset = "fashion-mnist"
    requires = frozenset({"encode"})
    training_mode = ""
    group = "Neighbourhoods (plugin task)"
    position = 50
    metrics = (
        Metric("neighbour_agreement", True, "Share of test images whose k nearest training latents mostly share their "
               "label.", uncertainty="neighbour_agreement_se", uncertainty_meaning="binomial standard error"),
        Metric("neighbour_distance", False, "Mean distance to the k nearest training latents, over the latents' mean "
               "norm (lower = tighter neighbourhoods)."),
    )
    artifacts = {}

    def run(self, adapter: ModelAdapter, data: ImageData, config: KNNConfig, ctx: TaskContext) -> dict[str, float]:
        train_x = ctx.cached_features("train")[: config.n_train].double().numpy()
        test_x = ctx.cached_features("test")[: config.n_test].double().numpy()
        train_y = data.train_labels[: config.n_train].numpy()
        test_y = data.test_labels[: config.n_test].numpy()
        knn = KNeighborsClassifier(n_neighbors=config.k).fit(train_x, train_y)
        agreement = float((knn.predict(test_x) == test_y).mean())
        distances, _ = knn.kneighbors(test_x)
        scale = float(np.linalg.norm(train_x, axis=1).mean()) or 1.0
        ctx.details.update(n_images=len(test_x), n_train=len(train_x), k=config.k)
        return {"neighbour_agreement": agreement,
                "neighbour_agreement_se": float(np.sqrt(agreement * (1 - agreement) / len(test_x))),
                "neighbour_distance": float(distances.mean()) / scale}
