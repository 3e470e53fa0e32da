"""Result records -> the leaderboard's tables: the one model that the Markdown, CSV, HTML and claims renderers share.

- Each task declares its metrics (``dmzbench.api.Metric``: direction, chance anchor, uncertainty key, meaning), its
  page section and position; they are read through the registry, so a plugin task reaches the page like a built-in. A
  record of a task that is not installed still shows, with its metrics unranked ("direction unknown").
- One row per (model, preset); an ``init`` row sits under its trained row as the untrained control, unranked.
- One column per (task, data set, task config, metric): records whose task version or config differ (N, protocol,
  steps, feature space) are never ranked in one column; the header names what differs.
- Each cell carries its uncertainty: the std over seeds when there are several, else the task's own estimate (probe
  fold std, standard error over images, ...), else none (the page then shows no ±). Bold marks every row the leader
  does not beat by more than the combined uncertainty sqrt(u1² + u2²); a column without any estimate marks the best
  value alone and says its margin is untested.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Mapping

from dmzbench import registry, snapshots
from dmzbench.api import Metric, task_declaration
from dmzbench.board import marks as board_marks
from dmzbench.board.marks import Delta
from dmzbench.errors import DmzbenchError, UsageError
from dmzbench.run.records import SPEED_ONLY_FIELDS, config_key, read_record
from dmzbench.suite import catalog as suites

DEFAULT_TITLE = "dmzbench leaderboard"
CONTROL_PRESET = "init"  # the untrained control every trained family has (README: presets)
N_DETAILS = ("n_samples", "n_images", "n_pairs")  # how tasks record their N in ``details``


@dataclass(frozen=True)
class Declared:
    """What the leaderboard knows of one task from its class."""

    group: str
    position: float
    metrics: tuple[Metric, ...]
    artifacts: Mapping[str, str]
    installed: bool

    def spec(self, key: str) -> Metric | None:
        """The declaration of metric ``key``; None for an uncertainty key (shown inside its metric's cell)."""
        if any(m.is_uncertainty_key(key) for m in self.metrics):
            return None
        for m in self.metrics:
            if m.matches(key):
                return m
        if self.installed:  # a key its task does not declare: kept in the CSV, out of the tables
            return Metric(key, None, "not declared by the task", shown=False)
        return Metric(key, None, "direction unknown: the task is not installed")


def declaration(task: str) -> Declared:
    try:
        cls = registry.get("task", task)
    except DmzbenchError:
        return Declared(task, math.inf, (), {}, installed=False)
    return Declared(task_declaration(cls, "group") or task, float(task_declaration(cls, "position")),
                    tuple(task_declaration(cls, "metrics")), dict(task_declaration(cls, "artifacts")), installed=True)


@dataclass(frozen=True)
class Run:
    """One result record, as the leaderboard reads it."""

    model: str
    preset: str
    dataset: str
    task: str
    seed: int
    key: str  # config_key of the task version + config
    config: Mapping[str, Any]
    details: Mapping[str, Any]
    metrics: Mapping[str, float]
    path: str  # relative to the results folder
    record: Mapping[str, Any]

    @property
    def skipped(self) -> str | None:
        return self.details.get("skipped")

    @property
    def n(self) -> int | None:
        return next((self.details[k] for k in N_DETAILS if self.details.get(k) is not None), None)


def load_runs(results: Path) -> list[Run]:
    """Every record under ``results``; of two records of the same run (an old file name without the config key and a
    new one) the newer counts."""
    results = Path(results)
    if not results.is_dir():
        raise UsageError(f"results directory {results} does not exist; run 'dmzbench run ...' first or pass --results")
    latest: dict[tuple, Run] = {}
    for path in sorted(p for p in results.rglob("*.json") if "artifacts" not in p.parts):
        rec = read_record(path)
        try:  # a record missing a key or holding a non-number metric is named, not a KeyError/pandas traceback
            task = rec["task"]
            run = Run(rec["model"]["name"], rec["model"]["preset"], rec["dataset"]["name"], task["name"],
                      int(rec["seed"]), config_key(task), task.get("config") or {}, task.get("details") or {},
                      dict(rec["metrics"]), path.relative_to(results).as_posix(), rec)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DmzbenchError(f"{path} is not a complete result record (missing or malformed {exc}); delete it or "
                                "re-run its task") from None
        for metric, value in list(run.metrics.items()):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise DmzbenchError(f"{path}: metric {metric} is {value!r}, not a number; delete the record or re-run "
                                    "its task")
            if value is None or not math.isfinite(value):  # no number: its cell shows as not run, never ranked/plotted
                del run.metrics[metric]
        ident = (run.task, run.model, run.preset, run.dataset, run.key, run.seed)
        if ident not in latest or rec.get("created_at", "") >= latest[ident].record.get("created_at", ""):
            latest[ident] = run
    if not latest:
        raise UsageError(f"no result records under {results}; run 'dmzbench run ...' first")
    return sorted(latest.values(), key=lambda r: r.path)


@dataclass(frozen=True)
class Column:
    task: str
    dataset: str
    key: str
    metric: str
    spec: Metric
    variant: str  # what sets this column's config apart from its task's other columns ("" when it has none)
    n: str  # N of its records ("" when they record none)
    features: str  # feature space(s) of its records

    @property
    def rankable(self) -> bool:
        return self.spec.higher_is_better is not None and not self.spec.chance

    @property
    def context(self) -> str:
        """Data set, config values apart from the defaults, and N (when no config value already says it)."""
        shown_n = self.n and not any(v.split("=", 1)[-1] == self.n for v in self.variant.split(", "))
        return ", ".join(p for p in (self.dataset, self.variant, f"N={self.n}" if shown_n else "") if p)

    @property
    def label(self) -> str:
        extra = self.context
        chance = " (chance)" if self.spec.chance else ""
        return f"{self.task}.{self.metric}{chance} {self.spec.arrow} [{extra}]".replace("  ", " ")


@dataclass
class Cell:
    mean: float | None = None
    uncertainty: float | None = None
    uncertainty_kind: str = ""  # "seeds" (std over seeds), "task" (the task's own estimate) or "" (none)
    seeds: int = 0
    skipped: str | None = None
    records: tuple[str, ...] = ()
    best: bool = False
    vs_control: Delta | None = None  # set on a trained row whose init control has a value in the same column
    vs_chance: Delta | None = None  # set where the task declares this metric's chance level (``Metric.anchors``)
    flags: tuple[str, ...] = ()  # why the value does not count (board/marks.py): greyed, never best, not ranked


@dataclass
class Row:
    model: str
    preset: str
    control: bool  # an init row under its trained row
    rank: str = "—"


@dataclass
class Table:
    group: str
    columns: list[Column]
    rows: list[Row]
    cells: dict[tuple[int, int], Cell]  # (row index, column index) -> cell
    headline: int | None  # index of the column the rows are sorted and ranked by
    untested: set[int] = field(default_factory=set)  # rankable columns whose best is marked without an uncertainty

    def shown(self) -> list[int]:
        return [j for j, c in enumerate(self.columns) if c.spec.shown]

    def cell(self, i: int, j: int) -> Cell:
        return self.cells.get((i, j), Cell())


def _number_in(key: str) -> tuple[int, str]:
    found = re.findall(r"\d+", key)
    return (int(found[-1]) if found else -1, key)


def task_defaults(task: str) -> dict[str, Any] | None:
    """The task's config defaults as a record holds them (JSON values); None when the task is not installed."""
    try:
        cls = registry.get("task", task)
        return json.loads(json.dumps(dataclasses.asdict(cls.Config())))
    except (DmzbenchError, TypeError, ValueError):
        return None


def _variants(task: str, runs: list[Run]) -> dict[tuple[str, str], str]:
    """(dataset, config key) -> the config items that set it apart from the task's defaults and from the task's other
    configs on the same data set: a header names everything needed to reproduce its column."""
    defaults = task_defaults(task)
    by_key = {(r.dataset, r.key): {"version": r.record["task"].get("version"), **r.config} for r in runs}
    out = {}
    for (dataset, key), cfg in by_key.items():
        others = [c for (d, k), c in by_key.items() if d == dataset and k != key]
        differ = {f for o in others for f in set(cfg) | set(o) if cfg.get(f) != o.get(f)}
        if defaults is not None:
            differ |= {f for f in cfg if f in defaults and cfg[f] != defaults[f]}
        differ -= SPEED_ONLY_FIELDS
        order = list(cfg)  # the config's own field order reads as the task declares it
        ordered = sorted(differ, key=lambda f: (order.index(f) if f in order else len(order), f))
        out[(dataset, key)] = ", ".join(f"{f}={_short(cfg.get(f))}" for f in ordered)
    return out


def _short(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _columns(task: str, runs: list[Run], declared: Declared) -> list[Column]:
    variants = _variants(task, runs)
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    for r in runs:
        sizes[(r.dataset, r.key)] += 1
    cols = []
    for dataset, key in sorted(sizes, key=lambda v: (v[0], -sizes[v], v[1])):
        part = [r for r in runs if (r.dataset, r.key) == (dataset, key)]
        keys = {m for r in part for m in r.metrics}
        specs = {k: declared.spec(k) for k in keys}
        order = {m.name: i for i, m in enumerate(declared.metrics)}
        metrics = sorted((k for k in keys if specs[k] is not None),
                         key=lambda k: (order.get(specs[k].name, len(order)), _number_in(k)))
        ns = sorted({int(r.n) for r in part if r.n is not None})
        spaces = sorted({str(r.details["features"]) for r in part if r.details.get("features")})
        cols += [Column(task, dataset, key, k, specs[k], variants[(dataset, key)], "/".join(map(str, ns)),
                        "/".join(spaces)) for k in metrics]
    return cols


def _cell(runs: list[Run], column: Column) -> Cell:
    done = [r for r in runs if column.metric in r.metrics]
    if not done:
        skipped = next((r.skipped for r in runs if r.skipped), None)
        return Cell(skipped=skipped, records=tuple(r.path for r in runs))
    values = [float(r.metrics[column.metric]) for r in done]
    own = None
    if column.spec.uncertainty and column.spec.uncertainty_of(column.metric) in done[0].metrics:
        own = float(done[0].metrics[column.spec.uncertainty_of(column.metric)])
    mean, unc, kind = over_seeds(values, own)
    return Cell(mean, unc, kind, len(values), None, tuple(r.path for r in done))


def over_seeds(values: list[float], own: float | None = None) -> tuple[float, float | None, str]:
    """(mean, uncertainty, its kind) of one value over seeds: the std over seeds when there are several ("seeds"),
    else the run's own estimate ``own`` when finite ("task"), else none. The tables and the learning curves share it."""
    mean = sum(values) / len(values)
    if len(values) > 1:
        return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)), "seeds"
    if own is not None and math.isfinite(own):
        return mean, own, "task"
    return mean, None, ""


