"""The public seams of dmzbench: what a model, a model family, a data set and a task must provide.

Everything a third-party package needs to add a model or a task is in this module. Images crossing these seams are float
tensors in [-1, 1] of shape (B, C, H, W).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from dmzbench.presets import config_dict, resolve

LatentKind = Literal["binary", "continuous", "none"]
SOURCE_DOMAIN = "source-domain"  # training mode of a model of a paired data set's source images alone (ImageData.source_domain)


class CapabilityMissing(NotImplementedError):
    """Raised by an adapter method the model cannot do (e.g. ``generate`` on the ``pixels`` reference)."""


# ----------------------------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class DataSpec:
    """What a model is built for: the shape of the images of one data set."""

    name: str
    image_size: int
    channels: int
    num_classes: int


@dataclass(frozen=True)
class ImageData:
    """A whole data set in memory: uint8 images (N, C, H, W) and integer labels, split into train and test."""

    spec: DataSpec
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    source: str  # where the files were found, for the result record
    # Binary attributes (N, A) for AUROC (CelebA's 40, the shapes set's 8), with their names.
    train_attributes: Tensor | None = None
    test_attributes: Tensor | None = None
    attribute_names: tuple[str, ...] = ()
    # Paired data sets (edges -> photo): the source-domain image of each (target) image.
    train_sources: Tensor | None = None
    test_sources: Tensor | None = None
    # How the images were made from the files (crop, resize, split rule), recorded with every result: papers differ
    # (CelebA-64: DMZ/InfoDiffusion vs DiffAE/PDAE crops), and numbers of two preprocessings are not comparable.
    preprocessing: str = ""

    def split(self, name: Literal["train", "test"]) -> tuple[Tensor, Tensor]:
        return (self.train_images, self.train_labels) if name == "train" else (self.test_images, self.test_labels)

    def attributes(self, name: Literal["train", "test"]) -> Tensor | None:
        return self.train_attributes if name == "train" else self.test_attributes

    def sources(self, name: Literal["train", "test"]) -> Tensor | None:
        return self.train_sources if name == "train" else self.test_sources

    @property
    def paired(self) -> bool:
        return self.train_sources is not None

    def source_domain(self) -> ImageData:
        """A paired set's source images as a data set of their own (same labels, no pairing): what a model of the
        source domain trains on in the ``bridge`` transfer protocol."""
        if not self.paired:
            raise ValueError(f"{self.spec.name} is not paired: it has no source domain")
        spec = DataSpec(f"{self.spec.name}:sources", self.spec.image_size, int(self.train_sources.shape[1]),
                        self.spec.num_classes)
        return ImageData(spec, self.train_sources, self.train_labels, self.test_sources, self.test_labels,
                         source=f"{self.source} (source domain)")

    @property
    def split_sizes(self) -> dict[str, int]:
        return {"train": len(self.train_images), "test": len(self.test_images)}


def to_model_range(images_uint8: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range every adapter takes."""
    return images_uint8.float().div(127.5).sub(1.0)


class DatasetSource(Protocol):
    """Registered under the ``dmzbench.datasets`` entry-point group."""

    name: ClassVar[str]
    spec: ClassVar[DataSpec]
    # Optional (read by ``dataset_provides``): what the set has beyond images and labels, "attributes" and/or "pairs"
    # (paired source images), so a task that needs them is refused before the set is loaded. A source without it is
    # checked after loading instead.
    # provides: ClassVar[frozenset[str]]
    # Optional (read by ``dataset_feature_space``): the name of the pinned feature space (``dmzbench.metrics.features``)
    # its FID and image metrics use by default (``-o features=pinned``); a set without one needs ``features=inception``.
    # feature_space: ClassVar[str]

    def load(self, data_root: Path | None) -> ImageData: ...


# ---------------------------------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    preset: str
    image_size: int
    channels: int
    latent_shape: tuple[int, ...]
    latent_kind: LatentKind
    can_encode: bool = True
    can_reconstruct: bool = True
    can_generate: bool = True
    can_invert: bool = False  # reconstruct(..., x_T="inferred") by DDIM inversion (DiffAE, PDAE)
    can_interpolate: bool = False  # interpolate(a, b, frames=, steps=, seed=) the model's natural way
    sampler: str = ""  # the native sampler, e.g. "ancestral (I-DDPM respaced)"; recorded with every generation number


