"""Budgeted, resumable suites (dmzbench/suite/execute.py, dmzbench/budget.py) and the GPU sprint's wheel check."""

import json
import re
import sys
import zipfile
from pathlib import Path

import pytest

from dmzbench.api import ModelInfo
from dmzbench import budget
from dmzbench.suite import catalog as suites
from tests.test_cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import sprint_wheels  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_small_plan_runs_fashion_mnist_first_with_init_controls_beside_trained_models():
    groups = suites.plan(suites.get("small"))
    labels = [g.label for g in groups]
    assert labels[:4] == ["dmz/init on fashion-mnist", "dmz/small on fashion-mnist",
                          "diffae/init on fashion-mnist", "diffae/small on fashion-mnist"]
    datasets = [g.dataset for g in groups]
    assert datasets.index("shapes") > max(i for i, d in enumerate(datasets) if d == "fashion-mnist")
    assert datasets.index("edges2fashion") > max(i for i, d in enumerate(datasets) if d == "shapes")
    for g in groups:  # a control runs only the representation tasks; a trained model every task of its phase
        tasks = {r.task for r in g.runs}
        assert tasks <= {"probe", "auroc"} if g.preset == "init" else True
    assert {r.task for r in groups[1].runs} == {"probe", "recon", "fid", "interp"}


def test_cpu_suite_runs_dmz_own_protocols_beside_the_suite_options_on_its_curve_and_init():
    """Variants: dmz-official probe on every dmz probe group (init, final, each snapshot), bridge transfer in a group of
    its own (the plain model, not paired mode); no other model gets them."""
    groups = suites.plan(suites.get("cpu"))
    protocols = {}
    for g in groups:
        for r in g.runs:
            if r.task in ("probe", "transfer"):
                protocols.setdefault((g.model, g.preset, g.mode, r.task), []).append(
                    next((o for o in r.options if o.startswith("protocol=")), "suite"))
    dmz_probe = {k: v for k, v in protocols.items() if k[0] == "dmz" and k[3] == "probe"}
    assert len(dmz_probe) == 6 and all(v == ["suite", "protocol=dmz-official"] for v in dmz_probe.values())
    assert protocols[("dmz", "cpu-aux", "paired", "transfer")] == ["suite"]
    assert protocols[("dmz", "cpu-aux", "", "transfer")] == ["protocol=bridge"]
    others = [v for k, v in protocols.items() if k[0] != "dmz"]
    assert others and all(v == ["suite"] for v in others)
    bridge = next(r for g in groups for r in g.runs if "protocol=bridge" in r.options)
    assert set(suites.get("cpu").options["transfer"]) < set(bridge.options)  # the suite's N and steps, plus the protocol


def test_a_bridge_transfer_is_priced_with_its_source_domain_model_training(tmp_path, monkeypatch):
    from dmzbench.suite import execute as suite_run

    monkeypatch.setenv("DMZBENCH_HOME", str(tmp_path))
    group = next(g for g in suites.plan(suites.get("cpu"), models=["dmz"], tasks=["transfer"]) if g.mode == "")
    paired = next(g for g in suites.plan(suites.get("cpu"), models=["dmz"], tasks=["transfer"]) if g.mode == "paired")
    cpu = budget.PROFILES["cpu"]
    bridge_est, paired_est = suite_run.estimate(group, {}, cpu), suite_run.estimate(paired, {}, cpu)
    flops = suite_run.model_flops("dmz", "cpu-aux", "edges2fashion")[0]
    one_training = budget.training_seconds(flops, "dmz", cpu)
    assert bridge_est.train_s == pytest.approx(one_training) == paired_est.train_s
    assert bridge_est.task_s > one_training  # the source-domain model is trained inside the task


def test_unknown_model_of_a_suite_is_a_usage_error_with_a_suggestion():
    with pytest.raises(Exception, match="did you mean 'dmz'"):
        suites.plan(suites.get("small"), models=["dmzz"])


def test_task_costs_scale_with_the_work_they_declare():
    from dmzbench.tasks.fid import FID, FIDConfig
    from dmzbench.tasks.recon import Recon, ReconConfig

    info = ModelInfo("m", "f", "p", 32, 1, (16,), "binary", can_invert=True)
    small, big = FID.cost(FIDConfig(n_samples=100, steps=(10,)), info), FID.cost(FIDConfig(n_samples=100, steps=(10, 90)), info)
    assert big.denoiser_forwards == 10 * small.denoiser_forwards == 100 * 100
    both = Recon.cost(ReconConfig(n_images=10, steps=20, x_T="both"), info)
    random = Recon.cost(ReconConfig(n_images=10, steps=20, x_T="random"), info)
    assert random.denoiser_forwards == 200 and both.denoiser_forwards > 2 * random.denoiser_forwards


def test_flops_are_counted_on_the_meta_device_for_every_stage():
    from dmzbench import registry
    from dmzbench.data import spec_of

    flops, adapter = budget.inspect_model(registry.get("model", "diffae")(), "small", spec_of("fashion-mnist"))
    assert [s[0] for s in flops.stages] == ["autoencoder", "latent-ddim"]
    assert all(f > 1e8 for *_, f in flops.stages) and flops.forward > 1e8 and flops.encode > 0
    assert adapter.info.can_encode


def test_a_measured_profile_prices_each_model_at_its_own_rate(tmp_path):
    report = {"device": "Test GPU", "date": "2026-11-27", "cuda": True,
              "models": {"dmz": {"train_tflops": 50.0, "infer_tflops": 80.0}, "sdvae": {"train_tflops": 10.0}}}
    path = tmp_path / "gc.json"
    path.write_text(json.dumps(report))
    prof = budget.profile(str(path))
    assert prof.train_rate("dmz") == 50e12 and prof.train_rate("sdvae") == 10e12 and prof.infer_rate("dmz") == 80e12
    assert "measured" in prof.source and "Test GPU" in prof.source
    with pytest.raises(Exception, match="neither a known profile"):
        budget.profile(str(tmp_path / "missing.json"))


