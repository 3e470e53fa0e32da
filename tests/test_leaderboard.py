"""The leaderboard from synthetic records: one row per (model, preset), directions from the tasks' declarations,
uncertainty-aware best marks (a tie inside the uncertainty marks both leaders), configs never ranked together (two N),
init controls, skip footnotes, the suite banner kept in the records, old record names, --check, CSV/JSON, a plugin
task, and the paper-claims verdicts."""

import json
from pathlib import Path

import pytest

from dmzbench import registry
from dmzbench.board import build as board_module
from dmzbench.board import claims
from dmzbench.board import page as lb
from dmzbench.board.as_json import tables_json
from dmzbench.errors import DmzbenchError
from dmzbench.run.records import ResultRecord

REPO = Path(__file__).resolve().parent.parent


def _record(results, model, preset, task, metrics, seed=0, details=None, config=None, dataset="fashion-mnist",
            suite=None):
    rec = ResultRecord(
        model={"name": model, "preset": preset},
        task={"name": task, "version": "1", "config": config or {}, "details": details or {}},
        dataset={"name": dataset, "splits": {}}, seed=seed, metrics=metrics, timings={}, train={},
        device="cpu (test)", suite=suite, environment={},
    )
    return rec.write(results)


def _rows(page: str, section: str) -> list[list[str]]:
    """The body rows of one section's table, as lists of cell texts."""
    block = page.split(f"## {section}\n")[1].split("\n## ")[0]
    lines = [ln for ln in block.splitlines() if ln.startswith("| ")][1:]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


@pytest.fixture
def results(tmp_path):
    r = tmp_path / "results"
    space = {"features": "fmnist-featnet", "n_samples": 200}
    for seed, acc in ((0, 0.70), (1, 0.72)):
        _record(r, "dmz", "smoke", "probe", {"accuracy": acc, "accuracy_std": 0.01}, seed=seed)
    _record(r, "dmz", "init", "probe", {"accuracy": 0.95, "accuracy_std": 0.001})  # a control is never "best"
    _record(r, "pixels", "identity", "probe", {"accuracy": 0.84, "accuracy_std": 0.001})
    _record(r, "ddpm", "smoke", "probe", {}, details={"skipped": "ddpm cannot encode"})
    _record(r, "dmz", "smoke", "fid", {"fid_T10": 30.0, "fid_T100": 20.0}, details=space)
    _record(r, "ddpm", "smoke", "fid", {"fid_T10": 25.0, "fid_T100": 22.0}, details=space)
    _record(r, "pixels", "identity", "fid", {}, details={"skipped": "pixels cannot generate"})
    return r


def test_one_row_per_model_ranked_with_directions_and_controls(results):
    page = lb.markdown(lb.load(results))
    rows = _rows(page, "Representation")
    assert rows[0] == ["1", "pixels", "identity", "**0.84 ± 0.001**", "—"]  # higher accuracy is better
    # std over seeds replaces the fold std; below its own init control, so flagged and not ranked
    assert rows[1] == ["—", "dmz", "smoke", "0.71 ± 0.014 (2 seeds) (not above control)", "-0.24 ± 0.014 (below)"]
    assert rows[2] == ["ctrl", "dmz", "init (control)", "0.95 ± 0.001", "—"]  # under its trained row, unranked
    assert rows[3] == ["—", "ddpm", "smoke", "n/a¹", "—"] and "- n/a¹ skipped: ddpm cannot encode" in page
    assert "probe.accuracy ↑ [fashion-mnist]" in page
    gen = _rows(page, "Generation (few-step FID)")
    assert [r[1] for r in gen] == ["ddpm", "dmz", "pixels"]  # sorted by fid_T10, lower first; skipped last
    assert gen[0][3:] == ["**25**", "22"] and gen[1][3:] == ["30", "**20**"]
    assert "fid.fid_T10 ↓ [fashion-mnist, N=200] ‡" in page  # no uncertainty: best by value, margin untested
    assert page.index("fid_T10") < page.index("fid_T100")  # ordered by T, not as text


