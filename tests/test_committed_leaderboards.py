"""The committed CI leaderboard (and its claims page) is what its committed records give, and it covers every built-in
model and task (`.ci/run` regenerates both from a clean cache and checks them again)."""

from pathlib import Path

from dmzbench import leaderboard as lb
from dmzbench import suites

CI = Path(__file__).resolve().parent.parent / "leaderboards" / "ci"


def test_committed_ci_leaderboard_matches_its_records():
    suite = suites.get("ci")
    lb.check(CI / "results", CI, suites.page_title(suite), suite.note)  # also checks claims.md


def test_committed_ci_leaderboard_has_every_model_and_task():
    board = lb.load(CI / "results")
    runs = {(r.model, r.task) for r in board.runs}
    suite = suites.get("ci")
    for model in suite.models:
        for task in suite.tasks:
            assert (model, task) in runs, f"no {task} record for {model} in {CI}"
    page = (CI / "leaderboard.md").read_text()
    assert "not a scientific comparison" in page and "dmzbench commit" in page.split("##")[0]
    assert (CI / "index.html").exists() and (CI / "leaderboard.csv").exists() and (CI / "claims.md").exists()


def test_committed_small_run_list_is_what_the_records_give(capsys, monkeypatch):
    """leaderboards/small/runs.md lists every planned run of the small suite, recorded or "not yet run"."""
    from dmzbench.cli import main

    small = CI.parent / "small"
    monkeypatch.chdir(CI.parent.parent)  # the committed list names the results folder relative to the repository
    try:
        main(["suite", "small", "--status", "--results", "leaderboards/small/results"])
    except SystemExit as exc:
        assert not exc.code
    assert capsys.readouterr().out == (small / "runs.md").read_text()
