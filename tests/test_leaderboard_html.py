"""The static HTML page in headless Chromium: it renders every row, sorting keeps skipped cells last in both directions
and keeps init controls with their trained row, no table runs past the page width at 1400 and 1024 px (wide
tables scroll inside their own box), and the model column stays in view when a wide table scrolls sideways.
Screenshots at both widths go to $DMZBENCH_SCREENSHOTS when set (CI keeps them)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dmzbench.board import page as lb
from tests.test_leaderboard import _record

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")

# Appended to a copy of the page by the test only: the page's own layout facts, written where --dump-dom sees them.
LAYOUT_PROBE = """<script>
window.addEventListener('load', () => {
  const vw = document.documentElement.clientWidth;
  const over = Array.from(document.querySelectorAll('table.board'))
    .filter(t => t.parentElement.getBoundingClientRect().right > vw + 1).length;
  document.body.setAttribute('data-layout', over + ':' + document.documentElement.scrollWidth + ':' + vw);
});
</script>"""


# Scrolls each table's box fully to the right, then writes down whether every model cell is still inside the box.
STICKY_PROBE = """<script>
window.addEventListener('load', () => {
  const facts = Array.from(document.querySelectorAll('div.scroll')).map(box => {
    const before = box.scrollLeft;
    box.scrollLeft = box.scrollWidth;
    const scrolled = box.scrollLeft > before;
    const b = box.getBoundingClientRect();
    const inside = Array.from(box.querySelectorAll('tr')).every(tr => {
      const r = tr.cells[1].getBoundingClientRect();
      return r.left >= b.left - 1 && r.right <= b.right + 1 && r.width > 0;
    });
    return (scrolled ? 's' : 'n') + (inside ? 'v' : 'x');
  });
  document.body.setAttribute('data-sticky', facts.join(','));
});
</script>"""


def _chromium(page: Path, *args: str) -> str:
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={page.parent / 'chrome-profile'}", *args],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _first_column_values(dom: str, table_index: int, col: int) -> list[str]:
    table = re.findall(r"<table class=\"board\".*?</table>", dom, flags=re.S)[table_index]
    rows = re.findall(r"<tr[^>]*>(<td.*?)</tr>", table)
    return [re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", row)[col]) for row in rows]


@pytest.fixture
def page(tmp_path):
    r = tmp_path / "results"
    for model, acc in (("dmz", 0.70), ("sdvae", 0.83), ("dgae", 0.80), ("pixels", 0.84)):
        _record(r, model, "smoke", "probe", {"accuracy": acc, "accuracy_std": 0.001})
    _record(r, "dmz", "init", "probe", {"accuracy": 0.60, "accuracy_std": 0.001})
    _record(r, "ddpm", "smoke", "probe", {}, details={"skipped": "ddpm cannot encode"})
    # a wide table: 12 step counts, long headers
    steps = {f"fid_T{t}": 30.0 - t / 100 for t in (1, 2, 3, 5, 8, 10, 20, 50, 100, 200, 500, 1000)}
    space = {"features": "a-long-feature-space-name", "n_samples": 50000}
    for model in ("dmz", "sdvae", "dgae", "diffae"):
        _record(r, model, "smoke", "fid", steps, details=space)
    out = tmp_path / "board"
    lb.write(r, out)
    return out / "index.html"


def test_page_renders_and_sorts_with_skipped_last(page):
    dom = _chromium(page, "--dump-dom", page.as_uri())
    assert _first_column_values(dom, 0, 1) == ["pixels", "sdvae", "dgae", "dmz", "dmz", "ddpm"]
    assert re.search(r"<a href=\"\.\./results/probe/pixels-smoke-fashion-mnist-seed0-[0-9a-f]{8}\.json\">", dom)
    for direction in ("1", "-1"):  # column 3 = probe.accuracy
        models = _first_column_values(_chromium(page, "--dump-dom", page.as_uri() + f"#sort=0:3:{direction}"), 0, 1)
        assert models[-1] == "ddpm", direction  # the skipped row stays last either way
        assert models[models.index("dmz") + 1] == "dmz"  # the init control travels with its trained row
    ascending = _first_column_values(_chromium(page, "--dump-dom", page.as_uri() + "#sort=0:3:1"), 0, 1)
    assert ascending[:2] == ["dmz", "dmz"] and ascending[2] == "dgae"


@pytest.mark.parametrize("width", [1400, 1024])
def test_no_table_overflows_the_page(page, width):
    probe = page.with_name("layout.html")
    probe.write_text(page.read_text().replace("</body>", LAYOUT_PROBE + "</body>"))
    dom = _chromium(probe, f"--window-size={width},900", "--dump-dom", probe.as_uri())
    overflowing, scroll_width, viewport = map(int, re.search(r'data-layout="(\d+):(\d+):(\d+)"', dom).groups())
    assert viewport <= width and overflowing == 0 and scroll_width <= viewport, (overflowing, scroll_width, viewport)
    shot = page.with_name(f"screenshot-{width}.png")
    _chromium(page, f"--window-size={width},1600", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000
    if os.environ.get("DMZBENCH_SCREENSHOTS"):
        target = Path(os.environ["DMZBENCH_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target / shot.name)


@pytest.mark.parametrize("width", [1400, 1024])
def test_model_column_stays_visible_when_a_table_scrolls(page, width):
    probe = page.with_name("sticky.html")
    probe.write_text(page.read_text().replace("</body>", STICKY_PROBE + "</body>"))
    dom = _chromium(probe, f"--window-size={width},900", "--dump-dom", probe.as_uri())
    facts = re.search(r'data-sticky="([^"]*)"', dom).group(1).split(",")
    assert "sv" in facts, facts  # the wide table did scroll, and its model column stayed in view
    assert all(f.endswith("v") for f in facts), facts


def test_headers_carry_the_declared_meaning_and_the_page_links_its_docs_and_claims(page):
    text = page.read_text()
    assert "title='fid.fid_T10 ↓ [fashion-mnist, N=50000] ‡: Fréchet distance of N unconditional samples" in text
    assert "<h2>Reproduce</h2>" in text and "dmzbench leaderboard --results ../results --out ." in text
    committed = (Path(__file__).resolve().parent.parent / "leaderboards" / "ci" / "index.html").read_text()
    assert "<a href='../../docs/metrics.md'>docs/metrics.md</a>" in committed  # inside the checkout: a link
    assert "<a href='claims.html'>the paper claims</a>" in committed and "claims.md'" not in committed
    assert "title='reproduce: dmzbench run --model dgae --preset smoke --task probe" in committed


def test_committed_ci_page_fits_1024_px_with_its_model_column_in_view(tmp_path):
    """The committed ci page itself (issue 24's acceptance): at 1024 px no table runs past the page and, scrolled
    sideways, every table keeps its model column in view."""
    committed = (Path(__file__).resolve().parent.parent / "leaderboards" / "ci" / "index.html").read_text()
    probe = tmp_path / "ci.html"
    probe.write_text(committed.replace("</body>", LAYOUT_PROBE + STICKY_PROBE + "</body>"))
    dom = _chromium(probe, "--window-size=1024,900", "--dump-dom", probe.as_uri())
    overflowing, scroll_width, viewport = map(int, re.search(r'data-layout="(\d+):(\d+):(\d+)"', dom).groups())
    assert overflowing == 0 and scroll_width <= viewport, (overflowing, scroll_width, viewport)
    facts = re.search(r'data-sticky="([^"]*)"', dom).group(1).split(",")
    assert len(facts) == 4 and all(f.endswith("v") for f in facts), facts
