"""Typed presets and model settings (-m): identifiers, validation before data, distinct checkpoints and records."""

import dataclasses
import json

import pytest

from dmzbench import registry, workspace
from dmzbench.board.page import write as write_leaderboard
from dmzbench.cli.app import main
from dmzbench.errors import UsageError
from dmzbench.presets import canonical, config_dict, parse_preset, resolve, with_settings

FAMILIES = ["dmz", "dgae", "diffae", "pdae", "sdvae", "ddpm", "pixels"]


def cli(*args):
    try:
        main(list(args))
        return 0
    except SystemExit as exc:
        return exc.code or 0


@pytest.mark.parametrize("name", FAMILIES)
def test_every_preset_is_a_frozen_instance_of_the_familys_config(name):
    b = registry.get("model", name)()
    for preset, cfg in b.presets.items():
        assert isinstance(cfg, b.Config), (name, preset)
        assert type(cfg).__dataclass_params__.frozen, (name, preset)
        assert config_dict(cfg).items() <= b.preset_config(preset).items()  # sdvae/dgae add derived keys


def test_identifiers_are_canonical_and_round_trip():
    assert parse_preset("smoke") == ("smoke", {})
    assert parse_preset("smoke+steps=3000,bits=32") == ("smoke", {"steps": "3000", "bits": "32"})
    assert parse_preset("smoke+channel_mult=1,2,2,bits=8") == ("smoke", {"channel_mult": "1,2,2", "bits": "8"})
    dmz = registry.get("model", "dmz")()
    assert with_settings(dmz, "smoke", ["steps=3000", "bits=032"]) == "smoke+bits=32,steps=3000"
    assert with_settings(dmz, "smoke", ["bits=16"]) == "smoke"  # the preset's own value: no new configuration
    name = with_settings(dmz, "smoke", ["channel_mult=1,2,4", "lr=1e-3", "dropout=0.1"])
    assert name == "smoke+channel_mult=1,2,4,dropout=0.1"  # lr=1e-3 is smoke's own
    cfg = resolve(dmz, name)
    assert cfg.channel_mult == (1, 2, 4) and cfg.dropout == 0.1 and cfg.bits == 16
    assert canonical("init", {"flip": False, "image_size": None}) == "init+flip=false,image_size=none"
    assert resolve(dmz, "init+flip=false,image_size=none") == dataclasses.replace(dmz.presets["init"], flip=False)


@pytest.mark.parametrize("args,fragment", [
    (["-m", "bitz=32"], "did you mean 'bits'"),
    (["-m", "bits=3x2"], "model setting bits='3x2' must be an integer"),
    (["-m", "bits"], "is not of the form KEY=VALUE"),
    (["-m", "steps=-5"], "model setting steps=-5 must not be negative"),
    (["-m", "flip=maybe"], "model setting flip='maybe' must be true or false"),
    (["--preset", "smok", "-m", "bits=32"], "did you mean 'smoke'"),
    (["--preset", "smoke+bitz=3"], "did you mean 'bits'"),
])
def test_bad_settings_fail_in_one_line_before_any_data(args, fragment, capsys, tmp_path):
    # no data anywhere (offline, no data root): a setting error must come first, the same with or without the data
    assert cli("run", "--model", "dmz", "--task", "probe", *args, "--results", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_pdae_settings_keep_the_frozen_dpm_of_the_base_preset():
    pdae = registry.get("model", "pdae")()
    assert pdae.dependencies("smoke+z_dim=64") == {"pretrained_dpm": ("ddpm", "smoke")}
    with pytest.raises(UsageError, match="did you mean 'z_dim'"):
        resolve(pdae, "smoke+zdim=64")


def test_dmz_bits_setting_records_its_latent_and_its_own_checkpoint(fake_fashion_root, tmp_path, capsys):
    """Acceptance: ``dmzbench run --model dmz --preset init -m bits=32 --task probe`` records a 32-d latent from a
    checkpoint of its own, beside (not instead of) --preset init's."""
    common = ["--task", "probe", "--data-root", str(fake_fashion_root), "-o", "protocol=split", "--json"]
    records = {}
    for extra in ([], ["-m", "bits=32"]):
        results = tmp_path / f"results{len(extra)}"
        assert cli("run", "--model", "dmz", "--preset", "init", *extra, *common, "--results", str(results)) == 0
        records[len(extra)] = json.loads(capsys.readouterr().out)
    plain, bits32 = records[0]["model"], records[2]["model"]
    assert plain["preset"] == "init" and "settings" not in plain and plain["info"]["latent_shape"] == [16]
    assert bits32["preset"] == "init+bits=32" and bits32["settings"] == {"bits": 32}
    assert bits32["info"]["latent_shape"] == [32] and bits32["config"]["bits"] == 32
    assert {k: v for k, v in bits32["config"].items() if k != "bits"} == {
        k: v for k, v in plain["config"].items() if k != "bits"}
    a, b = (workspace.checkpoint_path("dmz", p, "fashion-mnist", 0) for p in ("init", "init+bits=32"))
    assert a.exists() and b.exists() and a != b
    assert plain["checkpoint_sha256"] != bits32["checkpoint_sha256"]
    assert "--preset init+bits=32" in records[2]["reproduce"]
    assert cli("run", "--model", "dmz", "--preset", "init+bits=32,flip=true", *common, "--results",
               str(tmp_path / "results2")) == 0  # the same configuration, written another way: the same checkpoint
    assert json.loads(capsys.readouterr().out)["model"]["checkpoint_sha256"] == bits32["checkpoint_sha256"]
    page = write_leaderboard(tmp_path / "results2", tmp_path / "board")[0].read_text()
    assert "| dmz | init+bits=32 |" in page  # the row names the settings