def test_a_model_with_two_trained_presets_shows_its_control_once_with_its_values(tmp_path):
    """The cpu suite: dmz/cpu on fashion-mnist and dmz/cpu-aux on shapes share one init row."""
    r = tmp_path / "r"
    _record(r, "dmz", "cpu", "probe", {"accuracy": 0.68, "accuracy_std": 0.01})
    _record(r, "dmz", "cpu-aux", "auroc", {"auroc_mean": 0.80, "auroc_mean_std": 0.01}, dataset="shapes")
    _record(r, "dmz", "init", "probe", {"accuracy": 0.64, "accuracy_std": 0.01})
    _record(r, "dmz", "init", "auroc", {"auroc_mean": 0.75, "auroc_mean_std": 0.01}, dataset="shapes")
    rows = _rows(lb.markdown(lb.load(r)), "Representation")
    controls = [row for row in rows if row[0] == "ctrl"]
    assert len(controls) == 1 and "0.64 ± 0.01" in controls[0] and "0.75 ± 0.01" in controls[0]
    assert [row[2] for row in rows] == ["cpu", "init (control)", "cpu-aux"]


def test_a_tie_inside_the_uncertainty_marks_both_leaders(tmp_path):
    r = tmp_path / "r"
    _record(r, "sdvae", "smoke", "probe", {"accuracy": 0.8288, "accuracy_std": 0.014})
    _record(r, "dgae", "smoke", "probe", {"accuracy": 0.8282, "accuracy_std": 0.014})
    _record(r, "dmz", "smoke", "probe", {"accuracy": 0.60, "accuracy_std": 0.01})
    rows = _rows(lb.markdown(lb.load(r)), "Representation")
    assert rows == [["1", "sdvae", "smoke", "**0.8288 ± 0.014**"], ["1", "dgae", "smoke", "**0.8282 ± 0.014**"],
                    ["3", "dmz", "smoke", "0.6 ± 0.01"]]
    # a clear margin marks the leader alone
    _record(r, "dgae", "smoke", "probe", {"accuracy": 0.70, "accuracy_std": 0.014})
    rows = _rows(lb.markdown(lb.load(r)), "Representation")
    assert [row[0] for row in rows] == ["1", "2", "3"] and rows[1][3] == "0.7 ± 0.014"


def test_records_with_two_n_values_are_never_ranked_together(tmp_path):
    r = tmp_path / "r"
    _record(r, "dmz", "smoke", "probe", {"accuracy": 0.90, "accuracy_std": 0.001}, config={"max_images": 500})
    _record(r, "sdvae", "smoke", "probe", {"accuracy": 0.70, "accuracy_std": 0.001}, config={"max_images": 5000})
    _record(r, "dgae", "smoke", "probe", {"accuracy": 0.80, "accuracy_std": 0.001}, config={"max_images": 5000})
    page = lb.markdown(lb.load(r))
    small, large = "probe.accuracy ↑ [fashion-mnist, max_images=500]", "probe.accuracy ↑ [fashion-mnist, max_images=5000]"
    assert small in page and large in page
    rows = {row[1]: row for row in _rows(page, "Representation")}
    # header order: the config with more records first (5000), then 500
    assert rows["dgae"][3:] == ["**0.8 ± 0.001**", "—"] and rows["sdvae"][3:] == ["0.7 ± 0.001", "—"]
    assert rows["dmz"][3:] == ["—", "**0.9 ± 0.001**"]  # the best of its own column, not of the 5000 one


