"""The leaderboard: tables by task group, best marks, feature-space headers, skipped cells, --check, and the static
HTML page in headless Chromium (renders, shows every row, sorting reorders the rows)."""

import re
import shutil
import subprocess

import pytest

from dmzbench import leaderboard as lb
from dmzbench.errors import DmzbenchError
from dmzbench.records import ResultRecord


def _record(results, model, preset, task, metrics, seed=0, details=None):
    rec = ResultRecord(
        model={"name": model, "preset": preset}, task={"name": task, "version": "1", "config": {},
                                                       "details": details or {}},
        dataset={"name": "fashion-mnist", "splits": {}}, seed=seed, metrics=metrics, timings={}, train={},
        device="cpu (test)",
    )
    rec.write(results)


@pytest.fixture
def results(tmp_path):
    r = tmp_path / "results"
    space = {"features": "fmnist-featnet", "n_samples": 200}
    for seed, acc in ((0, 0.70), (1, 0.72)):
        _record(r, "dmz", "smoke", "probe", {"accuracy": acc, "accuracy_std": 0.01}, seed=seed)
    _record(r, "dmz", "init", "probe", {"accuracy": 0.65, "accuracy_std": 0.01})
    _record(r, "pixels", "identity", "probe", {"accuracy": 0.84, "accuracy_std": 0.0})
    _record(r, "dmz", "smoke", "fid", {"fid_T10": 30.0, "fid_T100": 20.0}, details=space)
    _record(r, "ddpm", "smoke", "fid", {"fid_T10": 25.0, "fid_T100": 22.0}, details=space)
    _record(r, "pixels", "identity", "fid", {}, details={"skipped": "pixels cannot generate"})
    return r


def test_tables_mark_best_by_direction_and_label_fid(results):
    page = lb.markdown(lb.load(results))
    assert "| dmz | smoke | fashion-mnist | 0.71 ± 0.014 |" in page  # mean ± std over two seeds
    assert "| pixels | identity | fashion-mnist | **0.84** |" in page  # higher accuracy is better
    assert "fid.fid_T10 [fmnist-featnet, N=200]" in page
    assert "| ddpm | smoke | fashion-mnist | **25** | 22 |" in page and "| **20** |" in page  # lower FID is better
    assert "skipped: pixels cannot generate" in page
    assert page.index("fid_T10") < page.index("fid_T100")


def test_a_chance_anchor_is_shown_but_never_marked_best(results):
    _record(results, "dmz", "smoke", "recon", {"psnr": 9.0, "psnr_other": 8.5})
    _record(results, "sdvae", "smoke", "recon", {"psnr": 18.0, "psnr_other": 9.5})
    page = lb.markdown(lb.load(results))
    assert "| dmz | smoke | fashion-mnist | 9 | 8.5 |" in page and "| sdvae | smoke | fashion-mnist | **18** | 9.5 |" in page


def test_check_detects_a_stale_page(results, tmp_path):
    out = tmp_path / "board"
    lb.write(results, out)
    lb.check(results, out)
    _record(results, "dmz", "smoke", "probe", {"accuracy": 0.9, "accuracy_std": 0.0}, seed=2)
    with pytest.raises(DmzbenchError, match="no longer matches"):
        lb.check(results, out)


def test_outputs_exist(results, tmp_path):
    names = {p.name for p in lb.write(results, tmp_path / "board")}
    assert {"leaderboard.md", "leaderboard.csv", "fid_vs_steps.png", "representation.png", "index.html"} <= names
    csv = (tmp_path / "board" / "leaderboard.csv").read_text()
    assert "fmnist-featnet" in csv.splitlines()[-1] or "fmnist-featnet" in csv


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _dom(page, fragment=""):
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={page.parent / 'chrome-profile'}", "--dump-dom", page.as_uri() + fragment],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _first_column(dom, table_index):
    tables = re.findall(r"<table class=\"board\".*?</table>", dom, flags=re.S)
    return [re.findall(r"<td>(.*?)</td>", row)[0] for row in re.findall(r"<tr>(<td>.*?)</tr>", tables[table_index])]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_html_page_in_headless_chromium(results, tmp_path):
    out = tmp_path / "board"
    lb.write(results, out)
    page = out / "index.html"
    dom = _dom(page)
    for model in ("dmz", "pixels", "ddpm"):
        assert f"<td>{model}</td>" in dom
    before = _first_column(dom, 0)
    assert before == sorted(before)  # rows come sorted by model
    # sort table 0 by its accuracy column (index 3), descending: pixels (0.84) first
    after = _first_column(_dom(page, "#sort=0:3:-1"), 0)
    assert after[0] == "pixels" and after != before and sorted(after) == sorted(before)


@pytest.mark.fashion_mnist
def test_tiny_suite_runs_every_task_and_builds_the_page(tmp_path, capsys):
    from dmzbench.cli import main

    try:
        main(["suite", "tiny", "--models", "dmz,pixels", "--results", str(tmp_path / "r"), "--out",
              str(tmp_path / "page"), "--device", "cpu"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    records = list((tmp_path / "r").rglob("*.json"))
    assert len([r for r in records if "artifacts" not in r.parts]) == 12  # 2 models x 6 tasks
    page = (tmp_path / "page" / "leaderboard.md").read_text()
    assert "skipped: pixels cannot generate" in page and "| dmz | init |" in page
    assert "Machinery test" in page
    assert "Produced from 12 result records by dmzbench commit" in page.split("##")[0]  # provenance in the header

    def check() -> int:
        try:
            main(["leaderboard", "--suite", "tiny", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "page"),
                  "--check"])
        except SystemExit as exc:
            return exc.code or 0
        return 0

    assert check() == 0
    record = next(r for r in records if "artifacts" not in r.parts and "probe" in r.parts)
    record.write_text(record.read_text().replace('"accuracy": 0.', '"accuracy": 0.0'))
    assert check() != 0 and "no longer matches" in capsys.readouterr().err
