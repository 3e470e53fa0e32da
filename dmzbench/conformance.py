"""The conformance suite every registered model gets for free (the tests run it over the whole registry).

Each check returns None when it passes or a one-line reason when it fails, so the same suite can print a pass/fail table
for a third-party adapter.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from dmzbench import registry
from dmzbench.api import (Baseline, CapabilityMissing, DataSpec, ImageData, InterpolatingAdapter, InvertibleAdapter,
                          ModelAdapter, can)
from dmzbench.train import Trainer

SPEC = DataSpec("conformance", image_size=32, channels=1, num_classes=10)
SAMPLE_STEPS = 2  # sampling steps: enough to run every code path, few enough to be fast on a CPU


@dataclass
class Subject:
    baseline: Baseline
    preset: str
    spec: DataSpec
    trained: dict | None = None  # weights after ``train_briefly`` (``dmzbench check --train-steps N``); None: as built

    def fresh(self, seed: int = 0, trained: bool = True) -> tuple[torch.nn.Module, ModelAdapter]:
        torch.manual_seed(seed)
        module = self.baseline.build(self.preset, self.spec).eval()
        if trained and self.trained is not None:
            module.load_state_dict(self.trained)
        return module, self.baseline.adapter(module, self.preset, self.spec)


def synthetic_data(spec: DataSpec, n: int = 64) -> ImageData:
    """Random uint8 images and labels of ``spec``'s shape: enough to run a few training steps of any model."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, spec.channels, spec.image_size, spec.image_size), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, spec.num_classes, (n,), generator=g)
    return ImageData(spec, images, labels, images[: n // 2], labels[: n // 2], source="synthetic (conformance)")


def train_briefly(s: Subject, train_steps: int, checkpoint: Path) -> str:
    """Train ``s``'s preset for at most ``train_steps`` steps per stage on synthetic data, through the real trainer (EMA,
    checkpoint, resume bookkeeping), and keep the weights on ``s`` so that the other checks see a trained model.
    Dependencies (PDAE's ddpm) are attached as built, untrained. Returns a one-line summary."""
    torch.manual_seed(0)
    module = s.baseline.build(s.preset, s.spec)
    deps = {}
    for role, (dep_name, dep_preset) in s.baseline.dependencies(s.preset).items():
        deps[role] = registry.get("model", dep_name)().build(dep_preset, s.spec)
    s.baseline.attach(module, deps)
    stages = [dataclasses.replace(st, steps=min(st.steps, train_steps))
              for st in s.baseline.stages(module, s.preset, s.spec)]
    summaries, _ = Trainer(torch.device("cpu"), progress=False).fit(module, stages, synthetic_data(s.spec), checkpoint,
                                                                   {"conformance": s.baseline.name}, seed=0)
    s.trained = {k: v.detach().clone() for k, v in module.state_dict().items()}
    return ", ".join(f"{x.name}: {x.steps} steps, loss {x.loss_end:.4g}" if x.steps else f"{x.name}: prepared"
                     for x in summaries) or "no training stages"


def _images(n: int, spec: DataSpec, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, spec.channels, spec.image_size, spec.image_size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def check_interface(s: Subject) -> str | None:
    _, a = s.fresh()
    if not isinstance(a, ModelAdapter):
        return "adapter lacks info/encode/reconstruct/generate"
    if a.info.can_interpolate and not isinstance(a, InterpolatingAdapter):
        return "info says it can interpolate, but the adapter has no interpolate (InterpolatingAdapter)"
    if a.info.can_invert and not isinstance(a, InvertibleAdapter):
        return "info says it can invert, but the adapter lacks invert/invert_steps_for (InvertibleAdapter)"
    if (a.info.image_size, a.info.channels) != (s.spec.image_size, s.spec.channels):
        return f"info says {a.info.channels}x{a.info.image_size}px, built for {s.spec.channels}x{s.spec.image_size}px"
    return check_info_names(a.info.name, a.info.preset, s)


def check_info_names(name: str, preset: str, s: Subject) -> str | None:
    """``info.name``/``info.preset`` are what records and the leaderboard show: they must be the registration's."""
    if (name, preset) != (s.baseline.name, s.preset):
        return (f"info names {name!r}/{preset!r}, but the model is registered as {s.baseline.name!r} and built with "
                f"preset {s.preset!r}; report those in ModelInfo")
    return None


def check_encode(s: Subject) -> str | None:
    _, a = s.fresh()
    x = _images(8, s.spec)
    if not a.info.can_encode:
        return _expect_missing(lambda: a.encode(x), "encode")
    z = a.encode(x)
    dim = int(torch.tensor(a.info.latent_shape).prod())
    if z.shape != (8, dim):
        return f"encode returned {tuple(z.shape)}, expected (8, {dim}) from latent_shape {a.info.latent_shape}"
    if not torch.isfinite(z).all():
        return "encode returned non-finite values"
    if a.info.latent_kind == "binary" and (z.min() < 0 or z.max() > 1):
        return "a binary latent's features must be bit probabilities in [0, 1]"
    if not torch.equal(z, a.encode(x)):
        return "encode is not deterministic"
    single = torch.cat([a.encode(x[i : i + 1]) for i in range(8)])
    if (single - z).abs().max() > 1e-5:
        return f"encode depends on the batch (batch 1 vs 8 differ by {(single - z).abs().max():.2e})"
    return None


def _check_images(out: torch.Tensor, n: int, s: Subject, what: str) -> str | None:
    expected = (n, s.spec.channels, s.spec.image_size, s.spec.image_size)
    if tuple(out.shape) != expected:
        return f"{what} returned {tuple(out.shape)}, expected {expected}"
    if not torch.isfinite(out).all() or out.min() < -1 or out.max() > 1:
        return f"{what} must return finite images in [-1, 1]"
    return None


def check_reconstruct(s: Subject) -> str | None:
    _, a = s.fresh()
    x = _images(3, s.spec)
    if not a.info.can_reconstruct:
        return _expect_missing(lambda: a.reconstruct(x, steps=SAMPLE_STEPS), "reconstruct")
    out = a.reconstruct(x, steps=SAMPLE_STEPS, generator=torch.Generator().manual_seed(1))
    again = a.reconstruct(x, steps=SAMPLE_STEPS, generator=torch.Generator().manual_seed(1))
    return _check_images(out, 3, s, "reconstruct") or (None if torch.equal(out, again) else "reconstruct ignores its generator")


def check_generate(s: Subject) -> str | None:
    _, a = s.fresh()
    if not a.info.can_generate:
        return _expect_missing(lambda: a.generate(2, steps=SAMPLE_STEPS), "generate")
    out = a.generate(2, steps=SAMPLE_STEPS, generator=torch.Generator().manual_seed(1))
    again = a.generate(2, steps=SAMPLE_STEPS, generator=torch.Generator().manual_seed(1))
    return _check_images(out, 2, s, "generate") or (None if torch.equal(out, again) else "generate ignores its generator")


def check_decode(s: Subject) -> str | None:
    """The optional ``decode`` capability (``decode_latent``, the bridge transfer protocol): encode's features back to
    images, reproducible under a generator."""
    _, a = s.fresh()
    if not can(a, "decode"):
        return None
    z = a.encode(_images(3, s.spec))
    out = a.decode_latent(z, steps=SAMPLE_STEPS, generator=torch.Generator().manual_seed(1))
    again = a.decode_latent(z, steps=SAMPLE_STEPS, generator=torch.Generator().manual_seed(1))
    return _check_images(out, 3, s, "decode_latent") or (
        None if torch.equal(out, again) else "decode_latent ignores its generator")


def check_checkpoint_round_trip(s: Subject) -> str | None:
    module, a = s.fresh(seed=0)
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    other, b = s.fresh(seed=1, trained=False)
    buf.seek(0)
    other.load_state_dict(torch.load(buf, weights_only=False))
    other.eval()
    if a.info.can_encode:
        x = _images(4, s.spec)
        same, what = torch.equal(a.encode(x), b.encode(x)), "encode"
    else:
        gen = lambda m: m.generate(2, steps=SAMPLE_STEPS, generator=torch.Generator().manual_seed(0))  # noqa: E731
        same, what = torch.equal(gen(a), gen(b)), "generate"
    return None if same else f"{what} differs after a state_dict save/load round trip"


def _expect_missing(call: Callable[[], object], what: str) -> str | None:
    try:
        call()
    except CapabilityMissing:
        return None
    return f"info says it cannot {what}, but {what} did not raise CapabilityMissing"


CHECKS: dict[str, Callable[[Subject], str | None]] = {
    "interface": check_interface,
    "encode": check_encode,
    "reconstruct": check_reconstruct,
    "generate": check_generate,
    "decode": check_decode,
    "checkpoint": check_checkpoint_round_trip,
}


def subject_for(baseline: Baseline, spec: DataSpec = SPEC) -> Subject:
    """The cheapest preset to check: ``init`` where the family has it, else its default."""
    preset = "init" if "init" in baseline.presets else baseline.default_preset
    return Subject(baseline, preset, spec)
