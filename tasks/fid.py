"""Few-step FID: how good unconditional samples are at T = 10, 20, 50, 100 sampling steps.

N samples per T (default 10,000, DMZ's protocol; DiffAE/PDAE use 50,000) against the training set (DiffAE's protocol)
or the test set, in a feature space that the record names with its sha256: the data set's pinned extractor (offline,
comparable within dmzbench) or Inception-v3 pool3 (comparable with papers; needs its weights). Each model samples with
its native sampler from random x_T (recorded in ``details``). Sample grids are saved beside the record.

Uncertainty (``fid_T<T>_std``): the std of the FID over ``BOOTSTRAP`` = 10 (``dmzbench/metrics/frechet.py``) bootstrap
resamples (with replacement,
N each) of the N sample features, the reference statistics fixed; the resampling is seeded by the run's seed, so a
rerun gives the same estimate. It measures how much the FID moves with the finite sample, not with the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from dmzbench.api import ImageData, Metric, ModelAdapter, ModelInfo, TaskContext
from dmzbench.config import at_most
from dmzbench.images import in_batches, save_grid, to_uint8
from dmzbench.metrics.features import FeatureSpace
from dmzbench.metrics.frechet import BOOTSTRAP, BOOTSTRAP_MEANING, GaussianStats, bootstrap_std, frechet_distance
from dmzbench.run.features import reference_features
from dmzbench.budget import TaskCost
from dmzbench.tasks.common import FeatureSpaceOptions


@dataclass(frozen=True)
class FIDConfig(FeatureSpaceOptions):
    steps: tuple[int, ...] = at_most((10, 20, 50, 100), 10_000)
    n_samples: int = at_most(10_000, 200_000)  # papers use 10k-50k; a bound stops a typo running for days
    reference: Literal["train", "test"] = "train"
    n_reference: int = 0  # 0 = the whole split
    features: str = "pinned"  # pinned | inception | a pinned space's name
    inception_weights: str = ""
    batch_size: int = at_most(250, 100_000)

    def __post_init__(self):
        super().__post_init__()
        if self.n_samples < 2 or self.batch_size < 1 or self.n_reference < 0:
            raise ValueError("n_samples must be >= 2, batch_size >= 1 and n_reference >= 0")
        if not self.steps or min(self.steps) < 1:
            raise ValueError(f"steps must be positive sampling-step counts, got {self.steps}")
        repeated = sorted({s for s in self.steps if self.steps.count(s) > 1})
        if repeated:  # each count would be sampled and scored again, for the same number
            raise ValueError(f"steps lists {', '.join(map(str, repeated))} more than once; give each count once")


def reference_stats(data: ImageData, split: str, n: int, space: FeatureSpace,
                    log: Callable[[str], None] = print) -> GaussianStats:
    """The reference split's statistics; its features come from the feature cache after the first run."""
    images = data.split(split)[0]
    images = images[:n] if n else images
    return GaussianStats.of(reference_features(images, space.sha256, space.name, space.extract, log))


class FID:
    name = "fid"
    version = "1"
    Config = FIDConfig
    default_dataset = "fashion-mnist"
    requires = frozenset({"generate"})
    training_mode = ""
    group = "Generation (few-step FID)"
    position = 4
    metrics = (Metric("fid_T*", False, "Fréchet distance of N unconditional samples drawn with T sampling steps "
                      "(fid_T<T>) to the reference split, in the named feature space.", uncertainty="fid_T*_std",
                      uncertainty_meaning=BOOTSTRAP_MEANING),)
    artifacts = {"samples_T*.png": "unconditional samples"}

    @staticmethod
    def cost(config: FIDConfig, info: ModelInfo, invert_steps=None) -> TaskCost:
        """n_samples images at each T, plus feature extraction of the samples and the reference."""
        return TaskCost(denoiser_forwards=config.n_samples * sum(config.steps), fixed_s=3 + len(config.steps))

    def run(self, adapter: ModelAdapter, data: ImageData, config: FIDConfig, ctx: TaskContext) -> dict[str, float]:
        space = config.feature_space(data, ctx.device)
        ref = reference_stats(data, config.reference, config.n_reference, space, ctx.log)
        ctx.details.update(space.describe(), n_samples=config.n_samples, reference=config.reference,
                           n_reference=ref.n, sampler=adapter.info.sampler, x_T="random", seed=ctx.seed,
                           uncertainty=BOOTSTRAP_MEANING)
        metrics = {}
        for steps in config.steps:
            g = ctx.generator(steps)
            samples = in_batches(lambda i, k: to_uint8(adapter.generate(k, steps=steps, generator=g)),
                                 config.n_samples, config.batch_size, log=ctx.log, what=f"fid: T={steps}: sampled")
            features = space.extract(samples).double()
            metrics[f"fid_T{steps}"] = frechet_distance(GaussianStats.of(features), ref)
            metrics[f"fid_T{steps}_std"] = bootstrap_std(features, ref, BOOTSTRAP, ctx.seed + steps)
            save_grid(ctx.output_dir / f"samples_T{steps}.png", samples[:64])
            ctx.log(f"fid: T={steps}: {metrics[f'fid_T{steps}']:.3f} ± {metrics[f'fid_T{steps}_std']:.2g} "
                    f"({config.n_samples} samples, {space.name})")
        return metrics