def better(spec: Metric, a: Cell, b: Cell) -> bool:
    """Whether ``a`` beats ``b`` by more than their combined uncertainty (an unknown uncertainty counts as 0)."""
    margin = (a.mean - b.mean) if spec.higher_is_better else (b.mean - a.mean)
    return margin > math.hypot(a.uncertainty or 0.0, b.uncertainty or 0.0)


def counts(cell: Cell) -> bool:
    """A value that takes part in best marks and ranks: present and not flagged (board/marks.py)."""
    return cell.mean is not None and not cell.flags


def _order(spec: Metric, cells: list[tuple[int, Cell]]) -> list[tuple[int, Cell]]:
    return sorted(cells, key=lambda ic: -ic[1].mean if spec.higher_is_better else ic[1].mean)


def _mark_best(table: Table, j: int) -> None:
    col = table.columns[j]
    if not col.rankable:
        return
    ranked = _order(col.spec, [(i, table.cells[(i, j)]) for i, row in enumerate(table.rows)
                               if not row.control and (i, j) in table.cells and counts(table.cells[(i, j)])])
    if not ranked:
        return
    leader = ranked[0][1]
    for _, cell in ranked:
        cell.best = not better(col.spec, leader, cell)
    if len(ranked) > 1 and (leader.uncertainty is None or ranked[1][1].uncertainty is None):
        table.untested.add(j)


