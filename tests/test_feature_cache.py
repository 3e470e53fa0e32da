"""Issue 25 item 2: the feature cache is verified before it is used. A damaged, truncated, empty, swapped or
wrong-shape cache file is set aside and recomputed with a warning line, and the record equals the one made from a clean
cache; a directory in the file's place is a one-line error."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from dmzbench.run import features
from tests.test_outputs import PLUGIN, data_root, run_cli  # noqa: F401 (a fixture)

PROBE = ["--task", "probe", "-o", "protocol=split"]


def _run(tmp_path: Path, data_root: Path, capsys, model: str = "pixels", preset: str = "identity"):
    plugin = ["--import", str(PLUGIN)] if model == "faulty" else []
    code, out, err = run_cli([*plugin, "run", "--model", model, "--preset", preset, *PROBE,
                              "--data-root", str(data_root), "--results", str(tmp_path / "results"), "--json"], capsys)
    return code, (json.loads(out) if code == 0 else None), err


def _comparable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("timings", "created_at")}


def _cache_files(home: Path) -> list[Path]:
    return sorted((home / "features").glob("*.pt"))


def _damage(kind: str, path: Path, other: Path) -> None:
    raw = path.read_bytes()
    if kind == "bitflip":
        flipped = bytearray(raw)
        flipped[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
    elif kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "legacy":  # a bare torch.save of the features, as before the cache had a header
        torch.save(torch.zeros(3), path)
    elif kind == "swapped":  # another model's intact cache file, under this one's name
        shutil.copyfile(other, path)
    elif kind == "wrongshape":  # intact and with this file's key, but the wrong shape (not this split's features)
        key = path.stem
        features._save(path, key, torch.zeros(3, 5))


@pytest.mark.parametrize("kind", ["bitflip", "truncated", "empty", "legacy", "swapped", "wrongshape"])
def test_a_damaged_cache_file_is_set_aside_and_the_record_equals_the_clean_one(kind, tmp_path, data_root, capsys,
                                                                               isolated_home):
    code, clean, err = _run(tmp_path, data_root, capsys)
    assert code == 0, err
    files = _cache_files(isolated_home)
    assert len(files) == 2  # the train and the test split
    assert _run(tmp_path, data_root, capsys, "faulty", "clean")[0] == 0  # another model's cache files
    others = sorted(set(_cache_files(isolated_home)) - set(files))
    for path, other in zip(files, others):
        _damage(kind, path, other)
    code, again, err = _run(tmp_path, data_root, capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert err.count("warning: the feature cache") == 2, err
    assert _comparable(again) == _comparable(clean)
    assert all(path.with_name(path.name + ".damaged").exists() for path in files)
    code, third, err = _run(tmp_path, data_root, capsys)  # the recomputed files are used as they are
    assert code == 0 and "warning" not in err and _comparable(third) == _comparable(clean)


def test_a_directory_in_place_of_a_cache_file_is_one_line(tmp_path, data_root, capsys, isolated_home):
    assert _run(tmp_path, data_root, capsys)[0] == 0
    for path in _cache_files(isolated_home):
        path.unlink()
        path.mkdir()
    code, _, err = _run(tmp_path, data_root, capsys)
    assert code == 1 and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    assert "is a directory, not a file; remove it" in " ".join(err.split())
