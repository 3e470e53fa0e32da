"""Every task end to end on the untrained DMZ (``init``) with tiny settings: records, ranges, artefacts, skips."""

import math
from pathlib import Path

import pytest
import torch

from dmzbench import workspace
from dmzbench.errors import UsageError
from dmzbench.run.runner import run_task

pytestmark = pytest.mark.fashion_mnist
CPU = torch.device("cpu")


def run(task, tmp_path, model="dmz", **kw):
    return run_task(model, task, preset=kw.pop("preset", "init" if model != "pixels" else None), device=CPU,
                    results_dir=tmp_path, progress=False, **kw)


def test_auroc_on_shapes(tmp_path):
    rec = run("auroc", tmp_path, dataset="shapes", overrides=["max_images=300"])
    assert 0.5 <= rec.metrics["auroc_mean"] <= 1.0
    assert len([k for k in rec.metrics if k.startswith("auroc_") and k not in ("auroc_mean", "auroc_mean_std")]) == 8
    assert 0 < rec.metrics["auroc_mean_std"] < 0.5  # the std over folds, the page's uncertainty


def test_fid_records_its_feature_space_and_protocol(tmp_path):
    rec = run("fid", tmp_path, overrides=["n_samples=16", "steps=2,3", "n_reference=500"])
    assert set(rec.metrics) == {"fid_T2", "fid_T3", "fid_T2_std", "fid_T3_std"}
    assert all(v > 0 and math.isfinite(v) for v in rec.metrics.values())  # the bootstrap std too: the page's ±
    assert rec.metrics["fid_T2_std"] < rec.metrics["fid_T2"]
    d = rec.task["details"]
    assert d["uncertainty"] == "std over 10 bootstrap resamples of the generated features"
    assert d["features"] == "fmnist-featnet" and len(d["features_sha256"]) == 64
    assert d["n_samples"] == 16 and d["reference"] == "train" and d["n_reference"] == 500 and d["x_T"] == "random"
    stem = Path(rec.filename()).stem  # the artifacts sit under the record's own name (config key included)
    assert stem.startswith("dmz-init-fashion-mnist-seed0-") and (tmp_path / "fid" / "artifacts" / stem / "samples_T2.png").exists()


def test_recon_and_interp(tmp_path):
    rec = run("recon", tmp_path, overrides=["n_images=8", "steps=2"])
    assert {"psnr", "psnr_other", "ssim", "mse", "rfid", "rfid_std"} <= set(rec.metrics) and rec.metrics["psnr"] > 0
    assert 0 < rec.metrics["rfid_std"] < rec.metrics["rfid"]
    rec = run("interp", tmp_path, overrides=["n_pairs=1", "frames=3", "steps=2"])
    assert rec.metrics["step_max_over_mean"] >= 1.0 and rec.metrics["step_mean"] >= 0
    assert rec.metrics["path_span"] >= 0  # the guard against constant paths (one pair: no standard error)


def test_transfer_trains_in_paired_mode_keyed_separately(tmp_path):
    rec = run("transfer", tmp_path, overrides=["n_images=8", "steps=2"])
    assert rec.task["mode"] == "paired" and {"fid", "fid_std", "mse", "ssim", "mse_sem", "ssim_sem"} == set(rec.metrics)
    assert workspace.checkpoint_path("dmz", "init", "edges2fashion", 0, "paired").exists()
    with pytest.raises(UsageError, match="paired data set"):
        run("transfer", tmp_path, dataset="fashion-mnist")


def test_a_task_the_model_cannot_do_is_recorded_as_skipped_without_training(tmp_path):
    rec = run("fid", tmp_path, model="pixels")
    assert rec.metrics == {} and "cannot generate" in rec.task["details"]["skipped"]
    rec = run("probe", tmp_path, model="ddpm")  # ddpm has no encoder: nothing may be trained or written for it
    assert "cannot encode" in rec.task["details"]["skipped"] and rec.model["checkpoint_sha256"] is None
    assert not workspace.checkpoint_path("ddpm", "init", "fashion-mnist", 0).exists()


def test_a_run_builds_its_model_once_with_the_seeded_initial_weights(tmp_path, monkeypatch):
    from dmzbench.baselines.dmz import DMZ
    from dmzbench import data
    from dmzbench.atomic import load_checkpoint_file
    from dmzbench.run.runner import build_seeded

    built = []
    real_build = DMZ.build
    monkeypatch.setattr(DMZ, "build", lambda self, *a: built.append(real_build(self, *a)) or built[-1])
    rec = run("recon", tmp_path, seed=3, overrides=["n_images=2", "steps=1"])
    assert len(built) == 1 and rec.seed == 3
    fresh = build_seeded(DMZ(), "init", data.spec_of("fashion-mnist"), 3).state_dict()
    saved = load_checkpoint_file(workspace.checkpoint_path("dmz", "init", "fashion-mnist", 3))["model"]
    assert all(torch.equal(fresh[k], saved[k]) for k in fresh)


def test_psnr_other_scores_each_reconstruction_against_a_different_image():
    from dmzbench.tasks.recon import image_metrics

    originals = torch.randint(0, 256, (6, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    feats = lambda u8: u8.float().flatten(1)[:, :4]  # noqa: E731
    copies = image_metrics(originals, originals.clone(), feats)
    assert math.isinf(copies["psnr"]) and math.isfinite(copies["psnr_other"])
    shifted = image_metrics(originals, originals.roll(1, 0), feats)  # output i = original i-1: chance level is perfect
    assert math.isinf(shifted["psnr_other"]) and math.isfinite(shifted["psnr"])
