"""Metrics against independent implementations: scikit-image, scikit-learn, scipy, torch-fidelity."""

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.stats import mannwhitneyu
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dmzbench.errors import DmzbenchError
from dmzbench.metrics import features
from dmzbench.metrics.frechet import GaussianStats, frechet_distance
from dmzbench.metrics.image import psnr, ssim
from dmzbench.tasks.auroc import attribute_aurocs


@pytest.mark.parametrize("channels", [1, 3])
def test_psnr_and_ssim_match_scikit_image(channels):
    g = torch.Generator().manual_seed(channels)
    a = torch.rand(3, channels, 32, 32, generator=g)
    b = (a + 0.1 * torch.randn(3, channels, 32, 32, generator=g)).clamp(0, 1)
    ours_psnr, ours_ssim = psnr(a, b), ssim(a, b)
    for i in range(3):
        x, y = a[i].double().numpy(), b[i].double().numpy()
        assert ours_psnr[i].item() == pytest.approx(peak_signal_noise_ratio(x, y, data_range=1.0), rel=1e-5)
        ref = structural_similarity(x, y, data_range=1.0, channel_axis=0, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False)
        assert ours_ssim[i].item() == pytest.approx(ref, abs=1e-5)


def test_frechet_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    f1, f2 = rng.normal(size=(400, 8)), rng.normal(0.3, 1.2, size=(300, 8)) @ rng.normal(size=(8, 8))
    a, b = GaussianStats.of(f1), GaussianStats.of(f2)
    covmean = scipy.linalg.sqrtm(a.sigma @ b.sigma).real
    expected = ((a.mu - b.mu) ** 2).sum() + np.trace(a.sigma + b.sigma - 2 * covmean)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_matches_torch_fidelity_with_the_registered_pinned_extractor(tmp_path):
    """The same images through torch-fidelity's own pipeline (our extractor registered with it) give the same FID."""
    import torch_fidelity

    name = features.register_pinned_with_torch_fidelity()["fmnist-featnet"]
    g = torch.Generator().manual_seed(0)
    x1 = torch.randint(0, 256, (120, 1, 32, 32), generator=g, dtype=torch.uint8)
    x2 = (x1.float() * 0.6 + 40).to(torch.uint8)

    class DS(torch.utils.data.Dataset):
        def __init__(self, x):
            self.x = x

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    theirs = torch_fidelity.calculate_metrics(
        input1=DS(x1), input2=DS(x2), fid=True, feature_extractor=name, feature_layer_fid="features",
        cache=False, verbose=False, cuda=False, batch_size=50, save_cpu_ram=True,
    )["frechet_inception_distance"]
    extract = features.resolve("fmnist-featnet", "fashion-mnist").extract
    ours = frechet_distance(GaussianStats.of(extract(x1)), GaussianStats.of(extract(x2)))
    assert ours == pytest.approx(theirs, abs=1e-3)


def test_pinned_extractor_is_checked_by_sha256(tmp_path, monkeypatch):
    bad = tmp_path / "fmnist-featnet.pt"
    bad.write_bytes(features.PINNED["fmnist-featnet"].path.read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(features, "WEIGHTS_DIR", tmp_path)
    features.load_pinned.cache_clear()
    try:
        with pytest.raises(DmzbenchError, match="sha256"):
            features.load_pinned("fmnist-featnet")
    finally:
        features.load_pinned.cache_clear()


def test_inception_without_weights_is_a_clear_error(monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as inc

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(inc, "FeatureExtractorInceptionV3", offline)
    with pytest.raises(DmzbenchError) as err:
        features.resolve("inception", "fashion-mnist")
    assert "inception_weights=PATH" in str(err.value) and "DMZBENCH_INCEPTION_WEIGHTS" in str(err.value)


def test_auroc_matches_mann_whitney():
    """AUROC = U / (n_pos n_neg): check the per-fold scores against scipy's Mann-Whitney U on the same folds."""
    from sklearn.model_selection import KFold

    from dmzbench.tasks.probe import probe_classifier

    rng = np.random.default_rng(0)
    attrs = rng.integers(0, 2, (200, 2))
    x = rng.normal(size=(200, 4)) + attrs @ rng.normal(size=(2, 4))
    ours, skipped, fold_std = attribute_aurocs(x, attrs)
    assert skipped == 0
    table = []
    for a in range(2):
        per_fold = []
        table.append(per_fold)
        for tr, te in KFold(5, shuffle=True, random_state=0).split(x):
            p = probe_classifier(100).fit(x[tr], attrs[tr, a]).predict_proba(x[te])[:, 1]
            y = attrs[te, a]
            u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
            per_fold.append(u / ((y == 1).sum() * (y == 0).sum()))
        assert ours[a] == pytest.approx(np.mean(per_fold), abs=1e-12)
    assert fold_std == pytest.approx(np.std(np.mean(table, axis=0)), abs=1e-12) and fold_std > 0
