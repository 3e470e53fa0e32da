"""Learning curves: what a family's representation (and generation) is worth against the training compute it saw.

Every record of a trained model states the FLOPs it trained on (``train.flops``, dmzbench/budget.py's count). Where the
results hold one family at two or more amounts of training compute (the ``cpu`` suite's snapshots,
dmzbench/snapshots.py), the page draws:

- ``learning_curve_probe``: probe accuracy against training FLOPs (log x), one line per family, error bars from the
  record's uncertainty; the family's untrained ``init`` control as an open marker at the left edge, joined by a dotted
  line; a model without training (``pixels``) as a horizontal line;
- ``learning_curve_fid``: the few-step FID at one T (T = 20 where recorded) against the same axis, one marker per
  record (the generating pipeline has no snapshots: final models only).

Points of one curve come from one task configuration (the configuration most of the curve's records share), so a
curve never joins numbers of different protocols or N.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dmzbench.board.build import Board, Run, over_seeds

PROBE = ("probe", "accuracy", "accuracy_std")
FID_STEPS = (20, 10, 50, 100)  # the T drawn: the first of these the records hold


@dataclass(frozen=True)
class Point:
    flops: float
    value: float
    uncertainty: float | None
    preset: str


def training_flops(run: Run) -> float:
    return float((run.record.get("train") or {}).get("flops") or 0.0)


def _value(run: Run, metric: str, unc: str) -> tuple[float, float | None] | None:
    value = run.metrics.get(metric)
    if value is None or run.skipped:
        return None
    u = run.metrics.get(unc)
    return float(value), None if u is None else float(u)


def curves(runs: list[Run], task: str, metric: str, unc: str
           ) -> tuple[dict[str, list[Point]], dict[str, tuple[float, float | None]], dict[str, float]]:
    """(trained points per model, init control per model, untrained references such as pixels) of one metric, from the
    records of ``task`` in its most common configuration among trained records."""
    mine = [r for r in runs if r.task == task and _value(r, metric, unc) is not None]
    trained = [r for r in mine if training_flops(r) > 0]
    if not trained:
        return {}, {}, {}
    key = Counter(r.key for r in trained).most_common(1)[0][0]
    by_seed: dict[tuple[str, str], list[Run]] = {}  # (model, preset) -> its records, one per seed
    for r in (r for r in mine if r.key == key):
        by_seed.setdefault((r.model, r.preset), []).append(r)
    points: dict[str, list[Point]] = {}
    controls: dict[str, tuple[float, float | None]] = {}
    references: dict[str, float] = {}
    for (model, preset), seeds in by_seed.items():
        found = [_value(r, metric, unc) for r in seeds]
        value, u, _ = over_seeds([v for v, _ in found], found[0][1])
        if training_flops(seeds[0]) > 0:
            points.setdefault(model, []).append(Point(training_flops(seeds[0]), value, u, preset))
        elif preset == "init":
            controls[model] = (value, u)
        else:
            references[f"{model}/{preset}"] = value
    for model in points:
        points[model].sort(key=lambda p: p.flops)
    return points, {m: c for m, c in controls.items() if m in points}, references


def draw(plt, board: Board, out: Path, save) -> list[Path]:
    """The learning-curve figures (none unless some family has two or more points of training compute)."""
    points, controls, references = curves(board.runs, *PROBE)
    if not any(len(p) >= 2 for p in points.values()):
        return []
    written = save(plt, _probe_figure(plt, points, controls, references), out / "learning_curve_probe")
    fid = next(((t, c) for t in FID_STEPS for c in [curves(board.runs, "fid", f"fid_T{t}", f"fid_T{t}_std")]
                if c[0]), None)
    if fid is not None:
        written += save(plt, _fid_figure(plt, fid[0], fid[1][0]), out / "learning_curve_fid")
    return written


def _probe_figure(plt, points, controls, references):
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    left = min(p.flops for ps in points.values() for p in ps) / 4  # where untrained controls stand (log axis)
    for model, ps in sorted(points.items()):
        line = ax.errorbar([p.flops for p in ps], [p.value for p in ps], yerr=[p.uncertainty or 0.0 for p in ps],
                           marker="o", capsize=3, label=model)
        if model in controls:
            value, u = controls[model]
            color = line[0].get_color()
            ax.errorbar([left], [value], yerr=[u or 0.0], marker="o", mfc="white", color=color, capsize=3)
            ax.plot([left, ps[0].flops], [value, ps[0].value], ls=":", color=color)
    for name, value in sorted(references.items()):
        ax.axhline(value, ls="--", color="grey", lw=1)
        ax.annotate(name, (left, value), textcoords="offset points", xytext=(2, 3), fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set(xlabel="training FLOPs seen (dmzbench/budget.py count; open marker at left = untrained init control)",
           ylabel="probe accuracy (higher is better; axis not from 0)", title="Probe accuracy against training compute")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    return fig


def _fid_figure(plt, steps: int, points):
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for model, ps in sorted(points.items()):
        ax.errorbar([p.flops for p in ps], [p.value for p in ps], yerr=[p.uncertainty or 0.0 for p in ps],
                    marker="s", capsize=3, ls="-" if len(ps) > 1 else "none", label=model)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set(xlabel="training FLOPs seen (dmzbench/budget.py count)", ylabel=f"FID at T = {steps} (lower is better)",
           title=f"Few-step FID (T = {steps}) against training compute")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    return fig