def test_rerun_with_other_options_sits_beside_and_old_names_still_load(tmp_path):
    r = tmp_path / "r"
    a = _record(r, "dmz", "smoke", "probe", {"accuracy": 0.5}, config={"max_images": 500})
    b = _record(r, "dmz", "smoke", "probe", {"accuracy": 0.6}, config={"max_images": 5000})
    assert a != b and a.exists() and b.exists() and a.name.startswith("dmz-smoke-fashion-mnist-seed0-")
    # a record under the old name (no config key) of the same run as ``a``: the newer of the two counts
    old = json.loads(a.read_text())
    old["metrics"]["accuracy"], old["created_at"] = 0.1, "2000-01-01T00:00:00+00:00"
    for key in ("suite", "environment", "reproduce"):  # fields older records do not have
        old.pop(key)
    (r / "probe" / "dmz-smoke-fashion-mnist-seed0.json").write_text(json.dumps(old))
    board = lb.load(r)
    assert len(board.runs) == 2 and sorted(run.metrics["accuracy"] for run in board.runs) == [0.5, 0.6]


def test_the_suite_banner_lives_in_the_records(tmp_path):
    r = tmp_path / "r"
    suite = {"name": "ci", "note": "CI pipeline check, not a scientific comparison."}
    _record(r, "dmz", "smoke", "probe", {"accuracy": 0.5}, suite=suite)
    page = lb.markdown(lb.load(r))
    assert page.startswith("# dmzbench leaderboard: ci suite\n") and "not a scientific comparison" in page
    out = tmp_path / "page"
    lb.write(r, out)
    lb.check(r, out)  # no --suite needed: the records carry it


def test_chance_anchor_is_shown_unranked(tmp_path):
    r = tmp_path / "r"
    _record(r, "dmz", "smoke", "recon", {"psnr": 9.0, "psnr_sem": 0.2, "psnr_other": 8.5})
    _record(r, "sdvae", "smoke", "recon", {"psnr": 18.0, "psnr_sem": 0.2, "psnr_other": 9.5})
    rows = _rows(lb.markdown(lb.load(r)), "Reconstruction")
    assert rows[0][:6] == ["1", "sdvae", "smoke", "**18 ± 0.2**", "+8.5 ± 0.2", "9.5"]
    assert rows[1][:6] == ["2", "dmz", "smoke", "9 ± 0.2", "+0.5 ± 0.2", "8.5"]


def test_a_value_not_above_chance_or_its_control_is_flagged_never_best_and_unranked(tmp_path):
    """The ci page's cases: a PSNR equal to its chance level, a probe equal to its init control, a leader that is
    degenerate (the best value is flagged, the next one is best)."""
    r = tmp_path / "r"
    _record(r, "dmz", "smoke", "recon", {"psnr": 20.0, "psnr_sem": 0.25, "psnr_other": 20.1})  # highest, at chance
    _record(r, "sdvae", "smoke", "recon", {"psnr": 13.7, "psnr_sem": 0.23, "psnr_other": 9.6})
    _record(r, "pdae", "smoke", "probe", {"accuracy": 0.90, "accuracy_std": 0.016})
    _record(r, "pdae", "init", "probe", {"accuracy": 0.89, "accuracy_std": 0.024})
    _record(r, "sdvae", "smoke", "probe", {"accuracy": 0.80, "accuracy_std": 0.019})
    _record(r, "sdvae", "init", "probe", {"accuracy": 0.70, "accuracy_std": 0.003})
    page = lb.markdown(lb.load(r))
    recon = _rows(page, "Reconstruction")
    assert recon[0][:5] == ["1", "sdvae", "smoke", "**13.7 ± 0.23**", "+4.1 ± 0.23"]
    assert recon[1][:5] == ["—", "dmz", "smoke", "20 ± 0.25 (not above chance)", "-0.1 ± 0.25 (≈ 0)"]
    rep = _rows(page, "Representation")
    assert rep[0][:5] == ["1", "sdvae", "smoke", "**0.8 ± 0.019**", "+0.1 ± 0.019"]
    assert rep[2][:5] == ["—", "pdae", "smoke", "0.9 ± 0.016 (not above control)", "+0.01 ± 0.029 (≈ 0)"]
    assert "(not above control) not above its init control" in page and "pdae/smoke accuracy" in page
    cells = {(row["model"], row["preset"]): row["cells"] for row in tables_json(lb.load(r))["tables"][0]["rows"]}
    probe = next(v for k, v in cells[("pdae", "smoke")].items() if k.startswith("probe.accuracy"))
    assert probe["flags"] == ["not above control"] and not probe["best"]
    assert probe["vs_control"]["distinguishable"] is False


