"""What several built-in tasks share: the feature-space options of their configs, and mapping test images through a
model batch by batch."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dmzbench.api import ImageData, TaskContext, to_model_range
from dmzbench.images import in_batches, to_uint8
from dmzbench.metrics.features import FeatureSpace, check_space_name, resolve


class FeatureSpaceOptions:
    """Base of a task config (a frozen dataclass) that scores in a feature space. The config declares the two fields
    itself, where they stand in it (the field order is the key order of ``task.config`` in a record):

        features: str = "pinned"  # pinned | inception | a pinned space's name
        inception_weights: str = ""  # a local Inception-v3 file; "" = $DMZBENCH_INCEPTION_WEIGHTS

    A config with its own ``__post_init__`` calls ``super().__post_init__()`` first."""

    features: str
    inception_weights: str

    def __post_init__(self) -> None:
        check_space_name(self.features)  # a misspelt space fails before any work is done

    def feature_space(self, data: ImageData, device: torch.device) -> FeatureSpace:
        """The feature space these options name, for ``data`` (``pinned`` is the data set's own), on ``device``."""
        return resolve(self.features, data.spec.name, inception_weights=self.inception_weights, device=device)


def map_images(fn: Callable[[torch.Tensor], torch.Tensor], images_uint8: torch.Tensor, batch_size: int,
               ctx: TaskContext, what: str) -> torch.Tensor:
    """``fn`` over uint8 images, batch by batch: each batch goes in the model's range on the run's device, comes back
    as uint8 images on the CPU; progress is logged as ``<what> i/n``."""

    def batch(i: int, k: int) -> torch.Tensor:
        return to_uint8(fn(to_model_range(images_uint8[i : i + k]).to(ctx.device)))

    return in_batches(batch, len(images_uint8), batch_size, log=ctx.log, what=what)
