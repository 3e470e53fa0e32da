"""Data loaders on small files written in the real on-disk formats, and the real Fashion-MNIST where installed."""

import pickle

import numpy as np
import pytest
import torch

from dmzbench import data
from dmzbench.data import fashion_mnist
from dmzbench.errors import DmzbenchError, UsageError


def test_fashion_mnist_from_data_root(fake_fashion_root, monkeypatch):
    monkeypatch.setenv("DMZBENCH_SYSTEM_DATA", str(fake_fashion_root / "nowhere"))
    d = data.load("fashion-mnist", fake_fashion_root)
    assert d.train_images.shape == (64, 1, 32, 32) and d.test_images.shape == (32, 1, 32, 32)
    assert d.train_images.dtype == torch.uint8
    # zero padding: a 2-pixel black border around the 28x28 image
    assert d.train_images[:, :, :2].sum() == 0 and d.train_images[:, :, :, -2:].sum() == 0
    raw = fashion_mnist.read_idx(fake_fashion_root / "fashion-mnist" / "train-images-idx3-ubyte.gz")
    assert torch.equal(d.train_images[:, 0, 2:30, 2:30], torch.from_numpy(raw.copy()))


def test_data_root_from_environment(fake_fashion_root, monkeypatch):
    monkeypatch.setenv("DMZBENCH_SYSTEM_DATA", str(fake_fashion_root / "nowhere"))
    monkeypatch.setenv("DMZBENCH_DATA", str(fake_fashion_root))
    assert data.load("fashion-mnist").split_sizes == {"train": 64, "test": 32}


def test_missing_fashion_mnist_names_all_three_ways(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setenv("DMZBENCH_SYSTEM_DATA", str(tmp_path / "nowhere"))
    monkeypatch.delenv("DMZBENCH_OFFLINE")  # reach torchvision, which fails as offline
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DmzbenchError) as err:
        data.load("fashion-mnist", tmp_path / "empty")
    msg = str(err.value)
    assert "DMZBENCH_DATA" in msg and "apt-get install dataset-fashion-mnist" in msg and "online" in msg
    assert "\n" not in msg and "no network" in msg


def test_truncated_idx_is_detected(tmp_path):
    from tests.conftest import write_idx

    write_idx(tmp_path / "x.gz", np.zeros((4, 28, 28)))
    raw = __import__("gzip").open(tmp_path / "x.gz").read()
    __import__("gzip").open(tmp_path / "y.gz", "wb").write(raw[:-100])
    with pytest.raises(DmzbenchError, match="truncated"):
        fashion_mnist.read_idx(tmp_path / "y.gz")


def test_data_root_that_does_not_exist(tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        data.load("fashion-mnist", tmp_path / "missing")


def test_cifar10_from_real_format_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = {}
    for name, n in [(f"data_batch_{i}", 3) for i in range(1, 6)] + [("test_batch", 2)]:
        rows[name] = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:  # the layout of the official python pickles
            pickle.dump({b"batch_label": name.encode(), b"labels": list(range(n)), b"data": rows[name],
                         b"filenames": [b"x.png"] * n}, f)
    d = data.load("cifar10", tmp_path)
    assert d.train_images.shape == (15, 3, 32, 32) and d.test_images.shape == (2, 3, 32, 32)
    # row layout: 1024 red, then 1024 green, then 1024 blue, row-major
    assert torch.equal(d.train_images[0, 1].flatten(), torch.from_numpy(rows["data_batch_1"][0, 1024:2048]))
    assert d.train_labels.tolist() == [0, 1, 2] * 5


@pytest.mark.fashion_mnist
def test_real_fashion_mnist():
    d = data.load("fashion-mnist")
    assert d.split_sizes == {"train": 60000, "test": 10000}
    assert d.train_images.shape[1:] == (1, 32, 32)
    assert sorted(d.train_labels.unique().tolist()) == list(range(10))


def test_shapes_is_deterministic_with_8_balanced_attributes():
    from dmzbench.data.shapes import ATTRIBUTES, make_split

    x1, a1 = make_split("test")
    x2, a2 = make_split("test")
    assert torch.equal(x1, x2) and torch.equal(a1, a2)
    assert x1.shape == (5000, 3, 32, 32) and a1.shape == (5000, len(ATTRIBUTES)) and len(ATTRIBUTES) >= 8
    assert ((a1.float().mean(0) - 0.5).abs() < 0.05).all()
    # attributes are visible: light backgrounds are brighter in the corner pixel
    corner = x1[:, :, 0, 0].float().mean(1)
    light = a1[:, ATTRIBUTES.index("light_background")].bool()
    assert corner[light].mean() > corner[~light].mean() + 100


def test_sobel_edges_are_binary_and_follow_the_object():
    from dmzbench.data.edges2fashion import sobel_edges

    img = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    img[:, :, 8:24, 8:24] = 200
    edges = sobel_edges(img)
    assert set(edges.unique().tolist()) == {0, 255}
    assert edges[0, 0, 16, 16] == 0 and edges[0, 0, 8, 16] == 255 and edges[0, 0, 2, 2] == 0


def _jpeg(path, array):
    from PIL import Image

    Image.fromarray(array).save(path, quality=95)


def test_celeba64_from_torchvision_layout(tmp_path):
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 7)]
    rng = np.random.default_rng(0)
    attr_names = ["Smiling", "Young"]
    lines = [str(len(names)), " ".join(attr_names)]
    for i, n in enumerate(names):
        _jpeg(folder / "img_align_celeba" / n, rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
        lines.append(f"{n} {1 if i % 2 else -1} {-1 if i % 3 else 1}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(f"{n} {[0, 0, 0, 1, 2, 2][i]}" for i, n in enumerate(names)))
    for name in ("celeba64", "celeba64-d2c"):
        d = data.load(name, tmp_path)
        assert d.train_images.shape == (3, 3, 64, 64) and d.test_images.shape == (2, 3, 64, 64)
        assert d.attribute_names == ("Smiling", "Young")
        assert d.train_attributes.tolist() == [[0, 1], [1, 0], [0, 0]]
        assert d.test_labels.tolist() == [0, 1]  # Smiling of 000005, 000006
    # the record names the crop: the two variants' preprocessings differ and say which
    crops = {name: data.load(name, tmp_path).preprocessing for name in ("celeba64", "celeba64-d2c")}
    assert crops["celeba64"].startswith("centre crop 178x178") and crops["celeba64-d2c"].startswith("D2C crop")


def test_pix2pix_side_by_side_pairs(tmp_path):
    for split, n in (("train", 3), ("val", 2)):
        (tmp_path / "edges2shoes" / split).mkdir(parents=True)
        for i in range(n):
            ab = np.zeros((256, 512, 3), np.uint8)
            ab[:, 256:] = 200  # B (photo) half bright, A (edges) half black
            _jpeg(tmp_path / "edges2shoes" / split / f"{i}_AB.jpg", ab)
    d = data.load("edges2shoes", tmp_path)
    assert d.paired and d.train_sources.shape == (3, 3, 64, 64) and d.test_images.shape == (2, 3, 64, 64)
    assert d.train_sources.float().mean() < 10 and d.train_images.float().mean() > 190


def test_online_sets_explain_how_to_get_them(tmp_path):
    for name in ("celeba64", "edges2handbags"):
        with pytest.raises(DmzbenchError, match="DMZBENCH_DATA"):
            data.load(name, tmp_path)
