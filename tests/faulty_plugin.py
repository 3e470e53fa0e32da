"""A plugin model whose every scored method can break in one chosen way, for tests/test_outputs.py (loaded with
``--import``). The preset names the broken method and the fault: ``generate-nan``, ``encode-raises``, ``clean``, ..."""

import torch
from torch import nn

from dmzbench.api import Baseline, DataSpec, ModelInfo

METHODS = ("encode", "reconstruct", "generate", "decode_latent", "interpolate")
FAULTS = ("nan", "inf", "range", "shape", "count", "dtype", "raises")


def _broken(out: torch.Tensor, fault: str) -> torch.Tensor:
    out = out.clone()
    if fault == "nan":
        out.view(-1)[0] = float("nan")
    elif fault == "inf":
        out.view(-1)[-1] = float("inf")
    elif fault == "range":
        out = out * 3 + 2  # images far outside [-1, 1]; a binary latent's probabilities outside [0, 1]
    elif fault == "shape":
        out = out.reshape(len(out), -1)[:, :-1]
    elif fault == "count":
        out = out[:-1]
    elif fault == "dtype":
        out = out.to(torch.complex64) if out.ndim == 2 else ((out + 1) * 127.5).to(torch.uint8)
    elif fault == "raises":
        raise ValueError("the plugin's own bug")
    return out


class FaultyAdapter:
    def __init__(self, spec: DataSpec, preset: str):
        self.method, _, self.fault = preset.partition("-")
        self.spec = spec
        self.info = ModelInfo("faulty", "faulty", preset, spec.image_size, spec.channels,
                              (spec.channels * spec.image_size**2,), "binary" if self.method == "encode" else "continuous",
                              can_interpolate=True)

    def _out(self, method: str, out: torch.Tensor) -> torch.Tensor:
        return _broken(out, self.fault) if method == self.method else out

    def encode(self, x):
        return self._out("encode", (x.flatten(1) + 1) / 2)  # in [0, 1], a binary latent's bit probabilities

    def reconstruct(self, x, *, steps, generator=None):
        return self._out("reconstruct", x.clamp(-1, 1))

    def generate(self, n, *, steps, generator=None):
        shape = (n, self.spec.channels, self.spec.image_size, self.spec.image_size)
        return self._out("generate", torch.rand(shape, generator=generator) * 2 - 1)

    def decode_latent(self, z, *, steps, generator=None):
        shape = (len(z), self.spec.channels, self.spec.image_size, self.spec.image_size)
        return self._out("decode_latent", (z.reshape(shape) * 2 - 1).clamp(-1, 1))

    def interpolate(self, a, b, *, frames, steps, seed):
        w = torch.linspace(0, 1, frames).view(-1, 1, 1, 1)
        return self._out("interpolate", (1 - w) * a + w * b)


class Faulty(Baseline):
    name = "faulty"
    family = "faulty"
    presets = {"clean": {}} | {f"{m}-{f}": {} for m in METHODS for f in FAULTS}
    default_preset = "clean"
    trainable = False

    def build(self, preset, spec):
        return nn.Identity()

    def stages(self, model, preset, spec):
        return []

    def adapter(self, model, preset, spec):
        return FaultyAdapter(spec, preset)