def _rank_rows(table: Table) -> None:
    """Sort rows by the headline column (controls under their trained row; flagged values next, unranked, by value;
    rows without a value last) and rank them; a row its predecessor does not beat beyond the uncertainty shares its
    rank."""
    rows = table.rows
    h = table.headline

    def by_value(keep) -> list[tuple[int, Cell]]:
        return [] if h is None else _order(table.columns[h].spec, [
            (i, table.cells[(i, h)]) for i, r in enumerate(rows) if not r.control and (i, h) in table.cells
            and table.cells[(i, h)].mean is not None and keep(table.cells[(i, h)])])

    valued = by_value(counts)
    order = [i for i, _ in valued] + [i for i, _ in by_value(lambda c: not counts(c))]
    order += sorted((i for i, r in enumerate(rows) if not r.control and i not in order),
                    key=lambda i: (rows[i].model, rows[i].preset))
    for k, (i, cell) in enumerate(valued):
        tied = k > 0 and not better(table.columns[h].spec, valued[k - 1][1], cell)
        rows[i].rank = rows[valued[k - 1][0]].rank if tied else str(k + 1)
    controls = [i for i, r in enumerate(rows) if r.control]
    final = []
    for i in order:  # a model's control once, under its first trained row (a model may have two: cpu and cpu-aux)
        final.append(i)
        final += [c for c in controls if rows[c].model == rows[i].model and c not in final]
    remap = {old: new for new, old in enumerate(final)}
    table.rows = [rows[i] for i in final]
    table.cells = {(remap[i], j): c for (i, j), c in table.cells.items()}