@runtime_checkable
class ModelAdapter(Protocol):
    """A trained (or untrained, for ``init``) model seen through the one interface every task uses."""

    info: ModelInfo

    def encode(self, x: Tensor) -> Tensor:
        """(B, C, H, W) in [-1, 1] -> (B, D) features for probes. Deterministic."""
        ...

    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        """Encode then decode with ``steps`` sampling steps; returns images in [-1, 1]."""
        ...

    def generate(self, n: int, *, steps: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` unconditional samples in [-1, 1] with ``steps`` sampling steps."""
        ...

    # Optional, found by name: encode_sample(x, *, generator) -> (B, D'): one draw from the encoder's posterior in the
    #   form the family's official evaluation saves it (DMZ: soft Gumbel-softmax pairs); probe/auroc ``dmz-official``.
    # Optional, found by name (capability "decode"): decode_latent(z, *, steps, generator) -> images: (B, D) features in
    #   the form ``encode`` returns (a binary latent's bit probabilities are thresholded at 0.5) decoded to images;
    #   the transfer task's ``bridge`` protocol maps one model's codes to another's and decodes them with it.
    # Optional, declared below: ``InterpolatingAdapter`` (announced by ``info.can_interpolate``) and
    #   ``InvertibleAdapter`` (announced by ``info.can_invert``).


@runtime_checkable
class InterpolatingAdapter(ModelAdapter, Protocol):
    """An adapter that interpolates the model's natural way; announced by ``info.can_interpolate``."""

    def interpolate(self, a: Tensor, b: Tensor, *, frames: int, steps: int, seed: int) -> Tensor:
        """(frames, C, H, W): a path from image ``a`` to image ``b`` (each (C, H, W)) through the latent, every frame
        decoded with the same noise (``seed``). An ``InvertibleAdapter``'s also takes ``invert_steps=``."""
        ...


@runtime_checkable
class InvertibleAdapter(ModelAdapter, Protocol):
    """An adapter that infers x_T by DDIM inversion (DiffAE, PDAE); announced by ``info.can_invert``. Its
    ``reconstruct`` takes ``x_T="random" | "inferred"`` and ``invert_steps=`` (None: the family's official count), and
    its ``interpolate``, when it has one, takes ``invert_steps=`` too."""

    def invert(self, x: Tensor, z: Tensor, steps: int) -> Tensor:
        """The inferred x_T of images ``x`` under their own latents ``z``, by DDIM inversion with ``steps`` steps."""
        ...

    def invert_steps_for(self, purpose: Literal["recon", "interp"], decode_steps: int) -> int:
        """How many inversion steps the family's official ``purpose`` protocol takes (the tasks' default)."""
        ...

    def reconstruct(self, x: Tensor, *, steps: int, generator: torch.Generator | None = None,
                    x_T: Literal["random", "inferred"] = "random", invert_steps: int | None = None) -> Tensor: ...


def invertible(adapter: ModelAdapter) -> bool:
    """Whether ``adapter`` announces DDIM inversion and declares it (an ``InvertibleAdapter``)."""
    return bool(adapter.info.can_invert) and isinstance(adapter, InvertibleAdapter)


OPTIONAL_METHODS = {"decode": "decode_latent", "encode_sample": "encode_sample"}  # capability -> method found by name


def can(adapter: ModelAdapter, capability: str) -> bool:
    """Whether ``adapter`` offers ``capability``: its ``info.can_<capability>`` flag, or the optional method by name."""
    if capability in OPTIONAL_METHODS:
        return callable(getattr(adapter, OPTIONAL_METHODS[capability], None))
    return bool(getattr(adapter.info, f"can_{capability}"))


# --------------------------------------------------------------------------------------------------------------- family
@dataclass
class TrainStage:
    """One optimisation stage of a model family (DMZ has one; DiffAE has the autoencoder then the latent DDIM).

    ``loss(images, labels, cond)`` returns the scalar training loss of one batch. ``cond`` is what the encoder sees: the
    images themselves, or in paired mode (domain transfer) the source-domain images while ``images`` are the targets.
    The trainer owns the loop, the optimiser (AdamW), EMA, clipping, precision, seeding and checkpoints.

    The contract in full (docs/adding-a-model.md says the same):

    * **Data.** ``prepare(data)`` runs once before step 0 with the whole ``ImageData`` (uint8 in [0, 255], on the CPU;
      in paired mode ``train_images`` are the source images); ``loss`` gets float batches in [-1, 1] on the training
      device (``to_model_range``), with integer labels. Torch is seeded before ``prepare`` and before every step.
    * **Weights.** The stage's final weights are its EMA weights (decay ``ema_decay``, 0.9999 by default, with the
      warm-up ``min(ema_decay, (1 + n) / (10 + n))`` at step n), copied into ``module`` when the stage ends. Set
      ``ema_decay=0`` to keep the raw weights.
    * **Devices.** The core moves the whole model to the device, puts it in ``eval()`` and only ``module`` in
      ``train()``; bf16 autocast on CUDA. Adapters get ``torch.Generator`` objects on the CPU: draw noise on the CPU
      with them and move it (``torch.randn(..., generator=g).to(device)``).
    * **Checkpoints.** Every ``$DMZBENCH_SAVE_EVERY_S`` seconds (default 120; the first within 10 s), at the end of each
      stage, and at SIGINT/SIGTERM (at the next step boundary); a resumed run is bit-identical to an uninterrupted one.
    * **steps=0.** A stage with no gradient steps (PCA fitted in ``prepare``) needs only ``name``, ``module`` and
      ``prepare``: no ``loss``, ``batch_size`` or ``lr``.
    """

    name: str
    module: nn.Module  # whose parameters this stage trains
    loss: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None  # required when steps > 0
    steps: int = 0
    batch_size: int = 0  # required when steps > 0
    lr: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    ema_decay: float = 0.9999
    grad_clip: float | None = 1.0
    prepare: Callable[[ImageData], None] | None = None  # once before step 0, e.g. latent statistics of stage 2
    # Learning-rate schedule (off by default): linear warm-up over ``warmup_steps``, then constant, or with ``final_lr``
    # a cosine decay from ``lr`` to ``final_lr`` over the remaining steps (DGAE: 10k warm-up, cosine to 1e-5).
    warmup_steps: int = 0
    final_lr: float | None = None

    def lr_at(self, step: int) -> float:
        """The learning rate of (0-based) ``step``."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.final_lr is None:
            return self.lr
        span = max(1, self.steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.final_lr + 0.5 * (self.lr - self.final_lr) * (1 + math.cos(math.pi * progress))


class Baseline(ABC):
    """A model family: its presets and how to build, train and wrap one model.

    Registered under the ``dmzbench.models`` entry-point group. Saving and loading is done by the core from
    ``build(preset, spec)`` + ``state_dict``, so a family only needs these four methods.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    presets: ClassVar[Mapping[str, Any]]  # name -> a frozen dataclass instance (typed; takes -m settings) or a dict
    default_preset: ClassVar[str] = "smoke"
    # The data set ``dmzbench train`` uses when none is named; None: the built-in default
    # (``dmzbench.data.DEFAULT_DATASET``).
    default_dataset: ClassVar[str | None] = None
    trainable: ClassVar[bool] = True
    # The preset fields that hold each training stage's step count, in stage order: a snapshot of the first stage at
    # step k is the preset with the first set to k and the others to 0 (dmzbench/snapshots.py).
    stage_steps: ClassVar[tuple[str, ...]] = ("steps",)

    @abstractmethod
    def build(self, preset: str, spec: DataSpec) -> nn.Module:
        """The model at its seeded initialisation (the caller seeds torch)."""

    @abstractmethod
    def stages(self, model: nn.Module, preset: str, spec: DataSpec) -> list[TrainStage]:
        """The training stages of ``preset``, in order (empty for ``init``)."""

    @abstractmethod
    def adapter(self, model: nn.Module, preset: str, spec: DataSpec) -> ModelAdapter:
        """Wrap a built (and possibly trained) model for the tasks."""

    def preset_config(self, preset: str) -> dict[str, Any]:
        """The JSON-able configuration of preset identifier ``preset`` (settings applied; dmzbench/presets.py)."""

        return config_dict(resolve(self, preset))

    def dependencies(self, preset: str) -> dict[str, tuple[str, str]]:
        """Other trained models this one is built on: role -> (model name, preset), obtained (trained if absent) on the
        same data set and seed before this one, and recorded in its provenance. PDAE needs a frozen ``ddpm``."""
        return {}

    def attach(self, model: nn.Module, dependencies: dict[str, nn.Module]) -> None:
        """Hand a freshly built model its trained dependencies (called before training, not when loading)."""


# ----------------------------------------------------------------------------------------------------------------- task
@dataclass
class TaskContext:
    """What the runner hands a task besides the adapter and the data."""

    device: torch.device
    seed: int
    output_dir: Path  # for PNG grids and other artefacts beside the result
    cached_features: Callable[[str], Tensor]  # split name -> (N, D) features of that split, cached on disk
    log: Callable[[str], None] = print
    # Facts a task records beside its metrics: feature space and its sha256, N, reference split, sampler, x_T, ...
    details: dict[str, Any] = field(default_factory=dict)
    # training mode -> the same model (name, preset, data set, seed) trained in that mode, obtained (trained if absent)
    # and recorded in ``details["models"]``; e.g. "source-domain" (trained on a paired set's source images)
    model_in_mode: Callable[[str], ModelAdapter] | None = None

    def generator(self, *keys: int) -> torch.Generator:
        """A CPU generator seeded from the run's seed and ``keys`` (e.g. the number of steps)."""
        g = torch.Generator()
        return g.manual_seed(hash((self.seed, *keys)) & ((1 << 62) - 1))


@dataclass(frozen=True)
class Metric:
    """One metric a task reports, declared on the task so that the leaderboard ranks it the right way round.

    ``name`` is the key in the task's result dict; a name ending in ``*`` declares a family of keys (``fid_T*``: one per
    sampling-step count), ordered by the number in the key. ``higher_is_better`` is None for a number that is not a
    score (a count, a diagnostic): shown, never ranked. ``chance`` marks a chance-level anchor (what a model that
    ignores its input scores): shown beside the score, never ranked. ``uncertainty`` names the key of the result dict
    that holds this metric's own uncertainty for one seed (e.g. the std over probe folds), ``uncertainty_meaning`` says
    what it is; with several seeds the leaderboard uses the std over seeds instead. ``shown=False`` keeps a metric out
    of the tables (it stays in the CSV).

    ``anchors`` (on a chance metric) names the metric it is the chance level of: the page shows that metric's
    difference from it and marks a value not above chance. ``guard`` names a metric of the same record that must
    reach ``guard_floor`` for this one to mean anything (interp's smoothness is guarded by ``path_span``: a path that
    does not move is perfectly smooth); below it, or unrecorded, the value is flagged and never ranked best. ``gap``
    is a difference beyond which two values of this metric differ even without an uncertainty estimate (0: none
    declared, so a comparison without an estimate is "not distinguishable").
    """

    name: str
    higher_is_better: bool | None
    meaning: str
    chance: bool = False
    uncertainty: str = ""
    uncertainty_meaning: str = ""
    shown: bool = True
    anchors: str = ""
    guard: str = ""
    guard_floor: float = 0.0
    gap: float = 0.0

    def matches(self, key: str) -> bool:
        return key.startswith(self.name[:-1]) if self.name.endswith("*") else key == self.name

    def uncertainty_of(self, key: str) -> str:
        """The record key of ``key``'s own uncertainty: a family's ``uncertainty`` may hold a ``*`` that stands for
        the same part as in its name (``fid_T*`` -> ``fid_T*_std``: fid_T10 -> fid_T10_std)."""
        if "*" in self.uncertainty and self.name.endswith("*"):
            return self.uncertainty.replace("*", key[len(self.name) - 1:], 1)
        return self.uncertainty

    def is_uncertainty_key(self, key: str) -> bool:
        if "*" in self.uncertainty:
            head, _, tail = self.uncertainty.partition("*")
            return key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail)
        return bool(self.uncertainty) and key == self.uncertainty

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]


@runtime_checkable
class Task(Protocol):
    """Registered under the ``dmzbench.tasks`` entry-point group (or found by ``--import``: a class with a ``name``,
    ``version``, ``Config`` and ``run``). These members are required; every other declaration is optional and listed,
    with its default, in ``TaskDefaults`` (docs/adding-a-task.md)."""

    name: ClassVar[str]
    version: ClassVar[str]  # part of the record's config key: bump it when the task computes something else
    Config: ClassVar[type]  # a dataclass with defaults; ``-o key=value`` sets its fields
    default_dataset: ClassVar[str]
    # adapter capabilities: "encode", "reconstruct", "generate", "interpolate", "decode", "encode_sample" (with a
    # ``needs`` declaration, the one for the run's config)
    requires: ClassVar[frozenset[str]]

    def run(self, adapter: ModelAdapter, data: ImageData, config: Any, ctx: TaskContext) -> dict[str, float]: ...


class TaskDefaults:
    """A task's optional declarations and their defaults (``Task`` lists the required ones). A task may inherit it, or
    declare only what it needs; the core reads them through ``task_declaration``, ``task_needs`` and
    ``validate_task``, never as attributes of the task."""

    training_mode: ClassVar[str] = ""  # "" (the model as trained on the data set) or "paired"
    # What a data set must ``provide`` beyond images and labels (e.g. {"attributes"}), so that a set that does not is
    # refused before it is even loaded.
    data_needs: ClassVar[frozenset[str]] = frozenset()
    # ``needs(config) -> (training_mode, requires)`` (a staticmethod) when they depend on the config (the transfer
    # task's protocol); None: the class attributes.
    needs: ClassVar[Callable[[Any], tuple[str, frozenset[str]]] | None] = None
    # ``validate(data, config)`` (a staticmethod) raises UsageError before any training when the data set cannot serve
    # the task (e.g. AUROC on a set without attributes); None: no check.
    validate: ClassVar[Callable[[ImageData, Any], None] | None] = None
    # ``cost(config, info, invert_steps) -> budget.TaskCost`` (a staticmethod): what the suite budget plans with;
    # None: the budget's flat estimate for an undeclared task.
    cost: ClassVar[Callable[..., Any] | None] = None
    # The leaderboard's (a task without them still runs; its page column then has no direction):
    group: ClassVar[str | None] = None  # the page section, e.g. "Representation"; None = the task's own name
    position: ClassVar[float] = 1000.0  # order on the page (sections by their first task); plugins default to the end
    metrics: ClassVar[tuple[Metric, ...]] = ()  # the first shown, rankable one is the task's headline
    artifacts: ClassVar[Mapping[str, str]] = {}  # file-name pattern of a saved PNG -> its caption on the page
    # Whether ``dmzbench run`` puts a trained model's headline number beside its untrained ``init`` control's (cheap
    # and meaningful for representation tasks; an untrained decoder's samples are noise).
    control: ClassVar[bool] = False


_TASK_OPTIONAL = frozenset(k for k in vars(TaskDefaults) if not k.startswith("_"))


def task_declaration(task_cls: type, name: str) -> Any:
    """A task's optional declaration ``name``: the task's own, else ``TaskDefaults``'s."""
    if name not in _TASK_OPTIONAL:
        raise AttributeError(f"{name} is not an optional task declaration ({', '.join(sorted(_TASK_OPTIONAL))})")
    return getattr(task_cls, name, getattr(TaskDefaults, name))


def task_needs(task_cls: type, config: Any) -> tuple[str, frozenset[str]]:
    """The training mode and adapter capabilities a task needs for ``config`` (transfer's depend on its protocol)."""
    needs = task_declaration(task_cls, "needs")
    if needs is not None:
        return needs(config)
    return task_declaration(task_cls, "training_mode"), frozenset(task_cls.requires)


def validate_task(task_cls: type, data: ImageData, config: Any) -> None:
    """The task's data/config checks that must fail before any training (none when it declares no ``validate``)."""
    check = task_declaration(task_cls, "validate")
    if check is not None:
        check(data, config)


def dataset_feature_space(source: type) -> str | None:
    """The pinned feature space a data set source declares as its default; None when it declares none."""
    return getattr(source, "feature_space", None)  # an optional DatasetSource declaration


def dataset_provides(source: type) -> frozenset[str] | None:
    """What a data set source declares it ``provides`` beyond images and labels; None when it declares nothing."""
    provides = getattr(source, "provides", None)  # an optional DatasetSource declaration
    return None if provides is None else frozenset(provides)
