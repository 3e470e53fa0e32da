"""examples/notebook.py (the walk-through of docs/python-api.md) runs end to end: init presets, shapes, small N."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_notebook_example_runs_to_the_end(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "examples" / "notebook.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refused: encode takes values in [-1, 1]" in done.stdout  # the 0..255 batch is caught
    assert "(in-memory model: none)" in done.stdout  # no reproduce command for the in-memory model
    assert len(list((tmp_path / "results" / "probe").glob("*.json"))) == 3
    assert (tmp_path / "probe.png").stat().st_size > 0
    assert "\x1b[" not in done.stdout + done.stderr  # plain lines, no live display, when not on a terminal
