"""A third-party package (examples/dmzbench-pca) is discovered and scored with no change to dmzbench."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed_pca(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO / "examples" / "dmzbench-pca")], check=True,
                   capture_output=True)
    return target


def _dmzbench(site, home, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
               DMZBENCH_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "dmzbench", *args], capture_output=True, text=True, env=env)


def test_plugin_is_listed_and_passes_conformance(installed_pca, tmp_path):
    listing = _dmzbench(installed_pca, tmp_path, "ls", "models")
    assert listing.returncode == 0 and "pca" in listing.stdout and "dmzbench-pca" in listing.stdout
    check = _dmzbench(installed_pca, tmp_path, "check", "--model", "pca")
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.fashion_mnist
def test_plugin_is_scored_by_the_probe(installed_pca, tmp_path):
    run = _dmzbench(installed_pca, tmp_path, "run", "--model", "pca", "--task", "probe", "-o", "protocol=split",
                    "--json", "--results", str(tmp_path / "results"))
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads(run.stdout)
    assert record["model"]["source"] == "dmzbench-pca" and 0.6 < record["metrics"]["accuracy"] < 0.9


@pytest.mark.fashion_mnist
def test_plugin_task_runs_and_reaches_the_page_with_its_directions(installed_pca, tmp_path):
    listing = _dmzbench(installed_pca, tmp_path, "ls", "tasks")
    assert listing.returncode == 0 and "knn" in listing.stdout and "neighbour_agreement ↑" in listing.stdout
    results = tmp_path / "results"
    for model in ("pca", "pixels"):
        run = _dmzbench(installed_pca, tmp_path, "run", "--model", model, "--task", "knn", "-o", "n_train=2000",
                        "-o", "n_test=300", "--results", str(results))
        assert run.returncode == 0, run.stderr[-2000:]
        assert 0.5 < json.loads(run.stdout)["metrics"]["neighbour_agreement"] <= 1.0  # piped: JSON on stdout
    page = _dmzbench(installed_pca, tmp_path, "leaderboard", "--results", str(results), "--out", str(tmp_path / "page"))
    assert page.returncode == 0, page.stderr[-2000:]
    text = (tmp_path / "page" / "leaderboard.md").read_text()
    assert "## Neighbourhoods (plugin task)" in text
    assert "knn.neighbour_agreement ↑ [fashion-mnist, n_train=2000, n_test=300]" in text
    assert "knn.neighbour_distance ↓" in text


@pytest.mark.fashion_mnist
def test_a_plugin_suite_runs_its_plugin_task_and_the_records_reach_the_page(installed_pca, tmp_path):
    """examples/dmzbench-pca declares a suite (``dmzbench.suites`` entry point) that names its own task ``knn`` beside
    the built-in probe: ``dmzbench suite`` plans it from the tasks' data sets, runs it, and the page shows the plugin
    task's table with a record of each model."""
    listing = _dmzbench(installed_pca, tmp_path, "ls", "suites")
    assert listing.returncode == 0 and "pca-knn" in listing.stdout, listing.stderr[-2000:]
    results, page = tmp_path / "results", tmp_path / "page"
    plan = _dmzbench(installed_pca, tmp_path, "suite", "pca-knn", "--plan", "--results", str(results))
    assert plan.returncode == 0, plan.stderr[-2000:]
    run = _dmzbench(installed_pca, tmp_path, "suite", "pca-knn", "--device", "cpu", "--results", str(results),
                    "--out", str(page))
    assert run.returncode == 0, run.stderr[-2000:]
    knn = sorted(p.name.split("-seed")[0] for p in (results / "knn").glob("*.json"))
    assert knn == ["pca-k16-fashion-mnist", "pixels-identity-fashion-mnist"]
    text = (page / "leaderboard.md").read_text()
    assert "## Neighbourhoods (plugin task)" in text
    assert "knn.neighbour_agreement ↑ [fashion-mnist, n_train=2000, n_test=300]" in text
    assert "pca-knn" in text  # the suite's banner
    html = (page / "index.html").read_text()
    assert "Neighbourhoods (plugin task)" in html and "neighbour_agreement" in html