def test_interp_smoothness_is_guarded_against_paths_that_do_not_move(tmp_path):
    r = tmp_path / "r"
    _record(r, "dmz", "smoke", "interp", {"step_mean": 0.04, "step_mean_sem": 0.02, "path_span": 0.05,
                                           "path_span_sem": 0.01})
    _record(r, "dgae", "smoke", "interp", {"step_mean": 0.4, "step_mean_sem": 0.1, "path_span": 0.8,
                                            "path_span_sem": 0.05})
    _record(r, "sdvae", "smoke", "interp", {"step_mean": 0.9, "step_mean_sem": 0.1})  # an older record: no guard
    rows = _rows(lb.markdown(lb.load(r)), "Interpolation")
    assert rows[0][:4] == ["1", "dgae", "smoke", "**0.4 ± 0.1**"]
    assert rows[1][:4] == ["—", "dmz", "smoke", "0.04 ± 0.02 (path_span < 0.25)"]
    assert rows[2][:4] == ["—", "sdvae", "smoke", "0.9 ± 0.1 (no path_span)"]


def test_interp_path_span_is_one_for_a_path_spanning_its_end_points_and_zero_for_a_constant_one():
    import torch

    from dmzbench.tasks.interp import path_span

    a, b = torch.zeros(4), torch.ones(4)
    moving = torch.stack([a + t * (b - a) for t in torch.linspace(0, 1, 5)])
    assert path_span(moving, a, b) == pytest.approx(1.0)
    assert path_span(torch.stack([a + 0.5] * 5), a, b) == 0.0


def test_fid_bootstrap_std_is_seeded_and_shrinks_with_more_samples():
    import torch

    from dmzbench.metrics.frechet import GaussianStats, bootstrap_std

    g = torch.Generator().manual_seed(0)
    ref = GaussianStats.of(torch.randn(4000, 4, generator=g, dtype=torch.float64))
    small, large = (torch.randn(n, 4, generator=g, dtype=torch.float64) + 0.3 for n in (200, 5000))
    assert bootstrap_std(small, ref, 10, seed=1) == bootstrap_std(small, ref, 10, seed=1) > 0
    assert bootstrap_std(large, ref, 10, seed=1) < bootstrap_std(small, ref, 10, seed=1)


def test_fid_columns_rank_with_their_bootstrap_uncertainty(tmp_path):
    r = tmp_path / "r"
    space = {"features": "fmnist-featnet", "n_samples": 200}
    _record(r, "dmz", "smoke", "fid", {"fid_T10": 23.5, "fid_T10_std": 2.0}, details=space)
    _record(r, "diffae", "smoke", "fid", {"fid_T10": 25.0, "fid_T10_std": 2.0}, details=space)
    _record(r, "ddpm", "smoke", "fid", {"fid_T10": 46.0, "fid_T10_std": 3.0}, details=space)
    page = lb.markdown(lb.load(r))
    rows = _rows(page, "Generation (few-step FID)")
    assert [row[:4] for row in rows] == [["1", "dmz", "smoke", "**23.5 ± 2**"],
                                         ["1", "diffae", "smoke", "**25 ± 2**"], ["3", "ddpm", "smoke", "46 ± 3"]]
    assert "‡" not in page.split("## Generation")[1].split("\n")[2]  # the header: its margin is tested
    assert "std over 10 bootstrap resamples of the generated features" in page


def test_check_detects_a_stale_page(results, tmp_path):
    out = tmp_path / "board"
    lb.write(results, out)
    lb.check(results, out)
    _record(results, "dmz", "smoke", "probe", {"accuracy": 0.9, "accuracy_std": 0.0}, seed=2)
    with pytest.raises(DmzbenchError, match="no longer matches"):
        lb.check(results, out)


