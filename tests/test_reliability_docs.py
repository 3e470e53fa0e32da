"""docs/reliability.md stays true (every row names a test that exists), and ``dmzbench check --train-steps N``."""

import re
from pathlib import Path

import pytest
import torch

from dmzbench import conformance, registry
from dmzbench.cli.app import main
from tests.fault_helpers import TinyDMZ

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "reliability.md"


def test_the_table_lists_at_least_45_faults_each_proved_by_an_existing_test():
    rows = [line for line in DOC.read_text().splitlines() if re.match(r"\| [A-Z]?\d+ \|", line)]
    assert len(rows) >= 45, len(rows)
    cited = re.findall(r"`(test_\w+\.py)(?:::(\w+))?", DOC.read_text())
    assert cited
    for file, name in cited:
        source = (REPO / "tests" / file).read_text()
        assert not name or f"def {name}(" in source, f"{file}::{name} is cited in docs/reliability.md but does not exist"


PLUGIN = '''
from tests.fault_helpers import TINY, TinyDMZ


class CheckedDMZ(TinyDMZ):
    name = "checked-dmz"
    presets = {"tiny": TINY}
    default_preset = "tiny"

    def adapter(self, model, preset, spec):  # a subclass under a new name reports that name (the check demands it)
        import dataclasses

        wrapped = super().adapter(model, preset, spec)
        wrapped.info = dataclasses.replace(wrapped.info, name=self.name)
        return wrapped


class BrokenLoss(CheckedDMZ):
    name = "broken-loss"
    presets = {"tiny": TINY}
    default_preset = "tiny"

    def stages(self, model, preset, spec):
        import dataclasses

        def loss(x, y, c):
            raise RuntimeError("loss went wrong")

        return [dataclasses.replace(s, loss=loss) for s in super().stages(model, preset, spec)]
'''


def test_check_trains_then_checks(tmp_path, capsys):
    (tmp_path / "plugin.py").write_text(PLUGIN)
    with pytest.raises(SystemExit) as exc:
        main(["--import", str(tmp_path / "plugin.py"), "check", "--model", "checked-dmz", "--train-steps", "3"])
    out = capsys.readouterr().out
    assert exc.value.code in (None, 0), out
    assert re.search(r"train\s+│ pass\s+│ dmz: 3 steps, loss", out), out
    # the other checks saw trained weights, not the initialisation
    subject = conformance.Subject(registry.get("model", "checked-dmz")(), "tiny", conformance.SPEC)
    conformance.train_briefly(subject, 3, tmp_path / "c.pt")
    fresh, _ = subject.fresh(trained=False)
    trained, _ = subject.fresh()
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), trained.state_dict().values()))


def test_check_reports_a_training_failure_as_a_row(tmp_path, capsys):
    (tmp_path / "plugin.py").write_text(PLUGIN)
    with pytest.raises(SystemExit) as exc:
        main(["--import", str(tmp_path / "plugin.py"), "check", "--model", "broken-loss", "--train-steps", "2"])
    captured = capsys.readouterr()
    assert exc.value.code == 1
    assert "RuntimeError: loss went wrong" in " ".join(captured.out.split())
    assert "1 of 7 conformance checks failed" in captured.err
