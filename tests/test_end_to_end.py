"""End to end on the real Fashion-MNIST (Debian package): the main job, its record, reuse, and the leaderboard."""

import json

import pytest
import torch

from dmzbench import workspace
from dmzbench.board.page import write as write_leaderboard
from dmzbench.run.runner import run_task

pytestmark = pytest.mark.fashion_mnist
CPU = torch.device("cpu")
RECORD_KEYS = {"schema_version", "model", "task", "dataset", "seed", "metrics", "timings", "train", "device",
               "libraries", "dmzbench", "created_at", "suite", "environment", "reproduce"}


def test_pixels_split_probe_matches_the_dataset_benchmark(tmp_path):
    """Fashion-MNIST's own benchmark: logistic regression on raw pixels is about 0.84."""
    rec = run_task("pixels", "probe", overrides=["protocol=split"], device=CPU, results_dir=tmp_path, progress=False)
    assert 0.82 <= rec.metrics["accuracy"] <= 0.87
    assert rec.dataset["splits"] == {"train": 60000, "test": 10000}


def test_dmz_init_probe_record_and_reuse(tmp_path):
    kw = dict(preset="init", overrides=["max_images=2000"], device=CPU, results_dir=tmp_path, progress=False)
    first = run_task("dmz", "probe", **kw)
    saved = json.loads((tmp_path / first.filename()).read_text())
    assert set(saved) == RECORD_KEYS and saved["schema_version"] == 1
    assert saved["model"]["checkpoint_sha256"] == first.model["checkpoint_sha256"]
    assert saved["task"]["config"] == {"protocol": "kfold5", "images": "test", "max_images": 2000, "max_iter": 100,
                                       "binary": False}
    assert saved["train"]["steps"] == 0 and saved["dataset"]["splits"]["train"] == 60000
    assert 0.2 < saved["metrics"]["accuracy"] <= 1.0
    assert set(saved["libraries"]) >= {"torch", "diffusers", "scikit-learn"}

    checkpoint = workspace.checkpoint_path("dmz", "init", "fashion-mnist", 0)
    features = sorted((workspace.home() / "features").glob("*.pt"))
    stamps = [checkpoint.stat().st_mtime_ns] + [f.stat().st_mtime_ns for f in features]
    second = run_task("dmz", "probe", **kw)
    assert second.metrics == first.metrics
    assert [checkpoint.stat().st_mtime_ns] + [f.stat().st_mtime_ns for f in features] == stamps  # reused, not redone

    out = write_leaderboard(tmp_path, tmp_path / "board")
    page = out[0].read_text()
    # one row per model+preset; the header names N (max_images) apart from the task's defaults
    assert "| 1 | dmz | init |" in page and "probe.accuracy ↑ [fashion-mnist, max_images=2000]" in page
