"""Learning-curve snapshots (issue 22): the checkpoint a long run keeps at step k IS the checkpoint of the shorter
preset trained on its own, weights bit-identical, for a one-stage family (DMZ) and a two-stage one (DiffAE, whose
snapshot still fits its latent statistics when first loaded)."""

from dataclasses import replace

import pytest
import torch

from dmzbench import registry, workspace
from dmzbench.atomic import load_checkpoint_file
from dmzbench.baselines.diffae import SMOKE as DIFFAE_SMOKE
from dmzbench.baselines.diffae import DiffAE
from dmzbench.baselines.dmz import DMZ, DMZConfig
from dmzbench.run import runner
from dmzbench.snapshots import parent_of, snapshots_of
from tests.conftest import TinySource
from tests.fault_helpers import TINY

CPU = torch.device("cpu")


class SnapDMZ(DMZ):
    name = "snap-dmz"
    presets = {"long": DMZConfig(**dict(TINY, steps=8, encoder_widths=(8, 8, 8, 8)), snapshots=(2, 5, 8, 20))}
    default_preset = "long"


class SnapDiffAE(DiffAE):
    name = "snap-diffae"
    presets = {"long": replace(DIFFAE_SMOKE, channels=32, channel_mult=(1, 1), attention_resolutions=(), z_dim=8,
                               enc_mult=(1, 1), latent_hidden=16, latent_layers=2, steps=6, batch_size=8,
                               latent_steps=3, latent_batch=8, stats_images=32, snapshots=(3,))}
    default_preset = "long"


@pytest.fixture
def registered():
    registry.register("model", "snap-dmz", SnapDMZ, "tests")
    registry.register("model", "snap-diffae", SnapDiffAE, "tests")
    registry.register("dataset", "tiny", TinySource, "tests")


def test_snapshot_presets_are_the_shorter_runs():
    assert [(s.step, s.preset) for s in snapshots_of(SnapDMZ(), "long")] == [(2, "long+steps=2"), (5, "long+steps=5")]
    assert [s.preset for s in snapshots_of(SnapDiffAE(), "long")] == ["long+latent_steps=0,steps=3"]
    assert parent_of(SnapDiffAE(), "long+latent_steps=0,steps=3") == "long"
    assert parent_of(SnapDMZ(), "long+steps=3") is None  # not a declared snapshot: trained on its own


@pytest.mark.parametrize("model", ["snap-dmz", "snap-diffae"])
def test_snapshot_is_bit_identical_to_training_the_shorter_preset(registered, model, monkeypatch, tmp_path):
    baseline = registry.get("model", model)()
    snap = snapshots_of(baseline, "long")[0]
    runner.obtain_model(model, "long", "tiny", 0, CPU, progress=False)
    assert workspace.checkpoint_path(model, snap.preset, "tiny", 0).exists()  # kept while the long run trained
    from_snapshot = runner.obtain_model(model, snap.preset, "tiny", 0, CPU, progress=False)

    monkeypatch.setenv("DMZBENCH_HOME", str(tmp_path / "alone"))  # a fresh home: the shorter preset trains alone
    alone = runner.obtain_model(model, snap.preset, "tiny", 0, CPU, progress=False)
    assert alone.checkpoint != from_snapshot.checkpoint

    a, b = (load_checkpoint_file(m.checkpoint) for m in (from_snapshot, alone))
    assert a["meta"] == b["meta"] and a["done"] and b["done"]
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    strip = lambda s: {k: v for k, v in s.items() if k != "seconds"}  # noqa: E731 (wall-clock time differs)
    assert [strip(s) for s in a["summaries"]] == [strip(s) for s in b["summaries"]]
    assert a["summaries"][0]["steps"] == snap.step
