"""The committed CI leaderboard (and its claims page) is what its committed records give, and it covers every built-in
model and task (`.ci/run` regenerates both from a clean cache and checks them again)."""

from pathlib import Path

from dmzbench.board import page as lb
from dmzbench.suite import catalog as suites

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
    from dmzbench.cli.app import main

    small = CI.parent / "small"
    monkeypatch.chdir(CI.parent.parent)  # the committed list names the results folder relative to the repository
    try:
        main(["suite", "small", "--status", "--results", "leaderboards/small/results"])
    except SystemExit as exc:
        assert not exc.code
    assert capsys.readouterr().out == (small / "runs.md").read_text()


def _config_key_of(command: str) -> str:
    """The task config key that a `dmzbench run` command would record: its --task and -o options, parsed as the CLI
    parses them, applied to the task's defaults."""
    import dataclasses
    import shlex

    from dmzbench import registry
    from dmzbench.config import apply_overrides
    from dmzbench.run.records import config_key

    args = shlex.split(command)
    assert args[:2] == ["dmzbench", "run"], command
    task = args[args.index("--task") + 1]
    options = [args[k + 1] for k, a in enumerate(args) if a in ("-o", "--option")]
    cls = registry.get("task", task)
    return config_key({"version": cls.version, "config": dataclasses.asdict(apply_overrides(cls.Config, options))})


def test_every_ci_record_is_reproduced_by_the_command_its_page_shows():
    """The page shows each record's command; that command's parsed config gives the record's own config key, so a
    reader who runs it measures the same column."""
    page = (CI / "leaderboard.md").read_text()
    reproduce = page.split("## Reproduce\n")[1]
    board = lb.load(CI / "results")
    tasks = set()
    for run in board.runs:
        command = run.record["reproduce"]
        assert f"`{command}` ([record](results/{run.path}))" in reproduce, run.path
        assert _config_key_of(command) == run.key, (run.path, command)
        tasks.add(run.task)
    assert tasks == set(suites.get("ci").tasks)
    assert "`dmzbench leaderboard --results results --out .`" in reproduce


def test_ci_page_marks_degenerate_rows_and_claims_know_their_scale():
    """issue 24's acceptance on the committed page: DMZ's recon PSNR is not above chance and PDAE's probe is not above
    its control (neither bold), and every claim of a pipeline-check suite is "not tested at scale"."""
    page = (CI / "leaderboard.md").read_text()
    recon = page.split("## Reconstruction\n")[1].split("\n## ")[0]
    dmz = next(line for line in recon.splitlines() if line.startswith("| — | dmz | smoke |"))
    assert "(not above chance)" in dmz and "**" not in dmz.split("|")[4]
    rep = page.split("## Representation\n")[1].split("\n## ")[0]
    pdae = next(line for line in rep.splitlines() if line.startswith("| — | pdae | smoke |"))
    assert "(not above control)" in pdae.split("|")[4] and "**" not in pdae.split("|")[4]
    assert suites.get("ci").scale == suites.PIPELINE_CHECK
    rows = [line for line in (CI / "claims.md").read_text().splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 1 and all("**not tested at scale**" in line for line in rows[1:])


def test_committed_cpu_page_and_run_list_are_what_its_records_give(capsys, monkeypatch):
    """leaderboards/cpu (issue 22): the page matches its records (as `.ci/run` checks) and runs.md lists every planned
    run of the cpu suite, recorded or "not yet run"."""
    from dmzbench.cli.app import main

    cpu = CI.parent / "cpu"
    lb.check(cpu / "results", cpu, suites.page_title(suites.get("cpu")), suites.get("cpu").note)
    monkeypatch.chdir(CI.parent.parent)
    try:
        main(["suite", "cpu", "--status", "--results", "leaderboards/cpu/results"])
    except SystemExit as exc:
        assert not exc.code
    assert capsys.readouterr().out == (cpu / "runs.md").read_text()


def test_the_readme_cpu_tables_are_what_the_committed_records_give():
    """README's front and leaderboards/cpu/README.md show bench/cpu_table.py's table of the committed cpu records."""
    import sys

    sys.path.insert(0, str(CI.parent.parent))
    from bench.common import markdown
    from bench.cpu_table import _records, compute_rows

    rows = compute_rows(_records(CI.parent / "cpu" / "results"))
    table = markdown(rows, list(rows[0])).strip()
    for page in (CI.parent.parent / "README.md", CI.parent / "cpu" / "README.md"):
        assert table in page.read_text(), f"{page}: the cpu table differs from `python bench/cpu_table.py`"
