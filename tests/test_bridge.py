"""The bridge transfer protocol: the code MLP learns a mapping, and the runner trains one model per domain."""

import json

import pytest
import torch

from dmzbench import workspace
from dmzbench.api import SOURCE_DOMAIN
from dmzbench.run.runner import run_task
from dmzbench.tasks.bridge import BridgeSettings, CodeBridge, fit_bridge
from dmzbench.tasks.transfer import Transfer, TransferConfig
from tests.conftest import tiny_data

FAST = BridgeSettings(hidden_dim=32, layers=1, batch_size=50, max_epochs=60, patience=5)


def test_binary_bridge_learns_a_code_permutation():
    g = torch.Generator().manual_seed(0)
    z_src = torch.bernoulli(torch.full((500, 12), 0.5), generator=g)
    z_tgt = 1 - z_src[:, torch.randperm(12, generator=g)][:, :8]  # each target bit is a flipped source bit
    bridge, summary = fit_bridge(z_src, z_tgt, binary=True, settings=FAST, seed=0)
    assert isinstance(bridge.net[-1], torch.nn.Sigmoid)
    assert summary["heldout_bit_accuracy"] > 0.98 and summary["heldout_pairs"] == 50
    with torch.no_grad():
        assert ((bridge(z_src) > 0.5).float() == z_tgt).float().mean() > 0.98


def test_binary_bridge_cannot_learn_unrelated_codes():
    """The held-out score must be able to fail: independent codes stay at chance."""
    g = torch.Generator().manual_seed(1)
    z_src, z_tgt = (torch.bernoulli(torch.full((500, 8), 0.5), generator=g) for _ in range(2))
    _, summary = fit_bridge(z_src, z_tgt, binary=True, settings=FAST, seed=0)
    assert summary["heldout_bit_accuracy"] < 0.6


def test_continuous_bridge_learns_a_linear_map_in_the_target_units():
    g = torch.Generator().manual_seed(2)
    z_src = torch.randn(500, 6, generator=g)
    z_tgt = 10.0 + 5.0 * z_src @ torch.randn(6, 4, generator=g)  # far from zero mean / unit scale
    bridge, summary = fit_bridge(z_src, z_tgt, binary=False, settings=FAST, seed=0)
    assert not isinstance(bridge.net[-1], torch.nn.Sigmoid)
    with torch.no_grad():
        rel = (bridge(z_src) - z_tgt).pow(2).mean() / z_tgt.var()
    assert rel < 0.05 and summary["heldout_mse"] < 0.05 * z_tgt.var().item()


def test_bridge_is_bridge_train_py_shaped():
    net = CodeBridge(256, 256, 256, 4, binary=True).net  # 4 x (Linear, BatchNorm1d, ReLU), Linear, Sigmoid
    assert [type(m).__name__ for m in net] == ["Linear", "BatchNorm1d", "ReLU"] * 4 + ["Linear", "Sigmoid"]


def test_protocols_need_different_models():
    assert Transfer.needs(TransferConfig()) == ("paired", frozenset({"reconstruct"}))
    assert Transfer.needs(TransferConfig(protocol="bridge")) == ("", frozenset({"encode", "decode"}))
    assert TransferConfig().decode_steps == 100 and TransferConfig(protocol="bridge").decode_steps == 40


def test_source_domain_is_the_sources_as_a_data_set():
    data = tiny_data(n=8)
    data = data.__class__(data.spec, data.train_images, data.train_labels, data.test_images, data.test_labels, "t",
                          train_sources=255 - data.train_images, test_sources=255 - data.test_images)
    src = data.source_domain()
    assert torch.equal(src.train_images, data.train_sources) and torch.equal(src.test_labels, data.test_labels)
    assert not src.paired and src.spec.name.endswith(":sources")
    with pytest.raises(ValueError):
        src.source_domain()


@pytest.mark.fashion_mnist
def test_bridge_run_trains_one_model_per_domain_and_names_its_protocol(tmp_path):
    rec = run_task("dmz", "transfer", preset="init", device=torch.device("cpu"), results_dir=tmp_path, progress=False,
                   overrides=["protocol=bridge", "n_images=4", "steps=1", "bridge_epochs=1",
                              "bridge_train_images=200"])
    assert {"fid", "mse", "ssim"} <= set(rec.metrics) and rec.task["config"]["protocol"] == "bridge"
    assert rec.task["mode"] == "" and "preprocessing" in rec.dataset
    assert workspace.checkpoint_path("dmz", "init", "edges2fashion", 0).exists()  # the target-domain model
    assert workspace.checkpoint_path("dmz", "init", "edges2fashion", 0, SOURCE_DOMAIN).exists()
    assert not workspace.checkpoint_path("dmz", "init", "edges2fashion", 0, "paired").exists()
    details = rec.task["details"]
    assert len(details["models"][SOURCE_DOMAIN]["checkpoint_sha256"]) == 64 and details["decode_steps"] == 1
    assert details["bridge"]["train_pairs"] == 180
    (written,) = (tmp_path / "transfer").glob("dmz-init-edges2fashion-seed0-*.json")
    assert json.loads(written.read_text())["task"]["config"]["protocol"] == "bridge"
