"""Issue 22.6: the main job puts its number in context, the untrained init control's number on the same task config
beside it, computed once and read from its record afterwards."""

import pytest

from tests.test_cli import cli

pytestmark = pytest.mark.fashion_mnist


def test_run_prints_the_init_control_beside_the_model_and_reuses_its_record(tmp_path, capsys):
    args = ("run", "--model", "dmz", "--preset", "smoke+steps=2", "--task", "probe", "-o", "max_images=300",
            "--results", str(tmp_path))
    assert cli(*args) == 0
    err = capsys.readouterr().err
    assert "untrained init control" in err and "difference" in err and "leaderboards/cpu/README.md" in err
    control = next((tmp_path / "probe").glob("dmz-init-fashion-mnist-seed0-*.json"))
    made = control.stat().st_mtime_ns
    assert cli(*args) == 0
    assert "untrained init control" in capsys.readouterr().err
    assert control.stat().st_mtime_ns == made  # read from its record, not computed again


def test_a_control_run_prints_no_control(tmp_path, capsys):
    assert cli("run", "--model", "dmz", "--preset", "init", "--task", "probe", "-o", "max_images=300",
               "--results", str(tmp_path)) == 0
    assert "untrained init control" not in capsys.readouterr().err
