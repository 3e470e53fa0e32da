"""Result records as pandas DataFrames: ``records`` (tidy: one row per record and metric) and ``leaderboard`` (the
tables the page shows, built by ``dmzbench.board.build`` from those rows, so a filtered frame gives a filtered page).

A metric's own uncertainty (the key its task declares, e.g. ``accuracy_std``) is the ``uncertainty`` of the metric's row,
not a row of its own; the direction is the task's declaration (empty for a count or a task that is not installed).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from dmzbench.board.build import Run, build_tables, declaration
from dmzbench.board.text import header
from dmzbench.errors import UsageError
from dmzbench.run.records import ResultRecord, config_key, read_record

COLUMNS = ("model", "preset", "task", "dataset", "seed", "config_key", "metric", "value", "uncertainty", "direction",
           "device", "date", "commit", "skipped", "path")
DIRECTIONS = {True: "higher", False: "lower", None: ""}


def _record_dicts(source: Any) -> list[tuple[str, dict[str, Any]]]:
    """(where, record) for a results folder, a record file, a ``ResultRecord`` or an iterable of any of these."""
    if isinstance(source, ResultRecord):
        return [(f"<in memory: {source.filename()}>", source.to_dict())]
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.json") if "artifacts" not in p.relative_to(path).parts)
            return [(str(p), read_record(p)) for p in files]
        if path.is_file():
            return [(str(path), read_record(path))]
        raise UsageError(f"{path} is neither a results folder nor a record file")
    if isinstance(source, Iterable):
        return [pair for item in source for pair in _record_dicts(item)]
    raise UsageError(f"records() takes a results folder, a record file, a ResultRecord or a list of them, got "
                     f"{type(source).__name__}")


def records(source: Any):
    """A tidy DataFrame of result records: one row per (record, metric) with the columns of ``COLUMNS`` (a skipped
    run: one row with an empty ``metric`` and its ``skipped`` reason; ``path``: the record's file; the records
    themselves are in ``frame.attrs["records"]``, by path, for ``leaderboard``)."""
    rows = []
    kept = {}
    for where, rec in _record_dicts(source):
        try:
            task, model, dataset = rec["task"], rec["model"], rec["dataset"]
            declared = declaration(task["name"])
            # a family's uncertainty names its members' keys (fid_T* -> fid_T*_std: fid_T10_std), api.Metric
            uncertainty_keys = {m.uncertainty_of(k) for m in declared.metrics if m.uncertainty
                                for k in rec["metrics"] if m.matches(k)}
            common = {"model": model["name"], "preset": model["preset"], "task": task["name"],
                      "dataset": dataset["name"], "seed": int(rec["seed"]), "config_key": config_key(task),
                      "device": rec.get("device", ""), "date": rec.get("created_at", ""),
                      "commit": (rec.get("dmzbench") or {}).get("commit"),
                      "skipped": (task.get("details") or {}).get("skipped") or "", "path": where}
            if not rec["metrics"]:  # a skipped run: one row with its reason, so the page keeps its empty cell
                rows.append(common | {"metric": "", "value": None, "uncertainty": None, "direction": ""})
            for metric, value in rec["metrics"].items():
                if metric in uncertainty_keys:
                    continue  # shown as its metric's uncertainty
                spec = declared.spec(metric)
                unc_key = spec.uncertainty_of(metric) if spec is not None and spec.uncertainty else ""
                rows.append(common | {
                    "metric": metric, "value": None if value is None else float(value),
                    "uncertainty": float(rec["metrics"][unc_key]) if unc_key in rec["metrics"] else None,
                    "direction": DIRECTIONS[spec.higher_is_better] if spec is not None else ""})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"{where} is not a complete result record (missing or malformed {exc})") from None
        kept[where] = rec
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"], utc=True, errors="coerce")
    frame.attrs["records"] = kept
    return frame


def _runs(frame) -> list:
    """The board's runs of the records in ``frame``, each with the metrics ``frame`` keeps (and their uncertainty)."""
    kept = frame.attrs.get("records") or {}
    runs = []
    for where, part in frame.groupby("path", sort=True):
        rec = kept.get(where) or read_record(Path(where))
        declared = declaration(rec["task"]["name"])
        metrics: dict[str, float] = {}
        for row in part.itertuples():
            if not row.metric:  # the row of a skipped run
                continue
            metrics[row.metric] = row.value
            spec = declared.spec(row.metric)
            if spec is not None and spec.uncertainty and pd.notna(row.uncertainty):
                metrics[spec.uncertainty_of(row.metric)] = row.uncertainty
        task = rec["task"]
        runs.append(Run(rec["model"]["name"], rec["model"]["preset"], rec["dataset"]["name"], task["name"],
                        int(rec["seed"]), config_key(task), task.get("config") or {}, task.get("details") or {},
                        metrics, where, rec))
    return runs


def leaderboard(frame) -> dict[str, Any]:
    """The page's tables (section name -> DataFrame) of the records in ``frame`` (from ``records``): one row per
    (model, preset) in page order with ``rank`` (``ctrl`` for an ``init`` control), then per shown column its header
    and the header + `` ±`` (the uncertainty: std over seeds, else the task's own, else empty)."""
    if len(frame) == 0:
        raise UsageError("leaderboard() got no records; read some with dmzbench.records(PATH)")
    out = {}
    for table in build_tables(_runs(frame)):
        rows = []
        for i, row in enumerate(table.rows):
            line = {"rank": "ctrl" if row.control else row.rank, "model": row.model, "preset": row.preset}
            for j in table.shown():
                cell, label = table.cell(i, j), header(table, j)
                line[label] = cell.mean
                line[f"{label} ±"] = cell.uncertainty
            rows.append(line)
        out[table.group] = pd.DataFrame(rows)
    return out
