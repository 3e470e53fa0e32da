"""Named suites: which models (at which presets) run which tasks (with which options), in which order.

- ``ci``: every built-in model at its smoke preset beside its ``init`` control x every task, seed 0, small N, offline
  data sets, sized for 30 minutes of ``.ci/run`` on 2 CPU cores (``bench/ci_estimate.py``). It checks the pipeline; at
  smoke scale trained encoders barely differ from their ``init`` controls, so it is not a scientific comparison.
- ``small``: every model at its small preset beside its ``init`` control, sized for one GPU; its records are the
  scientific table (``leaderboards/small/``). It is built one GPU lend at a time: ``dmzbench suite small --budget S``
  runs, in the order below, only the runs whose record is missing and that fit in S seconds (``dmzbench/suite/execute.py``).
- ``tiny``: the ``init`` presets with tiny N, to test the suite machinery on a CPU in seconds.

Each suite declares its ``scale`` (``SCALES``): a claim verdict from records of a pipeline-check suite only is "not
tested at scale" (``dmzbench/board/claims.py``), its numbers shown for information.

A suite is data: the models and task names here are the only place the core names built-ins. A plugin package adds
a suite (naming its own models and tasks, or built-ins) through a ``dmzbench.suites`` entry point. Each task's data set
is the task's own ``default_dataset`` (from the registry) unless the suite says otherwise; the suite's phases are its
tasks grouped by data set. A task a model cannot do is recorded as skipped, with the reason, so every cell of the page
is explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmzbench import registry
from dmzbench.config import apply_overrides
from dmzbench.errors import UsageError, did_you_mean


PIPELINE_CHECK, SMALL_SCALE, PAPER_SCALE = "pipeline check", "small-scale", "paper-scale"
SCALES = (PIPELINE_CHECK, SMALL_SCALE, PAPER_SCALE)


@dataclass(frozen=True)
class Variant:
    """A second option set of one task for some of a suite's models, run beside the suite's own (its own record and
    page column: a record's task config tells them apart), e.g. DMZ's official probe protocol next to kfold5."""

    task: str
    options: tuple[str, ...]  # added to the suite's options of ``task``
    models: tuple[str, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    models: tuple[str, ...]
    presets: tuple[str, ...]  # trained presets per model (a model with none of them runs its default preset once)
    tasks: tuple[str, ...]  # task names in priority order (built-in or plugin: any registered task)
    options: dict[str, list[str]] = field(default_factory=dict)  # task -> ["key=value", ...]
    controls: tuple[str, ...] = ()  # untrained control presets (``init``) run beside each trained preset
    control_tasks: tuple[str, ...] | None = None  # the tasks a control runs (None: all of the suite's)
    datasets: dict[str, str] = field(default_factory=dict)  # task -> data set, where not the task's default
    note: str = ""
    # data set -> the trained presets run on it, where not ``presets`` (the cpu suite's cheaper auxiliary sets)
    dataset_presets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # tasks also run on every learning-curve snapshot a trained preset keeps (dmzbench/snapshots.py)
    snapshot_tasks: tuple[str, ...] = ()
    scale: str = PIPELINE_CHECK  # one of SCALES: what a verdict from its records can say
    variants: tuple[Variant, ...] = ()  # more option sets of a task for some models (on snapshots too)

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"suite {self.name}: scale must be one of {', '.join(SCALES)}, got {self.scale!r}")

    def option_sets(self, model: str, task: str) -> list[tuple[str, ...]]:
        """The option sets ``model`` runs ``task`` with: the suite's, then each variant's naming the model."""
        base = tuple(self.options.get(task, []))
        return [base] + [base + v.options for v in self.variants if v.task == task and model in v.models]

    def dataset_of(self, task: str) -> str:
        """The data set ``task`` runs on in this suite: the suite's choice, else the task's own ``default_dataset``."""
        return self.datasets.get(task) or registry.get("task", task).default_dataset

    @property
    def phases(self) -> tuple[tuple[str, ...], ...]:
        """The tasks grouped by data set, in the order of each data set's first task: the tasks of one phase share a
        data set, so one trained model serves them all. Read from the registry, so asked for only when planning."""
        by_dataset: dict[str, list[str]] = {}
        for task in self.tasks:
            by_dataset.setdefault(self.dataset_of(task), []).append(task)
        return tuple(tuple(tasks) for tasks in by_dataset.values())


@dataclass(frozen=True)
class PlannedRun:
    model: str
    preset: str | None  # None: the model's default preset
    task: str
    dataset: str
    options: tuple[str, ...]
    seed: int = 0


@dataclass(frozen=True)
class RunGroup:
    """Runs that share one trained model (same model, preset, data set and training mode): trained once."""

    model: str
    preset: str | None
    dataset: str
    mode: str
    runs: tuple[PlannedRun, ...]
    snapshot_of: str | None = None  # the preset whose training writes this group's checkpoint (trained just before)

    @property
    def label(self) -> str:
        mode = f"+{self.mode}" if self.mode else ""
        seed = f" seed {self.runs[0].seed}" if self.runs and self.runs[0].seed else ""
        return f"{self.model}/{self.preset or 'default'} on {self.dataset}{mode}{seed}"


ALL_MODELS = ("dmz", "diffae", "sdvae", "pdae", "dgae", "ddpm", "pixels")  # most important families first
# In priority order; the plan runs them phase by phase, one phase per data set (``Suite.phases``).
ALL_TASKS = ("probe", "recon", "fid", "interp", "auroc", "transfer")

SMALL_N = {
    "probe": ["max_images=2500"],  # encoding is most of a probe row (CI time, issue 17)
    "auroc": ["max_images=2000"],
    "transfer": ["n_images=50", "steps=20"],
    # n_samples stays above the feature dimension (128) so the covariance is full rank; T = 10 is the protocol's
    # fewest steps; T >= 20 is left to the small suite (sampling cost grows with T: T=20 and 50 were 87% of the CI FID
    # time), and T = 5 (not in the protocol) was cut for CI time (issue 17)
    "fid": ["n_samples=200", "steps=10", "n_reference=10000"],
    # invert_steps as before the official counts became the default (PDAE recon 1000, DiffAE interp 250): CI time
    "recon": ["n_images=50", "steps=20", "invert_steps=20"],
    "interp": ["n_pairs=4", "steps=20", "invert_steps=20"],
}
CPU_NOTE = (
    "Small-scale comparison at equal training compute on 2 CPU cores: every family trains F = 1.2e14 FLOP "
    "(dmzbench/budget.py's count; two-stage families split it 3:1 between the representation and the latent stage; "
    "PDAE's frozen DPM is the ddpm row's cpu model) on Fashion-MNIST at 32 px, beside its untrained init control and "
    "raw pixels. Probe curves over snapshots at 1/16..1/2 of the representation stage; AUROC (shapes) and transfer "
    "(edges2fashion) on cpu-aux models (F/4 on those sets). Inversion for the inferred-x_T reconstructions and the "
    "interpolation endpoints uses 50 DDIM steps for every family, not the official 250/1000 (CPU time). DMZ also runs "
    "its own protocols: the dmz-official probe (on its curve and init) and bridge transfer. FID at T = 10 and 20 only "
    "(T = 50/100 are last in the issue's priority and did not fit ~3 h of 2 cores). Seed 0, and a second seed (1) of dmz "
    "and sdvae (the best rival) on the probe curve: their cells are the mean over the two seeds with the std over "
    "seeds."
)
SUITES = {
    # init controls on the representation tasks, as in `small`: an untrained decoder's samples are noise, and those
    # rows (FID, recon, interp, transfer) cost 338 of the 2439 s CI measured with them (issue 17's 30-minute limit)
    "ci": Suite("ci", ALL_MODELS, ("smoke",), ALL_TASKS, SMALL_N, controls=("init",), control_tasks=("probe", "auroc"),
                note="CI pipeline check, not a scientific comparison: smoke presets train for minutes on 2 CPU cores, "
                     "where trained encoders barely differ from their init controls (shown for probe and AUROC). "
                     "Pinned feature spaces; small N.", scale=PIPELINE_CHECK),
    "small": Suite("small", ALL_MODELS, ("small",), ALL_TASKS, {
        "probe": [], "auroc": ["max_images=10000"], "transfer": ["n_images=2000", "steps=50"],
        "fid": ["n_samples=5000", "steps=10,20,50,100", "batch_size=1000"], "recon": ["n_images=2000", "steps=50"],
        "interp": ["n_pairs=32", "steps=50"],
    }, controls=("init",), control_tasks=("probe", "auroc"),
        note="Scientific table: small presets (one to two minutes of GPU training per stage) beside their untrained "
             "init controls (representation tasks only: an untrained decoder's samples are noise).", scale=SMALL_SCALE),
    "cpu": Suite("cpu", ALL_MODELS, ("cpu",), ALL_TASKS, {
        "probe": [], "auroc": ["max_images=5000"], "transfer": ["n_images=500", "steps=20"],
        "fid": ["n_samples=1000", "steps=10,20", "n_reference=10000"],
        "recon": ["n_images=200", "steps=20", "invert_steps=50"],
        "interp": ["n_pairs=16", "steps=20", "invert_steps=50"],
    }, controls=("init",), control_tasks=("probe", "auroc"), note=CPU_NOTE,
        dataset_presets={"shapes": ("cpu-aux",), "edges2fashion": ("cpu-aux",)}, snapshot_tasks=("probe",), scale=SMALL_SCALE,
        # DMZ's own probe protocol on its curve (and init), and its own transfer protocol (bridge) beside paired
        variants=(Variant("probe", ("protocol=dmz-official",), ("dmz",)),
                  Variant("transfer", ("protocol=bridge",), ("dmz",)))),
    "tiny": Suite("tiny", ALL_MODELS, ("init",), ALL_TASKS, {
        "probe": ["max_images=500"], "auroc": ["max_images=200"], "transfer": ["n_images=8", "steps=2"],
        "fid": ["n_samples=8", "steps=2", "n_reference=200"], "recon": ["n_images=8", "steps=2", "invert_steps=2"],
        "interp": ["n_pairs=1", "frames=3", "steps=2", "invert_steps=2"],
    }, note="Machinery test at tiny size (init presets).", scale=PIPELINE_CHECK),
}


def names() -> list[str]:
    """The built-in suites and those plugin packages declare (``dmzbench.suites`` entry points)."""
    return sorted(set(SUITES) | set(registry.names("suite")))


def get(name: str) -> Suite:
    """A built-in suite, or a plugin's (its entry point names a ``Suite`` whose ``name`` is the entry point's)."""
    if name in SUITES:
        return SUITES[name]
    if name not in registry.names("suite"):
        raise did_you_mean("suite", name, names())
    found = registry.get("suite", name)
    if not isinstance(found, Suite) or found.name != name:
        raise UsageError(f"suite entry point '{name}' ({registry.source('suite', name)}) must name a "
                         f"dmzbench.suite.catalog.Suite called '{name}'")
    return found


def all_suites() -> list[Suite]:
    return [get(n) for n in names()]


def page_title(suite: Suite | str) -> str:
    return f"dmzbench leaderboard: {suite if isinstance(suite, str) else suite.name} suite"


def _subset(kind: str, asked: list[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not asked:
        return allowed
    for name in asked:
        if name not in allowed:
            raise did_you_mean(kind, name, allowed)
    return tuple(n for n in allowed if n in asked)  # the suite's priority order, whatever order they were asked in


def plan(suite: Suite, models: list[str] | None = None, tasks: list[str] | None = None, seed: int = 0,
         presets_of=None) -> list[RunGroup]:
    """Every run of the suite, grouped by the trained model it needs, in priority order: phase by phase (the first
    phase's data set first), model by model (the suite's order), each model's controls next to its trained presets."""
    from dmzbench.api import task_needs  # here: dmzbench.api imports torch; reading suites (ls, pages) must not

    from dmzbench.snapshots import snapshots_of  # here: it resolves presets through dmzbench.api (torch), as above

    models_ = _subset("model of this suite", models, suite.models)
    tasks_ = _subset("task of this suite", tasks, suite.tasks)
    presets_of = presets_of or (lambda m: registry.get("model", m).presets)
    groups: list[RunGroup] = []

    def add(model: str, preset: str | None, chosen: list[str], snapshot_of: str | None = None) -> None:
        by_model: dict[tuple[str, str], list[PlannedRun]] = {}
        for task in chosen:
            dataset = suite.dataset_of(task)
            task_cls = registry.get("task", task)
            for options in suite.option_sets(model, task):
                # the training mode can depend on the options (transfer's bridge protocol trains the plain model)
                mode = task_needs(task_cls, apply_overrides(task_cls.Config, list(options)))[0]
                run = PlannedRun(model, preset, task, dataset, options, seed)
                by_model.setdefault((dataset, mode), []).append(run)
        groups.extend(RunGroup(model, preset, d, m, tuple(r), snapshot_of) for (d, m), r in by_model.items())

    for phase in suite.phases:
        phase_tasks = [t for t in phase if t in tasks_]
        wanted = suite.dataset_presets.get(suite.dataset_of(phase[0]), suite.presets)
        for model in models_:
            available = presets_of(model)
            trained = [p for p in wanted if p in available]
            controls = [p for p in suite.controls if p in available and trained]
            for preset in controls + trained or [None]:
                add(model, preset, [t for t in phase_tasks if preset not in suite.controls
                                    or suite.control_tasks is None or t in suite.control_tasks])
                curve_tasks = [t for t in phase_tasks if t in suite.snapshot_tasks]
                if preset in trained and curve_tasks:
                    for snap in snapshots_of(registry.get("model", model)(), preset):
                        add(model, snap.preset, curve_tasks, snapshot_of=preset)
    return groups


def check_options(suite: Suite) -> None:
    """A suite's task options must parse before anything runs (a typo must not surface an hour in)."""
    option_sets = [(task, list(options)) for task, options in suite.options.items()]
    option_sets += [(v.task, list(suite.options.get(v.task, [])) + list(v.options)) for v in suite.variants]
    for task, options in option_sets:
        try:
            apply_overrides(registry.get("task", task).Config, options)
        except UsageError as exc:
            raise UsageError(f"suite {suite.name}, task {task}: {exc}") from None
