"""The probe against scikit-learn's own cross-validation on the same features."""

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dmzbench.api import TaskContext
from dmzbench.tasks.probe import Probe, ProbeConfig
from tests.conftest import tiny_data


def _features(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, d)) + y[:, None] * 0.8
    return x, y


def _ctx(feats_by_split):
    return TaskContext(torch.device("cpu"), 0, Path("."), cached_features=lambda s: feats_by_split[s], log=lambda m: None)


def test_kfold5_equals_sklearn_cross_val_score():
    x, y = _features()
    data = tiny_data(n=2 * len(y))
    data = data.__class__(data.spec, data.train_images, data.train_labels, data.test_images, torch.from_numpy(y), "t")
    out = Probe().run(None, data, ProbeConfig(), _ctx({"test": torch.from_numpy(x)}))
    ref = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), x, y,
                          cv=KFold(5, shuffle=True, random_state=0))
    assert out["accuracy"] == pytest.approx(ref.mean(), abs=1e-12)
    assert out["accuracy_std"] == pytest.approx(ref.std(), abs=1e-12)
    assert out["n_images"] == len(y)


def test_split_protocol_fits_train_scores_test():
    (tx, ty), (vx, vy) = _features(seed=1), _features(n=100, seed=2)
    base = tiny_data()
    data = base.__class__(base.spec, base.train_images, torch.from_numpy(ty), base.test_images, torch.from_numpy(vy), "t")
    out = Probe().run(None, data, ProbeConfig(protocol="split"),
                      _ctx({"train": torch.from_numpy(tx), "test": torch.from_numpy(vx)}))
    ref = make_pipeline(StandardScaler(), LogisticRegression()).fit(tx, ty).score(vx, vy)
    assert out["accuracy"] == pytest.approx(ref)
    assert out["accuracy_std"] == pytest.approx(np.sqrt(ref * (1 - ref) / len(vx)))  # binomial standard error


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        ProbeConfig(max_images=-1)


def _joined_data(y_train, y_test):
    base = tiny_data(n=len(y_train) + len(y_test))
    return base.__class__(base.spec, base.train_images[: len(y_train)], torch.from_numpy(y_train),
                          base.test_images[: len(y_test)], torch.from_numpy(y_test), "t")


def test_dmz_official_joins_splits_and_fits_plain_logistic_regression():
    """downstream_task_eval.py: cat(train, test), KFold(5, shuffle, 0), LogisticRegression() with no scaler."""
    (tx, ty), (vx, vy) = _features(n=200, seed=3), _features(n=100, seed=4)
    tx = tx * 50.0  # a scale a StandardScaler would undo: the plain fit must differ from the scaled one
    data = _joined_data(ty, vy)
    ctx = _ctx({"train": torch.from_numpy(tx), "test": torch.from_numpy(vx)})
    out = Probe().run(None, data, ProbeConfig(protocol="dmz-official"), ctx)
    x, y = np.concatenate([tx, vx]), np.concatenate([ty, vy])
    ref = cross_val_score(LogisticRegression(), x, y, cv=KFold(5, shuffle=True, random_state=0))
    assert out["accuracy"] == pytest.approx(ref.mean(), abs=1e-12)
    assert out["accuracy_std"] == pytest.approx(ref.std(), abs=1e-12)
    assert out["n_images"] == 300 and ctx.details["joined_splits"] == {"train": 200, "test": 100}
    scaled = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), x, y,
                             cv=KFold(5, shuffle=True, random_state=0))
    assert not np.allclose(ref, scaled)


def test_dmz_official_binary_thresholds_at_half():
    rng = np.random.default_rng(5)
    p_train, p_test = rng.uniform(size=(150, 8)), rng.uniform(size=(50, 8))
    y_train, y_test = (p_train[:, 0] > 0.5).astype(np.int64), (p_test[:, 0] > 0.5).astype(np.int64)
    data = _joined_data(y_train, y_test)
    ctx = _ctx({"train": torch.from_numpy(p_train), "test": torch.from_numpy(p_test)})
    out = Probe().run(None, data, ProbeConfig(protocol="dmz-official", binary=True), ctx)
    x = (np.concatenate([p_train, p_test]) > 0.5).astype(float)
    ref = cross_val_score(LogisticRegression(), x, np.concatenate([y_train, y_test]),
                          cv=KFold(5, shuffle=True, random_state=0))
    assert out["accuracy"] == pytest.approx(ref.mean(), abs=1e-12) and ctx.details["binary"] is True


def test_binary_belongs_to_dmz_official():
    with pytest.raises(ValueError, match="dmz-official"):
        ProbeConfig(binary=True)


def test_auroc_dmz_official_joins_splits_without_a_scaler():
    from sklearn.metrics import roc_auc_score

    from dmzbench.tasks.auroc import AUROC, AUROCConfig

    rng = np.random.default_rng(6)
    x = rng.normal(size=(250, 5)) * 30.0
    attrs = np.stack([(x[:, 0] + rng.normal(size=250) * 20 > 0), (x[:, 1] > 10)], 1).astype(np.int64)
    base = tiny_data(n=250)
    data = base.__class__(base.spec, base.train_images[:200], torch.zeros(200), base.test_images[:50], torch.zeros(50),
                          "t", train_attributes=torch.from_numpy(attrs[:200]),
                          test_attributes=torch.from_numpy(attrs[200:]), attribute_names=("a", "b"))
    ctx = _ctx({"train": torch.from_numpy(x[:200]), "test": torch.from_numpy(x[200:])})
    out = AUROC().run(None, data, AUROCConfig(protocol="dmz-official", max_images=0), ctx)
    per_attr = []
    for a in range(2):
        folds = [roc_auc_score(attrs[te, a], LogisticRegression().fit(x[tr], attrs[tr, a]).predict_proba(x[te])[:, 1])
                 for tr, te in KFold(5, shuffle=True, random_state=0).split(x)]
        per_attr.append(folds)
    ref = np.array(per_attr)
    assert out["auroc_a"] == pytest.approx(ref[0].mean(), abs=1e-12)
    assert out["auroc_mean"] == pytest.approx(ref.mean(), abs=1e-12)
    assert out["auroc_mean_std"] == pytest.approx(ref.mean(0).std(), abs=1e-12)  # the key the task declares
    assert ctx.details["joined_splits"] == {"train": 200, "test": 50}
