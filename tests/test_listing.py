"""The first `dmzbench ls` after an install imports nothing heavy: dmzbench's own entries come from the shipped
snapshot (dmzbench/cli/listing_snapshot.json), which must describe the current sources."""

import json
import os
import subprocess
import sys

from dmzbench import registry
from dmzbench.cli import listing


def test_the_shipped_snapshot_describes_the_current_sources():
    shipped = json.loads(listing.SNAPSHOT.read_text())
    assert shipped["fingerprint"] == listing.builtin_fingerprint(), (
        "dmzbench/cli/listing_snapshot.json is stale: run python scripts/listing_snapshot.py and commit it")
    for plural, kind in listing.KINDS.items():
        for row in shipped["described"][plural]:
            assert json.loads(json.dumps(listing.describe(kind, row["name"]), default=str)) == row


def test_the_first_ls_in_a_fresh_home_imports_no_torch_and_lists_everything(tmp_path):
    code = ("import sys, io, contextlib; from dmzbench.cli.app import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['ls'])\n"
            "    except SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'diffusers', 'dmzbench.tasks.probe', 'dmzbench.baselines.dmz') "
            "if m in sys.modules))")
    env = dict(os.environ, DMZBENCH_HOME=str(tmp_path / "fresh"))
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert first.returncode == 0 and first.stdout.strip() == "[]", first.stdout + first.stderr
    listed = subprocess.run([sys.executable, "-m", "dmzbench", "ls", "--json"], capture_output=True, text=True,
                            env=dict(env, DMZBENCH_HOME=str(tmp_path / "other")))
    names = {plural: {r["name"] for r in rows} for plural, rows in json.loads(listed.stdout).items()}
    for plural, kind in listing.KINDS.items():
        assert names[plural] == set(registry.names(kind))