def test_outputs_csv_and_json(results, tmp_path):
    names = {p.name for p in lb.write(results, tmp_path / "board")}
    assert {"leaderboard.md", "leaderboard.csv", "index.html", "fid_vs_t.png", "fid_vs_t.svg",
            "representation.png", "representation.svg"} <= names
    lines = (tmp_path / "board" / "leaderboard.csv").read_text().splitlines()
    header = lines[0].split(",")
    pixels = next(dict(zip(header, ln.split(","))) for ln in lines if ",accuracy," in ln and ",pixels," in ln)
    assert pixels["direction"] == "higher" and pixels["best"] == "True" and pixels["rank"] == "1"
    assert float(pixels["uncertainty"]) == 0.001 and pixels["uncertainty_kind"] == "task"
    data = tables_json(lb.load(results))
    fid = next(t for t in data["tables"] if t["section"].startswith("Generation"))
    assert [c["direction"] for c in fid["columns"]] == ["lower", "lower"]
    assert all(not c["margin_tested"] for c in fid["columns"])


@pytest.fixture
def knn_task():
    """The plugin task of examples/dmzbench-pca, registered as ``--import`` does, and unregistered afterwards."""
    found = registry.import_file(str(REPO / "examples" / "dmzbench-pca" / "dmzbench_knn.py"))
    yield found
    registry._local["task"].pop("knn", None)


def test_a_plugin_task_reaches_the_page_with_its_declared_directions(knn_task, tmp_path):
    assert knn_task == ["task knn"]
    r = tmp_path / "r"
    _record(r, "pca", "default", "knn", {"neighbour_agreement": 0.8, "neighbour_agreement_se": 0.01,
                                         "neighbour_distance": 0.3})
    _record(r, "pixels", "identity", "knn", {"neighbour_agreement": 0.7, "neighbour_agreement_se": 0.01,
                                             "neighbour_distance": 0.2})
    page = lb.markdown(lb.load(r))
    assert "## Neighbourhoods (plugin task)" in page
    assert "knn.neighbour_agreement ↑" in page and "knn.neighbour_distance ↓ [fashion-mnist] ‡" in page
    rows = _rows(page, "Neighbourhoods (plugin task)")
    assert rows[0] == ["1", "pca", "default", "**0.8 ± 0.01**", "0.3"]  # higher agreement wins ...
    assert rows[1] == ["2", "pixels", "identity", "0.7 ± 0.01", "**0.2**"]  # ... lower distance wins


def test_a_malformed_record_is_named(tmp_path):
    r = tmp_path / "r"
    path = _record(r, "dmz", "smoke", "probe", {"accuracy": 0.5})
    record = json.loads(path.read_text())
    record["metrics"]["accuracy"] = "high"
    path.write_text(json.dumps(record))
    with pytest.raises(DmzbenchError, match="metric accuracy is 'high', not a number"):
        lb.load(r)
    del record["model"]
    path.write_text(json.dumps(record))
    with pytest.raises(DmzbenchError, match="not a complete result record"):
        lb.load(r)


def test_a_task_that_is_not_installed_still_shows_unranked(tmp_path):
    r = tmp_path / "r"
    _record(r, "dmz", "smoke", "mystery", {"score": 3.0})
    _record(r, "sdvae", "smoke", "mystery", {"score": 5.0})
    rows = _rows(lb.markdown(lb.load(r)), "mystery")
    assert {row[3] for row in rows} == {"3", "5"} and {row[0] for row in rows} == {"—"}  # no direction: no bold


def _claim(**kw):
    base = dict(id="c", source="paper", claim="dmz beats diffae", task="probe", metric="accuracy", better="dmz",
                than=("diffae",))
    return claims.Claim(**{**base, **kw})


