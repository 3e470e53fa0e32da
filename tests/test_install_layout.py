"""The built-ins install under the dmzbench namespace (baselines/ -> dmzbench.baselines, tasks/ -> dmzbench.tasks)."""

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_and_mapped():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = setup["package-dir"]
    assert mapped == {"dmzbench.baselines": "baselines", "dmzbench.tasks": "tasks"}
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "dmzbench").rglob("__init__.py")}
    on_disk |= set(mapped)
    assert set(setup["packages"]) == on_disk


def test_builtin_entry_points_name_the_dmzbench_namespace():
    for group in ("dmzbench.models", "dmzbench.tasks", "dmzbench.datasets"):
        values = [ep.value for ep in entry_points(group=group) if ep.dist and ep.dist.name == "dmzbench"]
        assert values and all(v.startswith("dmzbench.") for v in values), (group, values)


def test_top_level_tasks_and_baselines_are_not_importable_outside_the_repository(tmp_path):
    code = ("import importlib.util as u, dmzbench.tasks.probe, dmzbench.baselines.dmz;"
            "print(u.find_spec('tasks'), u.find_spec('baselines'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "None"]
