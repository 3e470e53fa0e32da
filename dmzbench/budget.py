"""What a run will cost before it starts: the cost model behind ``dmzbench suite --budget`` and ``--plan``.

A run's seconds = training (each stage: steps x (batch x training FLOPs per image / training rate + per-step
overhead)) + evaluation (the task's declared work: denoiser image-forwards, encoded images, fixed seconds). FLOPs are
counted once per (model, preset, data set) with ``torch.utils.flop_counter`` on the meta device (no weights, no data,
milliseconds), through the public API only: each stage's ``loss`` (x3 for forward + backward), the adapter's
``generate(n, steps=1)`` (one sampling step) and ``encode``.

The rates come from a ``DeviceProfile``: an *assumed* one (a stated fraction of a device's bf16 peak, used for plans
made before any GPU was seen) or one *measured* by ``bench/gpu_check.py --sprint`` on the machine the suite runs on
(per-family training images/s and sampling forwards/s, turned into effective TFLOP/s). Estimates are estimates: the
budgeted suite leaves a safety margin, and the sprint script also stops the suite at a hard deadline.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from dmzbench import workspace
from dmzbench.atomic import write_json
from dmzbench.api import Baseline, CapabilityMissing, DataSpec, InvertibleAdapter, ModelAdapter
from dmzbench.errors import UsageError


@dataclass(frozen=True)
class TaskCost:
    """The work one task run does, in units the cost model can price on any device."""

    denoiser_forwards: int = 0  # image-forwards of the model's sampling network (images x sampling steps)
    encoded_images: int = 0  # images through the encoder
    fixed_s: float = 0.0  # work that does not scale with the model (classifier fits, feature extraction), GPU machine
    # training modes of the same model the run obtains besides its own (transfer's bridge: "source-domain"), priced
    # by the planner as training wherever that checkpoint does not exist yet
    other_modes: tuple[str, ...] = ()


# A task that declares no cost is priced at this (a conservative minute), and the plan says so.
UNDECLARED_TASK_COST = TaskCost(fixed_s=60.0)


@dataclass(frozen=True)
class ModelFlops:
    """FLOPs per image of one (model, preset, data set): training per stage, one sampling step, one encode."""

    stages: tuple[tuple[str, int, int, float], ...]  # (stage name, train steps, batch size, training FLOPs per image)
    forward: float  # FLOPs per image of one sampling step (generate with steps=1)
    encode: float  # FLOPs per image of encode (0 when the model has no encoder)
    # the family's official DDIM-inversion counts by purpose ("recon", "interp"); absent: as many as the decode takes
    invert_steps: tuple[tuple[str, int], ...] = ()

    def invert_steps_for(self, purpose: str, decode_steps: int) -> int:
        return dict(self.invert_steps).get(purpose) or decode_steps


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    source: str  # "assumed: ..." or "measured: ..." -- printed with every plan
    train_tflops: float  # effective TFLOP/s of training steps
    infer_tflops: float  # effective TFLOP/s of sampling and encoding
    step_overhead_s: float  # per optimiser step: kernel launches, EMA, bookkeeping
    batch_overhead_s: float  # per inference batch forward
    infer_batch: int = 250  # images per sampling forward (the tasks' default batch size)
    group_overhead_s: float = 5.0  # per trained model: building it, loading the data set, writing checkpoints
    # tasks declare their fixed seconds (classifier fits, feature extraction) for the GPU machine; a measured CPU
    # profile scales them by what this machine took (bench/cpu_profile.py)
    fixed_scale: float = 1.0
    # measured effective TFLOP/s per model name (from gpu_check), preferred over the device-wide rates
    train_tflops_by_model: dict[str, float] = field(default_factory=dict)
    infer_tflops_by_model: dict[str, float] = field(default_factory=dict)

    def train_rate(self, model: str) -> float:
        return self.train_tflops_by_model.get(model, self.train_tflops) * 1e12

    def infer_rate(self, model: str) -> float:
        return self.infer_tflops_by_model.get(model, self.infer_tflops) * 1e12


H100_BF16_PEAK_TFLOPS = 989.0  # dense bf16, NVIDIA's datasheet (SXM); this machine's matmul measured ~800 (KINDS.md)
PROFILES = {
    # Small 32 px UNets (4-20 GFLOP per training image) reach a small fraction of peak: 10% for training and 20% for
    # sampling are assumptions until the first gpu_check replaces them; 15 ms per optimiser step covers launches.
    "h100": DeviceProfile("h100", "assumed: 10% (training) / 20% (sampling) of the H100's 989 TFLOP/s bf16 peak, "
                          "15 ms per optimiser step, 5 ms per sampling batch; replaced by gpu_check measurements",
                          train_tflops=0.10 * H100_BF16_PEAK_TFLOPS, infer_tflops=0.20 * H100_BF16_PEAK_TFLOPS,
                          step_overhead_s=0.015, batch_overhead_s=0.005),
    # Two CPU cores in fp32 (this project's CI machine), from bench/results/train_throughput-cpu.md's order of size.
    "cpu": DeviceProfile("cpu", "assumed: 2 CPU cores at 0.05 TFLOP/s effective fp32", train_tflops=0.05,
                         infer_tflops=0.05, step_overhead_s=0.01, batch_overhead_s=0.002),
}


# The 2-core CPU profile measured from the committed suites' own records (bench/cpu_profile.py writes it); ``cpu``
# means it where it exists, else the assumed rates above.
MEASURED_CPU = Path(__file__).parent / "profiles" / "cpu.json"


def profile(name_or_file: str) -> DeviceProfile:
    """A named profile (``h100``; ``cpu``: the measured 2-core one, else assumed) or a measurement file (JSON)."""
    if name_or_file == "cpu" and MEASURED_CPU.is_file():
        return measured_profile(json.loads(MEASURED_CPU.read_text()))
    if name_or_file in PROFILES:
        return PROFILES[name_or_file]
    path = Path(name_or_file)
    if not path.is_file():
        raise UsageError(f"--profile {name_or_file!r} is neither a known profile ({', '.join(PROFILES)}) nor a "
                         "gpu_check JSON file (python bench/gpu_check.py --sprint --json FILE writes one)")
    try:
        return measured_profile(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a gpu_check measurement file ({type(exc).__name__}: {exc}); "
                         "regenerate it with python bench/gpu_check.py --sprint --json FILE") from None


def measured_profile(report: dict[str, Any]) -> DeviceProfile:
    """Effective rates from a gpu_check report: per model, measured images/s x counted FLOPs per image."""
    base = PROFILES["h100"] if report.get("cuda") else PROFILES["cpu"]
    train = {m: float(r["train_tflops"]) for m, r in report["models"].items() if r.get("train_tflops")}
    infer = {m: float(r["infer_tflops"]) for m, r in report["models"].items() if r.get("infer_tflops")}
    median = lambda xs, d: sorted(xs)[len(xs) // 2] if xs else d  # noqa: E731
    return DeviceProfile(
        report["device"], report.get("source") or f"measured: gpu_check on {report['device']} ({report['date']})",
        train_tflops=median(list(train.values()), base.train_tflops),
        infer_tflops=median(list(infer.values()), base.infer_tflops),
        step_overhead_s=base.step_overhead_s, batch_overhead_s=base.batch_overhead_s,
        group_overhead_s=float(report.get("group_overhead_s", base.group_overhead_s)),
        fixed_scale=float(report.get("fixed_scale", base.fixed_scale)),
        train_tflops_by_model=train, infer_tflops_by_model=infer)


def _count(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def flops_fingerprint(baseline: Baseline, preset: str, spec: DataSpec) -> str:
    """What a FLOP count depends on: the resolved preset, the data's shape, the family's and the shared network code
    (its module and dmzbench/nn, dmzbench/diffusion) and torch's version."""
    h = hashlib.sha256()
    config = baseline.preset_config(preset) if hasattr(baseline, "preset_config") else baseline.presets.get(preset)
    h.update(json.dumps([type(baseline).__qualname__, config, [spec.image_size, spec.channels], torch.__version__],
                        sort_keys=True, default=str).encode())
    h.update(_code_hash(type(baseline)).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def _code_hash(family: type) -> str:
    """The family's module and the shared network code, hashed once per process (the guard, the planner and every
    record ask for the same counts)."""
    import inspect  # here: only the cache needs it

    h = hashlib.sha256()
    sources = {Path(inspect.getfile(family))} | set((Path(__file__).parent / "nn").glob("*.py")) \
        | set((Path(__file__).parent / "diffusion").glob("*.py"))
    for path in sorted(sources):
        h.update(path.read_bytes())
    return h.hexdigest()


def inspect_model_cached(baseline: Baseline, preset: str, spec: DataSpec, cache: Path | None = None,
                         ) -> tuple[ModelFlops, ModelAdapter]:
    """``inspect_model`` with the counts kept in ``cache`` (a JSON file; default ``$DMZBENCH_HOME/cache/flops.json``)
    under ``flops_fingerprint``: a repeated plan, guard or record builds the model on the meta device for its adapter
    but counts nothing."""
    cache = cache or workspace.home() / "cache" / "flops.json"
    key = flops_fingerprint(baseline, preset, spec)
    try:
        stored = json.loads(cache.read_text()) if cache.is_file() else {}
    except ValueError:  # a damaged cache is only a slower plan
        stored = {}
    if key in stored:
        f = stored[key]
        flops = ModelFlops(tuple(tuple(s) for s in f["stages"]), f["forward"], f["encode"],
                           tuple(tuple(s) for s in f["invert_steps"]))
        with torch.device("meta"):
            return flops, baseline.adapter(baseline.build(preset, spec), preset, spec)
    flops, adapter = inspect_model(baseline, preset, spec)
    stored[key] = dataclasses.asdict(flops)
    write_json(cache, stored)
    return flops, adapter


def inspect_model(baseline: Baseline, preset: str, spec: DataSpec, n: int = 2) -> tuple[ModelFlops, ModelAdapter]:
    """FLOPs per image of a model, and its (weightless) adapter for its capabilities, counted on the meta device; a model whose
    code needs real values (``.item()`` in its loss) is counted on the CPU instead, at batch ``n``."""
    try:
        with torch.device("meta"):
            return _count_model(baseline, preset, spec, n)
    except (RuntimeError, NotImplementedError) as exc:
        if "meta" not in str(exc).lower():
            raise
    torch.manual_seed(0)
    with torch.no_grad():
        return _count_model(baseline, preset, spec, n)


def _count_model(baseline: Baseline, preset: str, spec: DataSpec, n: int) -> tuple[ModelFlops, ModelAdapter]:
    model = baseline.build(preset, spec)
    x = torch.rand(n, spec.channels, spec.image_size, spec.image_size) * 2 - 1
    stages = []
    for stage in baseline.stages(model, preset, spec):
        # forward + backward ~ 3 x forward; counting the backward itself under the counter is far slower on the CPU
        flops = 3 * _count(lambda: stage.loss(x, None, x)) / n if stage.steps else 0.0
        stages.append((stage.name, stage.steps, stage.batch_size, flops))
    adapter = baseline.adapter(model, preset, spec)
    try:
        forward = _count(lambda: adapter.generate(n, steps=1)) / n
    except CapabilityMissing:
        forward = 0.0
    try:
        encode = _count(lambda: adapter.encode(x)) / n
    except CapabilityMissing:
        encode = 0.0
    inversion = ()
    if isinstance(adapter, InvertibleAdapter):  # invertible adapters declare their official counts
        inversion = tuple((p, adapter.invert_steps_for(p, 0)) for p in ("recon", "interp"))
    return ModelFlops(tuple(stages), forward, encode, inversion), adapter


def training_seconds(flops: ModelFlops, model: str, device: DeviceProfile) -> float:
    """Every stage at the model's training rate; a measured rate (the trainer's seconds per step, first stage) already
    holds the per-step overhead, and prices the model's later stages too."""
    overhead = 0.0 if model in device.train_tflops_by_model else device.step_overhead_s
    return sum(train_steps * (batch * f / device.train_rate(model) + overhead)
               for _, train_steps, batch, f in flops.stages)


def task_seconds(cost: TaskCost, flops: ModelFlops, model: str, device: DeviceProfile) -> float:
    rate = device.infer_rate(model)
    batches = math.ceil(cost.denoiser_forwards / device.infer_batch) if cost.denoiser_forwards else 0
    return (cost.denoiser_forwards * flops.forward / rate + batches * device.batch_overhead_s
            + cost.encoded_images * flops.encode / rate + cost.fixed_s * device.fixed_scale)
