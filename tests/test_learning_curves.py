"""The learning-curve figures (issue 22): one line per family over the training FLOPs its records state, the init
control at the left, an untrained reference (pixels) as a horizontal line, one task configuration per curve."""

import pytest

from dmzbench.board import build as board_module
from dmzbench.board import page as lb
from dmzbench.board.learning_curves import Point, curves
from dmzbench.run.records import ResultRecord


def _record(results, model, preset, task, metrics, flops=0.0, config=None, seed=0):
    ResultRecord(model={"name": model, "preset": preset},
                 task={"name": task, "version": "1", "config": config or {}, "details": {}},
                 dataset={"name": "fashion-mnist", "splits": {}}, seed=seed, metrics=metrics, timings={},
                 train={"flops": flops} if flops else {}, device="cpu (test)", environment={}).write(results)


def test_curves_follow_training_flops_with_controls_and_references(tmp_path):
    for preset, flops, acc in (("cpu+steps=10", 1e12, 0.70), ("cpu", 4e12, 0.80), ("cpu+steps=20", 2e12, 0.75)):
        _record(tmp_path, "dmz", preset, "probe", {"accuracy": acc, "accuracy_std": 0.01}, flops)
    _record(tmp_path, "dmz", "init", "probe", {"accuracy": 0.64, "accuracy_std": 0.01})
    _record(tmp_path, "pixels", "identity", "probe", {"accuracy": 0.80, "accuracy_std": 0.01})
    # another protocol's record never joins the curve
    _record(tmp_path, "dmz", "cpu", "probe", {"accuracy": 0.1, "accuracy_std": 0.01}, 4e12, {"protocol": "split"})
    points, controls, references = curves(board_module.load_runs(tmp_path), "probe", "accuracy", "accuracy_std")
    assert [(p.flops, p.value) for p in points["dmz"]] == [(1e12, 0.70), (2e12, 0.75), (4e12, 0.80)]
    assert controls == {"dmz": (0.64, 0.01)} and references == {"pixels/identity": 0.80}

    written = lb.write(tmp_path, tmp_path / "page")
    assert tmp_path / "page" / "learning_curve_probe.png" in written


def test_a_second_seed_makes_one_point_with_the_std_over_seeds_as_the_tables_do(tmp_path):
    for seed, acc in ((0, 0.70), (1, 0.74)):
        _record(tmp_path, "dmz", "cpu+steps=10", "probe", {"accuracy": acc, "accuracy_std": 0.01}, 1e12, seed=seed)
        _record(tmp_path, "dmz", "init", "probe", {"accuracy": acc - 0.1, "accuracy_std": 0.01}, seed=seed)
    _record(tmp_path, "dmz", "cpu", "probe", {"accuracy": 0.8, "accuracy_std": 0.01}, 4e12)
    points, controls, _ = curves(board_module.load_runs(tmp_path), "probe", "accuracy", "accuracy_std")
    first = points["dmz"][0]
    assert len(points["dmz"]) == 2 and first.value == pytest.approx(0.72)
    assert first.uncertainty == pytest.approx(0.04 / 2 ** 0.5)  # the sample std of two values: |a - b| / sqrt(2)
    assert controls["dmz"][0] == pytest.approx(0.62) and controls["dmz"][1] == pytest.approx(0.04 / 2 ** 0.5)
    assert points["dmz"][1] == Point(4e12, 0.8, 0.01, "cpu")


def test_no_curve_without_two_points_of_training_compute(tmp_path):
    _record(tmp_path, "dmz", "smoke", "probe", {"accuracy": 0.7, "accuracy_std": 0.01}, 1e12)
    assert not any("learning_curve" in p.name for p in lb.write(tmp_path, tmp_path / "page"))