@pytest.mark.parametrize("dmz, diffae, expected", [
    ((0.90, 0.01), (0.80, 0.01), claims.HOLDS),
    ((0.70, 0.01), (0.80, 0.01), claims.FAILS),
    ((0.81, 0.02), (0.80, 0.02), claims.TIE),
    ((0.81, 0.02), None, claims.MISSING),
])
def test_claim_verdicts(tmp_path, dmz, diffae, expected):
    r = tmp_path / "r"
    _record(r, "dmz", "smoke", "probe", {"accuracy": dmz[0], "accuracy_std": dmz[1]})
    if diffae:
        _record(r, "diffae", "smoke", "probe", {"accuracy": diffae[0], "accuracy_std": diffae[1]})
    else:
        _record(r, "diffae", "smoke", "probe", {}, details={"skipped": "diffae cannot encode"})
    verdict, evidence = claims.verdict(lb.load(r), _claim())
    assert verdict == expected
    if expected == claims.MISSING:
        assert "diffae on probe.accuracy (skipped: diffae cannot encode)" in evidence[0]
    if expected == claims.TIE:  # "at least as good" counts a tie as holding
        assert claims.verdict(lb.load(r), _claim(at_least=True))[0] == claims.HOLDS


def test_claims_page_is_written_and_checked_from_the_claims_file(results, tmp_path):
    data = tmp_path / "claims.toml"
    data.write_text('[[claim]]\nid = "x"\nsource = "DMZ"\nclaim = "dmz beats ddpm at T = 10"\ntask = "fid"\n'
                    'metric = "fid_T10"\nbetter = "dmz"\nthan = ["ddpm"]\n')
    out = tmp_path / "page"
    lb.write(results, out)  # claims.toml beside the page folder is found
    text = (out / "claims.md").read_text()
    # no uncertainty on either side: not distinguishable, however large the difference looks
    assert ("| dmz beats ddpm at T = 10 | DMZ | fid.fid_T10 | **not distinguishable** | dmz 30 vs ddpm 25 (no "
            "uncertainty estimate") in text
    assert "<td><b>not distinguishable</b></td>" in (out / "claims.html").read_text()
    lb.check(results, out)
    (out / "claims.md").write_text(text.replace("not distinguishable", "holds"))
    with pytest.raises(DmzbenchError, match="claims.md no longer matches"):
        lb.check(results, out)


def test_committed_claims_file_names_only_registered_tasks():
    for c in claims.load(REPO / "leaderboards" / "claims.toml"):
        spec = board_module.declaration(c.task).spec(c.metric)
        assert spec is not None and spec.higher_is_better is not None and spec.shown, c.id


def test_docs_explain_every_declared_metric():
    text = (REPO / "docs" / "metrics.md").read_text()
    for task in registry.names("task"):
        for metric in board_module.declaration(task).metrics:
            if metric.shown:
                documented = metric.name.replace("*", "<T>")  # a family (fid_T*) is documented as fid_T<T>
                assert f"`{documented}`" in text, (task, metric.name)