def _summary(path: Path) -> dict[str, str]:
    return {g["label"]: g["status"] for g in json.loads(path.read_text())["groups"]}


def test_budget_skips_what_cannot_fit_and_a_second_call_adds_only_the_missing_runs(tmp_path, fake_fashion_root,
                                                                                    monkeypatch):
    monkeypatch.setenv("DMZBENCH_DATA", str(fake_fashion_root))
    slow = tmp_path / "slow-dmz.json"  # a "measurement" under which encoding with dmz takes days
    slow.write_text(json.dumps({"device": "slow", "date": "2026-11-27", "cuda": False,
                                "models": {"dmz": {"infer_tflops": 1e-12, "train_tflops": 1e-12}}}))
    results, first, second = tmp_path / "results", tmp_path / "first.json", tmp_path / "second.json"
    common = ["suite", "tiny", "--models", "dmz,pixels", "--tasks", "probe", "--results", str(results),
              "--device", "cpu"]
    assert cli(*common, "--budget", "600", "--profile", str(slow), "--summary", str(first)) == 0
    assert _summary(first) == {"dmz/init on fashion-mnist": "skipped: time",
                               "pixels/default on fashion-mnist": "ran"}
    written = sorted(p.name for p in results.rglob("*.json") if "artifacts" not in p.parts)
    assert len(written) == 1 and written[0].startswith("pixels")
    pixels_record = next(p for p in results.rglob("pixels*.json"))
    before = pixels_record.read_bytes()

    assert cli(*common, "--budget", "600", "--profile", "cpu", "--summary", str(second)) == 0
    assert _summary(second) == {"dmz/init on fashion-mnist": "ran",
                                "pixels/default on fashion-mnist": "recorded earlier"}
    assert pixels_record.read_bytes() == before  # not rerun
    assert len([p for p in results.rglob("*.json") if "artifacts" not in p.parts]) == 2


def test_status_names_every_planned_run_and_what_is_not_yet_run(tmp_path, capsys):
    assert cli("suite", "small", "--status", "--results", str(tmp_path / "none")) == 0
    text = capsys.readouterr().out
    assert "0 of 54 runs recorded" in text
    assert text.count("not yet run") == 54


def test_plan_prints_estimates_without_running_anything(tmp_path, capsys):
    assert cli("suite", "small", "--plan", "--budget", "360", "--models", "dmz", "--tasks", "probe",
               "--profile", "h100", "--results", str(tmp_path / "r")) == 0
    text = capsys.readouterr().out
    assert "assumed" in text and "dmz/small on fashion-mnist" in text and "in budget" in text
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_ci_plan_on_this_cpu_is_within_30_percent_of_the_measured_ci_suite_time(tmp_path, capsys):
    """Issue 24.7: on a CPU, --plan prices with the measured CPU profile, and the ci suite's plan total is within 30%
    of the ci suite's wall time measured by a clean-clone .ci/run (leaderboards/README.md)."""
    measured = int(re.search(r"the ci suite (\d+) s", (REPO / "leaderboards" / "README.md").read_text()).group(1))
    assert cli("suite", "ci", "--plan", "--device", "cpu", "--results", str(tmp_path / "r")) == 0
    text = capsys.readouterr().out
    assert text.startswith("suite ci: plan (measured:")
    total = int(text.strip().splitlines()[-1].split("|")[-3])
    assert abs(total - measured) <= 0.3 * measured, (total, measured)


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> None:
    meta = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires))
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)


def test_sprint_wheel_check_finds_a_requirement_neither_carried_nor_on_the_gpu_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(sprint_wheels, "_names", lambda path: ["numpy"] if "device" in path.name else ["alpha"])
    _wheel(tmp_path, "alpha", "1.0", ["numpy", "beta>=2; python_version >= '3.8'", "gamma; python_version < '3'"])
    problems = sprint_wheels.check(tmp_path)
    assert len(problems) == 1 and "beta" in problems[0]  # numpy is on the machine; gamma's marker is false there
    _wheel(tmp_path, "beta", "1.5", [])
    assert "beta 1.5 is carried" in " ".join(sprint_wheels.check(tmp_path))
    _wheel(tmp_path, "beta", "2.1", [])
    assert "two wheels of beta" in sprint_wheels.check(tmp_path)[0]


def test_a_plan_counts_a_shared_model_once_pdae_ddpm_then_the_ddpm_group(tmp_path, monkeypatch):
    """PDAE's frozen ddpm is trained in PDAE's group; the ddpm group after it in the same plan trains nothing."""
    from dmzbench.suite import execute as suite_run

    monkeypatch.setenv("DMZBENCH_HOME", str(tmp_path))
    groups = [g for g in suites.plan(suites.get("cpu"), models=["pdae", "ddpm"], tasks=["fid"])]
    assert [g.label for g in groups] == ["pdae/cpu on fashion-mnist", "ddpm/cpu on fashion-mnist"]
    cpu = budget.PROFILES["cpu"]
    ddpm_s = budget.training_seconds(suite_run.model_flops("ddpm", "cpu", "fashion-mnist")[0], "ddpm", cpu)
    alone = [suite_run.estimate(g, {}, cpu) for g in groups]
    assert alone[1].train_s == pytest.approx(ddpm_s) and alone[0].train_s > ddpm_s
    rows = suite_run.plan_rows(groups, tmp_path / "results", cpu)
    assert rows[1]["train_s"] == 0 and rows[0]["train_s"] == round(alone[0].train_s, 1)