def build_tables(runs: list[Run]) -> list[Table]:
    tasks = sorted({r.task for r in runs})
    declared = {t: declaration(t) for t in tasks}
    groups: dict[str, list[str]] = defaultdict(list)
    for t in sorted(tasks, key=lambda t: (declared[t].position, t)):
        groups[declared[t].group].append(t)
    tables = []
    for group, group_tasks in groups.items():
        part = [r for r in runs if r.task in group_tasks]
        columns = [c for t in group_tasks for c in _columns(t, [r for r in part if r.task == t], declared[t])]
        if not any(c.spec.shown for c in columns):
            continue
        pairs = sorted({(r.model, r.preset) for r in part})
        models_trained = {m for m, p in pairs if p != CONTROL_PRESET}
        rows = [Row(m, p, control=p == CONTROL_PRESET and m in models_trained) for m, p in pairs]
        cells = {}
        for i, row in enumerate(rows):
            mine = [r for r in part if (r.model, r.preset) == (row.model, row.preset)]
            for j, col in enumerate(columns):
                these = [r for r in mine if (r.task, r.dataset, r.key) == (col.task, col.dataset, col.key)]
                if these:
                    cells[(i, j)] = _cell(these, col)
        headline = next((j for j, c in enumerate(columns) if c.spec.shown and c.rankable), None)
        table = Table(group, columns, rows, cells, headline)
        board_marks.mark(table, CONTROL_PRESET)
        for j in range(len(columns)):
            _mark_best(table, j)
        _rank_rows(table)
        tables.append(table)
    return tables


def artifact_caption(task: str, filename: str) -> str:
    """The caption a task declares for one of its saved images (``fnmatch`` patterns), else the file name."""
    for pattern, caption in declaration(task).artifacts.items():
        if fnmatch(filename, pattern):
            return caption
    return Path(filename).stem


@dataclass(frozen=True)
class Board:
    runs: list[Run]
    tables: list[Table]


def is_snapshot(run: Run) -> bool:
    """A learning-curve snapshot's record (dmzbench/snapshots.py): drawn on the curve, not ranked in the tables."""
    try:
        return snapshots.parent_of(registry.get("model", run.model)(), run.preset) is not None
    except (DmzbenchError, TypeError, ValueError):  # a model not installed here, or a plain-dict preset
        return False


def load(results: Path) -> Board:
    runs = load_runs(Path(results))
    return Board(runs, build_tables([r for r in runs if not is_snapshot(r)]))


def page_banner(board: Board, title: str | None, note: str | None) -> tuple[str, str]:
    """The title and note given, else those of the one suite every record names (records keep their suite)."""
    recorded = {json.dumps(r.record.get("suite"), sort_keys=True) for r in board.runs}
    suite = json.loads(recorded.pop()) if len(recorded) == 1 else None
    if title is None:
        title = suites.page_title(suite["name"]) if suite else DEFAULT_TITLE
    if note is None:
        note = suite.get("note", "") if suite else ""
    return title, note