@pytest.mark.fashion_mnist
def test_tiny_suite_runs_every_task_and_builds_the_page(tmp_path, capsys):
    from dmzbench.cli.app import main

    try:
        main(["suite", "tiny", "--models", "dmz,pixels", "--results", str(tmp_path / "r"), "--out",
              str(tmp_path / "page"), "--device", "cpu"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    records = [r for r in (tmp_path / "r").rglob("*.json") if "artifacts" not in r.parts]
    assert len(records) == 12  # 2 models x 6 tasks
    first = json.loads(next(r for r in records if r.name.startswith("dmz-init-")).read_text())
    assert first["suite"]["name"] == "tiny" and first["reproduce"].startswith("dmzbench run --model dmz --preset init")
    preset = registry.get("model", "dmz")().preset_config("init")  # the resolved hyperparameters, not just "init"
    assert first["environment"]["python"] and first["model"]["config"] == json.loads(json.dumps(preset))
    assert len(first["dataset"]["content_sha256"]) == 64
    page = (tmp_path / "page" / "leaderboard.md").read_text()
    assert "skipped: pixels cannot generate" in page and "| dmz | init |" in page
    assert "Machinery test" in page
    assert "Produced from 12 result records by dmzbench commit" in page.split("##")[0]  # provenance in the header

    def check(*extra) -> int:
        try:  # no --suite: the banner comes from the records
            main(["leaderboard", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "page"), "--check", *extra])
        except SystemExit as exc:
            return exc.code or 0
        return 0

    assert check() == 0
    record = next(r for r in records if "probe" in r.parts)
    record.write_text(record.read_text().replace('"accuracy": 0.', '"accuracy": 0.0'))
    assert check() != 0 and "no longer matches" in capsys.readouterr().err


@pytest.mark.fashion_mnist
def test_suite_over_several_seeds_shows_the_std_over_seeds(tmp_path, capsys):
    from dmzbench.cli.app import main

    def suite(*extra) -> int:
        try:
            main(["suite", "tiny", "--models", "pixels", "--tasks", "probe", "--results", str(tmp_path / "r"),
                  "--out", str(tmp_path / "page"), "--device", "cpu", *extra])
        except SystemExit as exc:
            return exc.code or 0
        return 0

    assert suite("--seeds", "0,x") == 2 and "--seeds must be comma-separated integers" in capsys.readouterr().err
    assert suite("--seeds", "0,1") == 0
    assert len(list((tmp_path / "r" / "probe").glob("pixels-identity-fashion-mnist-seed*.json"))) == 2
    rows = _rows((tmp_path / "page" / "leaderboard.md").read_text(), "Representation")
    assert rows[0][:3] == ["1", "pixels", "identity"] and rows[0][3].endswith("(2 seeds)**")

def test_two_probe_protocols_get_two_files_and_two_columns(tmp_path):
    """dmz-official and kfold5 measure different things: never one file, never one ranked column."""
    r = tmp_path / "results"
    a = _record(r, "dmz", "smoke", "probe", {"accuracy": 0.70, "accuracy_std": 0.01}, config={"protocol": "kfold5"})
    b = _record(r, "dmz", "smoke", "probe", {"accuracy": 0.99, "accuracy_std": 0.01},
                config={"protocol": "dmz-official"})
    assert a != b and a.exists() and b.exists()
    page = lb.markdown(lb.load(r))
    assert "protocol=dmz-official" in page and "protocol=kfold5" in page


def test_claim_verdicts_know_the_scale_of_their_suite(tmp_path):
    """Records of a pipeline-check suite give "not tested at scale" (the numbers' verdict for information); the same
    numbers from a small-scale suite give the verdict itself; a suite must declare a known scale."""
    from dmzbench.suite import catalog as suites

    claim = claims.Claim("x", "DMZ", "dmz probes better", "probe", "accuracy", "dmz", ("diffae",))
    for suite, expected in (("ci", claims.NOT_AT_SCALE), ("small", claims.HOLDS), (None, claims.HOLDS)):
        r = tmp_path / str(suite)
        tag = None if suite is None else {"name": suite, "note": ""}
        _record(r, "dmz", "smoke", "probe", {"accuracy": 0.9, "accuracy_std": 0.01}, suite=tag)
        _record(r, "diffae", "smoke", "probe", {"accuracy": 0.7, "accuracy_std": 0.01}, suite=tag)
        verdict, evidence = claims.verdict(lb.load(r), claim)
        assert verdict == expected, suite
        if suite == "ci":
            assert evidence[0] == "pipeline check only; its numbers say holds, for information"
    assert suites.get("small").scale == suites.SMALL_SCALE and suites.get("tiny").scale == suites.PIPELINE_CHECK
    with pytest.raises(ValueError, match="scale must be one of"):
        suites.Suite("x", ("dmz",), ("smoke",), ("probe",), scale="huge")


def test_a_declared_gap_decides_a_comparison_without_uncertainty():
    from dmzbench.api import Metric
    from dmzbench.board.build import Cell
    from dmzbench.board.marks import delta

    a, b = Cell(mean=10.0), Cell(mean=30.0)
    assert not delta(Metric("fid", False, ""), a, b).distinct  # no estimate, no gap: not distinguishable
    assert delta(Metric("fid", False, "", gap=5.0), a, b).distinct
    assert not delta(Metric("fid", False, "", gap=25.0), a, b).distinct
