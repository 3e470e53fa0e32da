"""The Python API (issue 23): load, evaluate (names, loaded models, in-memory objects), records, leaderboard."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dmzbench
from dmzbench import registry, workspace
from dmzbench.atomic import save_checkpoint, sha256_file
from dmzbench.errors import DmzbenchError, UsageError
from dmzbench.run import plan, runner
from dmzbench.run.checkpoints import checkpoint_meta
from dmzbench.train import CHECKPOINT_FORMAT, Trainer

from .api_helpers import TinyEncoder, register_tiny

REPO = Path(__file__).resolve().parent.parent
CI = REPO / "leaderboards" / "ci"
CPU = torch.device("cpu")


def test_import_is_cheap_and_exports_exactly_the_public_api():
    code = ("import sys, dmzbench; print(sorted(dmzbench.__all__)); "
            "print([m for m in ('torch', 'pandas', 'dmzbench.run.runner') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, heavy = done.stdout.strip().splitlines()
    assert names == str(sorted(["load", "evaluate", "Model", "records", "leaderboard", "ResultRecord", "ModelAdapter",
                                "InvertibleAdapter", "InterpolatingAdapter", "ModelInfo", "CapabilityMissing",
                                "DmzbenchError"]))
    assert heavy == "[]"
    assert all(callable(getattr(dmzbench, n)) for n in dmzbench.__all__)


def test_load_never_trains_and_names_the_train_command(isolated_home):
    with pytest.raises(DmzbenchError) as caught:
        dmzbench.load("dmz", preset="smoke", device="cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert "dmzbench train --model dmz --preset smoke --dataset fashion-mnist --seed 0" in message
    assert not list(isolated_home.rglob("*.pt"))  # nothing trained, nothing written


def _finished_checkpoint(model: str, preset: str) -> Path:
    """A finished checkpoint as training leaves it (the seeded initial weights, marked done)."""
    key = plan.model_spec(model, preset, device=CPU)
    spec = key.dataset_source.spec
    module = runner.build_seeded(key.baseline, preset, spec, 0)
    meta = checkpoint_meta(key.baseline, preset, spec, 0) | {"mode": "", "dependencies": {}}
    path = workspace.checkpoint_path(key.model, preset, key.dataset, 0, "")
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "meta": meta, "model": module.state_dict(), "done": True,
                           "summaries": [], "stage_index": 0, "step": 0})
    return path


def test_load_with_a_checkpoint_loads_it_and_checks_the_adapters_input(monkeypatch):
    path = _finished_checkpoint("dmz", "smoke")
    monkeypatch.setattr(Trainer, "fit", lambda *a, **k: pytest.fail("load() trained"))
    model = dmzbench.load("DMZ", preset="smoke", device="cpu")  # case does not matter
    assert (model.name, model.preset, model.dataset) == ("dmz", "smoke", "fashion-mnist")
    assert model.checkpoint == path and model.checkpoint_sha256 == sha256_file(path)
    z = model.adapter.encode(torch.zeros(2, 1, 32, 32))
    assert z.shape == (2, math.prod(model.info.latent_shape))
    bad = {
        "28x28": (torch.zeros(2, 1, 28, 28), "takes 32x32 images"),
        "0..255": (torch.full((2, 1, 32, 32), 255.0), "values in [-1, 1], got 255..255"),
        "uint8": (torch.zeros(2, 1, 32, 32, dtype=torch.uint8), "x.float() / 127.5 - 1"),
        "one image": (torch.zeros(1, 32, 32), "pass x[None]"),
        "channels": (torch.zeros(2, 3, 32, 32), "1-channel images"),
    }
    for what, (x, fragment) in bad.items():
        with pytest.raises(UsageError) as caught:
            model.adapter.encode(x)
        assert fragment in str(caught.value) and "\n" not in str(caught.value), what
    with pytest.raises(UsageError, match="steps must be a positive integer"):
        model.adapter.generate(2, steps=0)


def test_in_memory_models_are_never_cached_by_name(tmp_path, isolated_home):
    """Two in-memory models of one class and name, the second with all weights zeroed, get different records (the
    second is not scored with the first's features), and neither record has a reproduce command."""
    dataset = register_tiny()
    first_model, zeroed = TinyEncoder(), TinyEncoder()
    with torch.no_grad():
        for p in zeroed.parameters():
            p.zero_()
    first = dmzbench.evaluate(first_model, "probe", dataset=dataset, results=tmp_path, progress=False)
    second = dmzbench.evaluate(zeroed, "probe", dataset=dataset, results=tmp_path, progress=False)
    assert first.metrics["accuracy"] > 0.8 and second.metrics["accuracy"] < 0.65
    for rec, module in ((first, first_model), (second, zeroed)):
        assert rec.reproduce == "" and rec.model["source"] == "in-memory" and rec.model["checkpoint_sha256"] is None
        origin = rec.model["in_memory"]
        assert origin["class"] == "TinyEncoder" and origin["module"].endswith("api_helpers")
        assert origin["weights_sha256"] == dmzbench.public_api.weights_sha256(module)
        assert rec.model["preset"] == f"v1@{origin['weights_sha256'][:8]}"
    assert first.model["in_memory"]["weights_sha256"] != second.model["in_memory"]["weights_sha256"]
    assert len(list((tmp_path / "probe").glob("*.json"))) == 2  # two rows, never one overwritten
    assert not (isolated_home / "features").exists() or not any((isolated_home / "features").iterdir())


def test_evaluate_a_name_matches_the_command_line_and_returns_a_typed_record(tmp_path):
    dataset = register_tiny()
    rec = dmzbench.evaluate("pixels", "probe", dataset=dataset, protocol="split", progress=False)
    assert isinstance(rec, dmzbench.ResultRecord) and 0.5 < rec.metrics["accuracy"] <= 1.0
    # the data set was registered from a file, so the command imports it again (records.reproduce_command)
    assert rec.reproduce == ("dmzbench --import tests/api_helpers.py run --model pixels --preset identity --task probe "
                             "--dataset tiny-api --seed 0 -o protocol=split")
    saved = rec.save(tmp_path / "one.json")
    assert json.loads(saved.read_text()) == json.loads(json.dumps(rec.to_dict()))  # tuples become lists
    assert rec.save(tmp_path / "results") == tmp_path / "results" / rec.filename()
    assert not (Path.cwd() / "results" / rec.filename()).exists()  # results=None writes nothing
    with pytest.raises(UsageError, match="adapter protocol"):
        dmzbench.evaluate(torch.nn.Linear(2, 2), "probe", dataset=dataset)


def test_the_command_line_looks_each_name_up_once(tmp_path, monkeypatch, capsys):
    """Following the model name from the command line to the record, the registry is consulted once per name."""
    dataset = register_tiny()
    calls = []
    real_get = registry.get
    monkeypatch.setattr(registry, "get", lambda kind, name: calls.append((kind, name)) or real_get(kind, name))
    from dmzbench.cli.app import main

    with pytest.raises(SystemExit) as done:
        main(["run", "--model", "pixels", "--task", "probe", "--dataset", dataset, "--results", str(tmp_path), "--json"])
    assert done.value.code in (0, None)
    assert json.loads(capsys.readouterr().out)["model"]["name"] == "pixels"
    assert calls.count(("model", "pixels")) == 1
    assert calls.count(("task", "probe")) == 1
    assert calls.count(("dataset", dataset)) == 1


def test_records_pivot_equals_the_committed_ci_csv():
    df = dmzbench.records(CI / "results")
    assert list(df.columns) == ["model", "preset", "task", "dataset", "seed", "config_key", "metric", "value",
                                "uncertainty", "direction", "device", "date", "commit", "skipped", "path"]
    assert not df["metric"].str.endswith("_std").any()  # an uncertainty is its metric's column, not a row
    with open(CI / "leaderboard.csv") as f:
        page = [r for r in csv.DictReader(f) if r["mean"]]
    assert (df["metric"] == "").sum() == (df["skipped"] != "").sum() > 0  # skipped runs keep one row, with the reason
    pivot = df[df["metric"] != ""].set_index(["model", "preset", "task", "dataset", "config_key", "metric"])
    assert pivot.index.is_unique and len(pivot) == len(page)
    for r in page:
        row = pivot.loc[(r["model"], r["preset"], r["task"], r["dataset"], r["config_key"], r["metric"])]
        assert row["value"] == float(r["mean"])
        assert (row["uncertainty"] if row["uncertainty"] == row["uncertainty"] else "") == (
            float(r["uncertainty"]) if r["uncertainty"] else "")
        assert row["direction"] == r["direction"]


def test_leaderboard_tables_are_the_pages_and_follow_a_filtered_frame():
    from dmzbench.board.build import load as load_board
    from dmzbench.board.text import header

    df = dmzbench.records(CI / "results")
    tables = dmzbench.leaderboard(df)
    board = load_board(CI / "results")
    assert list(tables) == [t.group for t in board.tables]
    for table in board.tables:
        frame = tables[table.group]
        assert list(frame["model"]) == [r.model for r in table.rows]
        assert list(frame["rank"]) == ["ctrl" if r.control else r.rank for r in table.rows]
        for j in table.shown():
            label = header(table, j)
            means = [table.cell(i, j).mean for i in range(len(table.rows))]
            assert [None if v != v else v for v in frame[label]] == means, label
    probe_only = dmzbench.leaderboard(df[df["task"] == "probe"])
    assert list(probe_only) == ["Representation"]
    assert all(c.startswith(("rank", "model", "preset", "probe.")) for c in probe_only["Representation"].columns)
