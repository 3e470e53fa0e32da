"""bench/compare_records.py: the before/after check of a behaviour-preserving change counts bit-identical values."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.compare_records import compare  # noqa: E402


def _write(folder: Path, name: str, metrics: dict) -> None:
    path = folder / "probe" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metrics": metrics, "timings": {"total_s": 1.0}}))


def test_identical_values_are_counted_and_a_last_bit_difference_is_not_identical(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    _write(old, "a.json", {"accuracy": 0.1 + 0.2, "accuracy_std": 0.01, "n_images": 10, "protocol_ok": True})
    _write(new, "a.json", {"accuracy": 0.3, "accuracy_std": 0.01, "n_images": 10, "protocol_ok": True})
    _write(old, "b.json", {"accuracy": 0.5})
    found = compare(old, new)
    assert found["identical"] == 2  # accuracy_std, n_images (booleans are not metrics values)
    assert [(d[0], d[1]) for d in found["differ"]] == [("probe/a.json", "accuracy")]
    assert 0 < found["differ"][0][4] < 1e-15
    assert found["only_one"] == ["probe/b.json (only in old)"]
