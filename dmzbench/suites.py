"""Named suites: which models (at which presets) run which tasks (with which options), for leaderboards.

- ``ci``: every built-in model at its smoke preset beside its ``init`` control x every task, seed 0, small N, offline
  data sets, sized for 30 minutes of ``.ci/run`` on 2 CPU cores (``bench/ci_estimate.py``). It checks the pipeline; at
  smoke scale trained encoders barely differ from their ``init`` controls, so it is not a scientific comparison.
- ``small``: every model at its small preset plus its ``init`` control, sized for one GPU in one short command; its
  records are the scientific table (commit them under ``leaderboards/small/`` with the device named).
- ``tiny``: the ``init`` presets with tiny N, to test the suite machinery on a CPU in seconds.
A task a model cannot do is run anyway and recorded as skipped, with the reason, so every cell of the page is explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmzbench.errors import did_you_mean

BUILTIN_MODELS = ("dmz", "diffae", "pdae", "sdvae", "dgae", "ddpm", "pixels")
TASK_DATASETS = {"probe": "fashion-mnist", "auroc": "shapes", "transfer": "edges2fashion", "fid": "fashion-mnist",
                 "recon": "fashion-mnist", "interp": "fashion-mnist"}


@dataclass(frozen=True)
class Suite:
    name: str
    presets: tuple[str, ...]  # presets per model (a model without one of them runs its default preset once)
    options: dict[str, list[str]] = field(default_factory=dict)  # task -> ["key=value", ...]
    note: str = ""


SMALL_N = {
    "probe": ["max_images=5000"],
    "auroc": ["max_images=2000"],
    "transfer": ["n_images=50", "steps=20"],
    # n_samples stays above the feature dimension (128) so the covariance is full rank; T >= 20 is left to the small
    # suite (sampling cost grows with T: T=20 and 50 were 87% of the CI FID time)
    "fid": ["n_samples=200", "steps=5,10", "n_reference=10000"],
    "recon": ["n_images=50", "steps=20"],
    "interp": ["n_pairs=4", "steps=20"],
}
SUITES = {
    "ci": Suite("ci", ("init", "smoke"), SMALL_N,
                note="CI pipeline check, not a scientific comparison: smoke presets train for minutes on 2 CPU cores, "
                     "where trained encoders barely differ from their init controls. Pinned feature spaces; small N."),
    "small": Suite("small", ("init", "small"), {
        "probe": [], "auroc": ["max_images=10000"], "transfer": ["n_images=2000", "steps=50"],
        "fid": ["n_samples=5000", "steps=10,20,50,100"], "recon": ["n_images=2000", "steps=50"],
        "interp": ["n_pairs=32", "steps=50"],
    }, note="Scientific table: small presets (about a minute of GPU training per stage) beside their init controls."),
    "tiny": Suite("tiny", ("init",), {
        "probe": ["max_images=500"], "auroc": ["max_images=200"], "transfer": ["n_images=8", "steps=2"],
        "fid": ["n_samples=8", "steps=2", "n_reference=200"], "recon": ["n_images=8", "steps=2"],
        "interp": ["n_pairs=1", "frames=3", "steps=2"],
    }, note="Machinery test at tiny size (init presets)."),
}


def get(name: str) -> Suite:
    if name not in SUITES:
        raise did_you_mean("suite", name, SUITES)
    return SUITES[name]


def page_title(suite: Suite) -> str:
    return f"dmzbench leaderboard: {suite.name} suite"


def plan(suite: Suite, models: list[str], tasks: list[str], presets_of) -> list[tuple[str, str, str, str, list[str]]]:
    """(model, preset, task, dataset, options) for every run of the suite, in a stable order."""
    runs = []
    for model in models:
        available = presets_of(model)
        presets = [p for p in suite.presets if p in available] or [None]
        for preset in presets:
            for task in tasks:
                runs.append((model, preset, task, TASK_DATASETS[task], list(suite.options.get(task, []))))
    return runs
