"""The data loaders and the one split builder :func:`aabigan.data.make_split`.

Reads the benchmark data from ``$AABIGAN_DATA`` (read-only); nothing here touches the network: every
download path is replaced by a stub that fails or serves local bytes.
"""
from __future__ import annotations

import builtins
import csv
import gzip
import io
import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from aabigan import data as D
from aabigan.data import load_images, load_odds, make_split, make_toy_2d, odds_statistics
from aabigan.errors import CorruptDataError, DataNotFoundError

REPO = Path(__file__).resolve().parents[1]
ODDS_NAMES = ("arrhythmia", "cardio", "satellite", "satimage-2", "shuttle", "thyroid")
SPLIT_FIELDS = ("X_train", "y_train", "train_kind", "X_val", "y_val", "val_kind", "X_test", "y_test",
                "test_kind", "train_source", "val_source", "test_source")


SHARED = Path(os.environ["AABIGAN_DATA"])     # the real data folder (conftest sets a default)


@pytest.fixture
def fresh_caches():
    """load_images / load_odds are lru_cached by name only: clear them around tests that move the roots."""
    load_images.cache_clear()
    load_odds.cache_clear()
    yield
    load_images.cache_clear()
    load_odds.cache_clear()


@pytest.fixture
def no_writes(monkeypatch):
    """Within the block, any open() for writing raises: proves a loader writes nothing anywhere."""
    real_open = builtins.open

    def guarded(file, mode="r", *args, **kwargs):
        if any(ch in str(mode) for ch in "wax+"):
            raise PermissionError(f"test forbids writing {file!r}")
        return real_open(file, mode, *args, **kwargs)

    class Guard:
        def __enter__(self):
            monkeypatch.setattr(builtins, "open", guarded)

        def __exit__(self, *exc):
            monkeypatch.setattr(builtins, "open", real_open)

    return Guard()


def _cache_files(cache: Path) -> list[str]:
    """Files the loaders left in a cache folder (they may only remember which files passed their checksum)."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def _per_class(labels: np.ndarray, classes) -> np.ndarray:
    return np.array([int(np.sum(labels == c)) for c in classes])


def assert_stratified_20(val_labels, test_labels, classes, fraction=0.2):
    for c in classes:
        n_val, n_test = int(np.sum(val_labels == c)), int(np.sum(test_labels == c))
        assert n_val == int(round(fraction * (n_val + n_test))), (c, n_val, n_test)


# ============================================================================================ images
@pytest.fixture(scope="module")
def mnist_full():
    return make_split("mnist", normal_class=0, gamma_l=0.05, gamma_p=0.1, seed=0, channels=1)


@pytest.fixture(scope="module")
def mnist_small():
    return make_split("mnist", normal_class=3, n_known_classes=2, gamma_l=0.05, gamma_p=0.1, seed=1,
                      max_train_normal=200, max_eval=500)


def test_mnist_full_counts(mnist_full):
    s = mnist_full
    ys, yt = load_images("mnist", True)[1], load_images("mnist", False)[1]
    n_normal = int(np.sum(ys == 0))
    assert n_normal == 5923
    assert s.info["n_normal"] == n_normal
    assert s.info["n_collected"] == round(0.05 * 5923) == 296
    assert s.info["n_polluted"] == round(0.1 * 5923) == 592
    assert _per_class(s.train_kind, (0, 1, 2)).tolist() == [5923, 296, 592]
    assert s.y_train.sum() == 296 and s.X_train.shape == (5923 + 296 + 592, 1, 32, 32)
    # all normal training samples, every one of them from the official train split
    assert np.all(ys[s.train_source[s.train_kind == 0]] == 0)
    assert len(np.unique(s.train_source)) == len(s.train_source)        # collected and pollution disjoint
    # validation / test: the whole official test split, cut 20 / 80 per class
    np.testing.assert_array_equal(np.sort(np.r_[s.val_source, s.test_source]), np.arange(len(yt)))
    assert len(np.intersect1d(s.val_source, s.test_source)) == 0
    assert_stratified_20(yt[s.val_source], yt[s.test_source], range(10))
    assert len(s.val_source) == sum(round(0.2 * n) for n in _per_class(yt, range(10)))
    np.testing.assert_array_equal(s.y_val, (yt[s.val_source] != 0).astype(int))
    np.testing.assert_array_equal(s.y_test, (yt[s.test_source] != 0).astype(int))


def test_images_labels_and_kinds(mnist_small):
    s = mnist_small
    ys, yt = load_images("mnist", True)[1], load_images("mnist", False)[1]
    known = s.info["known_classes"]
    assert len(known) == 2 and 3 not in known and all(0 <= k <= 9 for k in known)
    assert s.info["n_normal"] == 200
    assert s.info["n_collected"] == round(0.05 * 200) == 10
    assert s.info["n_polluted"] == round(0.1 * 200) == 20
    lab = ys[s.train_source]
    assert np.all(lab[s.train_kind == 0] == 3)
    assert np.all(np.isin(lab[s.train_kind == 1], known))
    per_known = _per_class(lab[s.train_kind == 1], known)
    assert per_known.sum() == 10 and per_known.max() - per_known.min() <= 1     # spread evenly over k_l
    assert np.all(lab[s.train_kind == 2] != 3)
    np.testing.assert_array_equal(s.y_train, (s.train_kind == 1).astype(int))
    assert len(np.unique(s.train_source)) == len(s.train_source)
    for src, y, kind in ((s.val_source, s.y_val, s.val_kind), (s.test_source, s.y_test, s.test_kind)):
        lab = yt[src]
        np.testing.assert_array_equal(y, (lab != 3).astype(int))
        np.testing.assert_array_equal(kind, np.where(lab == 3, 0, np.where(np.isin(lab, known), 1, 2)))
    assert len(np.intersect1d(s.val_source, s.test_source)) == 0
    assert abs(len(s.val_source) + len(s.test_source) - 500) <= 10
    assert_stratified_20(yt[s.val_source], yt[s.test_source], range(10))
    # the eval subsample keeps the class proportions of the test split
    eval_counts = _per_class(yt[np.r_[s.val_source, s.test_source]], range(10))
    np.testing.assert_allclose(eval_counts, 500 * _per_class(yt, range(10)) / len(yt), atol=1)


def test_pollution_is_drawn_from_all_anomaly_classes():
    s = make_split("mnist", normal_class=0, known_classes=[4], gamma_l=0.05, gamma_p=0.2, seed=0,
                   max_train_normal=300, max_eval=100)
    lab = load_images("mnist", True)[1][s.train_source]
    assert s.info["known_classes"] == [4]
    assert np.all(lab[s.train_kind == 1] == 4)
    assert len(set(lab[s.train_kind == 2].tolist())) >= 5      # 60 draws over the nine anomaly classes


def test_known_classes_given_explicitly():
    s = make_split("fmnist", normal_class=2, known_classes=[7, 5], gamma_l=0.1, seed=0, max_train_normal=100,
                   max_eval=100)
    assert s.info["known_classes"] == [5, 7]
    lab = load_images("fmnist", True)[1][s.train_source]
    assert np.all(np.isin(lab[s.train_kind == 1], [5, 7]))
    assert _per_class(lab[s.train_kind == 1], [5, 7]).tolist() == [5, 5]


def test_no_known_classes_no_collected():
    s = make_split("mnist", normal_class=1, n_known_classes=0, gamma_l=0.0, seed=0, max_train_normal=50,
                   max_eval=100)
    assert s.info["known_classes"] == [] and s.info["n_collected"] == 0 and s.y_train.sum() == 0
    assert set(s.val_kind.tolist()) <= {0, 2}


def test_ratio_of_train_images():
    # Deep SAD's definition: gamma is the share of the training set, n = round(n_normal * g / (1 - g))
    s = make_split("mnist", normal_class=0, gamma_l=0.05, gamma_p=0.1, ratio_of="train", seed=0,
                   max_train_normal=190, max_eval=100)
    assert s.info["n_collected"] == round(190 * 0.05 / 0.95) == 10
    assert s.info["n_polluted"] == round(190 * 0.1 / 0.9) == 21
    assert (s.train_kind == 1).sum() / len(s.train_kind) == pytest.approx(10 / 221)


def test_images_default_format(mnist_small):
    s = mnist_small
    for X in (s.X_train, s.X_val, s.X_test):
        assert X.dtype == np.float32 and X.ndim == 4 and X.shape[1:] == (3, 32, 32)
        assert X.min() >= 0.0 and X.max() <= 1.0
    # grey images copied to the three channels
    np.testing.assert_array_equal(s.X_train[:, 0], s.X_train[:, 1])
    np.testing.assert_array_equal(s.X_train[:, 0], s.X_train[:, 2])


def test_images_one_channel(mnist_small):
    s1 = make_split("mnist", normal_class=3, n_known_classes=2, gamma_l=0.05, gamma_p=0.1, seed=1,
                    max_train_normal=200, max_eval=500, channels=1)
    assert s1.X_train.shape == (len(s1.train_source), 1, 32, 32) and s1.X_train.dtype == np.float32
    assert s1.X_test.shape[1:] == (1, 32, 32)
    np.testing.assert_array_equal(s1.train_source, mnist_small.train_source)
    np.testing.assert_array_equal(s1.X_train[:, 0], mnist_small.X_train[:, 0])


def test_cifar10_split_format():
    s = make_split("cifar10", normal_class=5, gamma_l=0.05, seed=0, max_train_normal=40, max_eval=50)
    assert s.X_train.shape == (42, 3, 32, 32) and s.X_train.dtype == np.float32
    assert 0.0 <= s.X_train.min() and s.X_train.max() <= 1.0
    Xs, ys = load_images("cifar10", True)
    np.testing.assert_allclose(s.X_train[0], Xs[s.train_source[0]].transpose(2, 0, 1) / 255.0, atol=1e-6)
    s1 = make_split("cifar10", normal_class=5, gamma_l=0.05, seed=0, max_train_normal=40, max_eval=50, channels=1)
    np.testing.assert_allclose(s1.X_train[:, 0], s.X_train.mean(1), atol=1e-6)


def test_to_model_input_resizes_and_scales():
    img = np.full((2, 28, 28), 255, np.uint8)
    x = D.to_model_input(img)
    assert x.shape == (2, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x, 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        D.to_model_input(np.zeros((1, 32, 32, 3), np.uint8), channels=2)


# ============================================================================================= ODDS
@pytest.mark.parametrize("name,gamma_l,gamma_p", [("thyroid", 0.01, 0.01), ("cardio", 0.05, 0.05),
                                                   ("arrhythmia", 0.1, 0.05)])
def test_odds_split(name, gamma_l, gamma_p):
    s = make_split(name, gamma_l=gamma_l, gamma_p=gamma_p, seed=0)
    X, y = load_odds(name)
    n0, n1 = int(np.sum(y == 0)), int(np.sum(y == 1))
    n_train_normal = int(round(0.6 * n0))
    # counts (paper's definition: ratio to the normal training samples)
    assert s.info["n_normal"] == n_train_normal
    assert s.info["n_collected"] == round(gamma_l * n_train_normal)
    assert s.info["n_polluted"] == round(gamma_p * n_train_normal)
    assert _per_class(s.train_kind, (0, 1, 2)).tolist() == [n_train_normal, s.info["n_collected"],
                                                            s.info["n_polluted"]]
    # labels from the file
    np.testing.assert_array_equal(y[s.train_source], (s.train_kind > 0).astype(int))
    np.testing.assert_array_equal(s.y_train, (s.train_kind == 1).astype(int))
    np.testing.assert_array_equal(y[s.val_source], s.y_val)
    np.testing.assert_array_equal(y[s.test_source], s.y_test)
    # disjoint: every *_source indexes the same file
    assert len(np.unique(s.train_source)) == len(s.train_source)
    for a, b in ((s.train_source, s.val_source), (s.train_source, s.test_source), (s.val_source, s.test_source)):
        assert len(np.intersect1d(a, b)) == 0
    # the 40 % test part of a stratified 60 / 40 cut, then 20 / 80 validation / test per class
    assert len(s.val_source) + len(s.test_source) == len(y) - n_train_normal - int(round(0.6 * n1))
    assert_stratified_20(s.y_val, s.y_test, (0, 1))


@pytest.mark.parametrize("name", ["arrhythmia", "cardio"])
def test_odds_scaling_fitted_on_train_only(name):
    s = make_split(name, gamma_l=0.01, seed=2)
    X, _ = load_odds(name)
    Xtr = X[s.train_source]
    non_constant = Xtr.max(0) > Xtr.min(0)
    np.testing.assert_allclose(s.X_train[:, non_constant].min(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(s.X_train[:, non_constant].max(0), 1.0, atol=1e-6)
    std = StandardScaler().fit(Xtr)
    mm = MinMaxScaler().fit(std.transform(Xtr))
    for X_part, src in ((s.X_val, s.val_source), (s.X_test, s.test_source)):
        assert X_part.dtype == np.float32
        np.testing.assert_allclose(X_part, mm.transform(std.transform(X[src])), rtol=1e-5, atol=1e-5)
    # ... so evaluation data may leave [0, 1]
    X_eval = np.concatenate([s.X_val, s.X_test])
    assert X_eval.min() < 0.0 or X_eval.max() > 1.0


def test_ratio_of_train_odds():
    s = make_split("cardio", gamma_l=0.05, ratio_of="train", seed=0)
    n = s.info["n_normal"]
    assert s.info["n_collected"] == round(n * 0.05 / 0.95)


def test_odds_statistics_reproduce_table3():
    path = Path(os.environ.get("AABIGAN_PAPER_TABLES", REPO.parent / "shared" / "paper" / "tables")) / "table3.csv"
    if not path.is_file():
        path = REPO / "results" / "paper" / "table3.csv"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    by_name = {r["dataset"]: r for r in rows}
    for name in ODDS_NAMES:
        stats = odds_statistics(name)
        row = by_name[stats["dataset"]]
        assert stats["n_samples"] == int(row["n_samples"])
        assert stats["n_dims"] == int(row["n_dims"])
        assert stats["n_outliers"] == int(row["n_outliers"])
        assert stats["outlier_pct"] == pytest.approx(float(row["outlier_pct"]))


def test_load_odds_types():
    X, y = load_odds("Satimage2")          # alias of satimage-2
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert X.shape == (5803, 36) and set(np.unique(y).tolist()) == {0, 1}


# ======================================================================================= determinism
@pytest.mark.parametrize("name,kw", [("cardio", dict(gamma_l=0.02, gamma_p=0.02)),
                                     ("mnist", dict(normal_class=4, gamma_l=0.05, gamma_p=0.05,
                                                    max_train_normal=100, max_eval=200))])
def test_split_deterministic_under_seed(name, kw):
    a, b, c = make_split(name, seed=7, **kw), make_split(name, seed=7, **kw), make_split(name, seed=8, **kw)
    for f in SPLIT_FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert a.info == b.info
    assert not np.array_equal(a.train_source, c.train_source)
    assert not np.array_equal(a.val_source, c.val_source)


# ============================================================================================ 2-D toy
def test_make_toy_2d():
    s = make_toy_2d()                              # n_normal=1000, gamma_l=0.02, 200 per eval kind
    assert s.X_train.shape == (1020, 2) and s.X_train.dtype == np.float32
    assert _per_class(s.train_kind, (0, 1)).tolist() == [1000, 20]
    np.testing.assert_array_equal(s.y_train, s.train_kind)
    assert s.X_val.shape == (120, 2) and s.X_test.shape == (480, 2)
    assert _per_class(s.val_kind, (0, 1, 2)).tolist() == [40, 40, 40]
    assert _per_class(s.test_kind, (0, 1, 2)).tolist() == [160, 160, 160]
    np.testing.assert_array_equal(s.y_val, (s.val_kind > 0).astype(int))
    np.testing.assert_array_equal(s.y_test, (s.test_kind > 0).astype(int))
    all_src = np.r_[s.train_source, s.val_source, s.test_source]
    assert len(np.unique(all_src)) == len(all_src)
    # the collected anomaly type sits above the normal blobs
    assert s.X_train[s.train_kind == 1, 1].mean() > 1.5 > s.X_train[s.train_kind == 0, 1].mean()
    small = make_toy_2d(n_normal=50, gamma_l=0.1, n_eval_per_kind=10, seed=3)
    assert small.X_train.shape == (55, 2) and len(small.X_val) + len(small.X_test) == 30
    np.testing.assert_array_equal(make_toy_2d(seed=3).X_test, make_toy_2d(seed=3).X_test)
    with pytest.raises(ValueError, match="n_normal must be at least 2"):
        make_toy_2d(n_normal=1)


# ========================================================================================== loading
def test_load_images_from_read_only_root_writes_nothing(fresh_caches, no_writes, monkeypatch, tmp_path):
    root = tmp_path / "ro"
    (root / "MNIST" / "raw").mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED / "MNIST" / "raw" / f, root / "MNIST" / "raw" / f)
    for p in sorted(root.rglob("*"), reverse=True):
        p.chmod(0o444 if p.is_file() else 0o555)
    root.chmod(0o555)
    cache = tmp_path / "cache"
    monkeypatch.setenv("AABIGAN_DATA", str(root))
    monkeypatch.setenv("AABIGAN_CACHE", str(cache))
    monkeypatch.setattr(D, "_torchvision_download", lambda name: pytest.fail("must not download"))
    try:
        before = _snapshot(root)
        with no_writes:
            X, y = load_images("mnist", train=False)
        assert X.shape == (10000, 28, 28) and X.dtype == np.uint8 and y.dtype == np.int64
        assert _per_class(y, range(10))[:3].tolist() == [980, 1135, 1032]
        assert _snapshot(root) == before
        assert _cache_files(cache) == []        # writes forbidden: not even the checksum verdict
    finally:
        root.chmod(0o755)


def test_loaders_write_nothing_to_the_shared_data(fresh_caches, no_writes, monkeypatch, tmp_path):
    root = SHARED
    monkeypatch.setenv("AABIGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(D, "_torchvision_download", lambda name: pytest.fail("must not download"))
    monkeypatch.setattr(D, "_download_odds", lambda name: pytest.fail("must not download"))
    before = _snapshot(root)
    with no_writes:
        load_images("mnist", False)
        load_images("fmnist", False)
        load_images("cifar10", False)
        load_odds("cardio")
    assert _snapshot(root) == before
    assert _cache_files(tmp_path / "cache") == []


def _offline(monkeypatch, tmp_path):
    empty, cache = tmp_path / "empty", tmp_path / "cache"
    empty.mkdir()
    monkeypatch.setenv("AABIGAN_DATA", str(empty))
    monkeypatch.setenv("AABIGAN_CACHE", str(cache))

    def fail(name):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(D, "_torchvision_download", fail)
    monkeypatch.setattr(D, "_download_odds", fail)
    return empty, cache


@pytest.mark.parametrize("name,train,fragment", [
    ("mnist", True, "MNIST/raw/train-images-idx3-ubyte.gz"),
    ("fmnist", False, "FashionMNIST/raw/t10k-images-idx3-ubyte.gz"),
    ("cifar10", False, "cifar-10-batches-py/test_batch"),
])
def test_missing_image_file_names_file_and_folder(fresh_caches, monkeypatch, tmp_path, name, train, fragment):
    empty, cache = _offline(monkeypatch, tmp_path)
    with pytest.raises(DataNotFoundError) as info:
        load_images(name, train)
    msg = str(info.value)
    assert fragment in msg
    assert str(empty) in msg and str(cache / "torchvision") in msg
    assert "network is unreachable (test)" in msg and "AABIGAN_DATA" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_missing_odds_file_names_file_and_folder(fresh_caches, monkeypatch, tmp_path):
    empty, cache = _offline(monkeypatch, tmp_path)
    with pytest.raises(DataNotFoundError, match=r"cardio\.mat") as info:
        load_odds("cardio")
    msg = str(info.value)
    assert str(empty / "odds" / "cardio.mat") in msg and str(cache / "odds" / "cardio.mat") in msg
    assert "network is unreachable (test)" in msg


def test_missing_data_propagates_from_make_split(fresh_caches, monkeypatch, tmp_path):
    _offline(monkeypatch, tmp_path)
    with pytest.raises(DataNotFoundError, match="thyroid.mat"):
        make_split("thyroid")
    with pytest.raises(DataNotFoundError, match="MNIST/raw"):
        make_split("mnist", max_train_normal=10, max_eval=10)


def test_odds_file_in_cache_is_used(fresh_caches, monkeypatch, tmp_path):
    _, cache = _offline(monkeypatch, tmp_path)
    (cache / "odds").mkdir(parents=True)
    shutil.copy(SHARED / "odds" / "thyroid.mat", cache / "odds" / "thyroid.mat")
    X, y = load_odds("thyroid")
    assert X.shape == (3772, 6) and y.sum() == 93


class _FakeResponse(io.BytesIO):
    pass


def test_odds_download_checksum_mismatch(fresh_caches, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    monkeypatch.setenv("AABIGAN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("AABIGAN_CACHE", str(cache))
    urls = []

    def fake_urlopen(url, timeout=None):
        urls.append(url)
        return _FakeResponse(b"these are not the bytes of cardio.mat")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(ValueError, match="checksum"):
        D._download_odds("cardio")
    assert urls and "cardio.mat" in urls[0] and "34f7996e" in urls[0]
    assert list((cache / "odds").iterdir()) == []           # neither cardio.mat nor cardio.part left
    with pytest.raises(DataNotFoundError, match="checksum"):
        load_odds("cardio")
    assert list((cache / "odds").iterdir()) == []


def test_odds_download_with_good_bytes(fresh_caches, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    monkeypatch.setenv("AABIGAN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("AABIGAN_CACHE", str(cache))
    good = (SHARED / "odds" / "cardio.mat").read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _FakeResponse(good))
    X, y = load_odds("cardio")
    assert (cache / "odds" / "cardio.mat").read_bytes() == good
    assert sorted(p.name for p in (cache / "odds").iterdir()) == ["cardio.mat"]
    assert X.shape == (1831, 21) and y.sum() == 176


# ===================================================================================== damaged files
@pytest.fixture
def data_copy(fresh_caches, monkeypatch, tmp_path):
    """A data root in tmp_path with copies of chosen shared files (to damage), offline, and an empty verdict
    cache; returns copy(relative path) -> the copy's path."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("AABIGAN_DATA", str(root))
    monkeypatch.setenv("AABIGAN_CACHE", str(cache))
    monkeypatch.setattr(D, "_torchvision_download", lambda name: pytest.fail("must not download"))
    monkeypatch.setattr(D, "_download_odds", lambda name: pytest.fail("must not download"))
    monkeypatch.setattr(D, "_VERIFIED", {}, raising=False)

    def copy(rel: str) -> Path:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / rel, dest)
        dest.chmod(0o644)
        return dest

    return copy


def _flip_byte(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))


def _truncate(path: Path, keep: float = 0.5) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * keep)])


def test_a_damaged_odds_file_is_named_by_its_checksum(data_copy):
    mat = data_copy("odds/cardio.mat")
    _flip_byte(mat, 5000)
    with pytest.raises(CorruptDataError) as info:
        load_odds("cardio")
    msg = str(info.value)
    assert f"data file {mat} is damaged" in msg and "SHA-256" in msg
    assert D.SHA256["odds/cardio.mat"] in msg and "delete it" in msg
    with pytest.raises(CorruptDataError, match="cardio.mat is damaged"):     # through the split builder too
        make_split("cardio")


@pytest.mark.parametrize("rel, name, train", [
    ("MNIST/raw/t10k-images-idx3-ubyte.gz", "mnist", False),
    ("FashionMNIST/raw/t10k-labels-idx1-ubyte.gz", "fmnist", False),
    ("cifar-10-batches-py/test_batch", "cifar10", False),
])
def test_a_truncated_image_file_is_named(data_copy, rel, name, train):
    folder = rel.rsplit("/", 1)[0]
    copies = {f.name: data_copy(f"{folder}/{f.name}") for f in (SHARED / folder).iterdir()
              if f.name.startswith("t10k") or f.name == "test_batch"}
    damaged = copies[rel.rsplit("/", 1)[1]]
    _truncate(damaged)
    with pytest.raises(CorruptDataError) as info:
        load_images(name, train)
    assert f"data file {damaged} is damaged" in str(info.value) and "SHA-256" in str(info.value)


def test_checksums_ship_for_every_shared_file():
    """The package's table holds the SHA-256 of every file of the shared data folder (its SHA256SUMS)."""
    listed = dict(line.split()[::-1] for line in (SHARED / "SHA256SUMS").read_text().splitlines() if line.strip())
    assert {k: D.SHA256[k] for k in listed} == listed


def test_a_file_is_hashed_once(data_copy, monkeypatch, tmp_path):
    """The verdict is kept for the process and on disk (keyed on path, size, mtime); a changed file is hashed
    again."""
    mat = data_copy("odds/thyroid.mat")
    hashed = []
    real = D._sha256
    monkeypatch.setattr(D, "_sha256", lambda path: hashed.append(Path(path)) or real(path))
    D.verify_file(mat, "odds/thyroid.mat")
    D.verify_file(mat, "odds/thyroid.mat")
    assert hashed == [mat]
    assert _cache_files(tmp_path / "cache") == ["verified-sha256.json"]
    monkeypatch.setattr(D, "_VERIFIED", {})             # a new process: the verdict on disk is used
    load_odds("thyroid")
    assert hashed == [mat]
    os.utime(mat, ns=(mat.stat().st_atime_ns, mat.stat().st_mtime_ns + 10**9))   # touched: hashed again
    D.verify_file(mat, "odds/thyroid.mat")
    assert hashed == [mat, mat]
    _flip_byte(mat, 100)                                 # changed in place
    with pytest.raises(CorruptDataError, match="thyroid.mat is damaged"):
        D.verify_file(mat, "odds/thyroid.mat")


def test_a_file_without_a_shipped_checksum_is_not_hashed(data_copy, monkeypatch):
    monkeypatch.setattr(D, "_sha256", lambda path: pytest.fail("must not hash"))
    D.verify_file(SHARED / "README.md", "README.md")


# files the checksum table does not cover (or a damaged one that matches an entry removed for the test) must
# still fail on parsing, naming the file
def _idx(dims, payload: bytes, kind: int = 0x08) -> bytes:
    head = (kind << 8 | len(dims)).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return head + payload


@pytest.fixture
def unlisted(data_copy, monkeypatch):
    """Like data_copy, with no shipped checksums: only the parsers stand between a bad file and the data."""
    monkeypatch.setattr(D, "SHA256", {}, raising=False)
    return data_copy


def _write_mnist_test(root: Path, images: bytes, labels: bytes, gz: bool = False) -> Path:
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for stem, raw in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
    return folder


@pytest.mark.parametrize("images, labels, bad, match", [
    (_idx((10, 28, 28), bytes(10 * 28 * 28 - 100)), _idx((10,), bytes(10)), "t10k-images-idx3-ubyte",
     r"its IDX header announces shape \(10, 28, 28\), 7856 bytes, but it holds 7756 \(truncated\?\)"),
    (_idx((10, 28, 28), bytes(10 * 28 * 28)), _idx((9,), bytes(9)), "t10k-labels-idx1-ubyte",
     r"it holds 9 labels for 10 images"),
    (_idx((10, 28, 28), bytes(10 * 28 * 28)), _idx((10,), bytes([12] * 10)), "t10k-labels-idx1-ubyte",
     r"its labels range over 12..12, not 0..9"),
    (b"not an IDX file at all", _idx((10,), bytes(10)), "t10k-images-idx3-ubyte", r"not an unsigned-byte IDX file"),
])
def test_a_bad_idx_file_is_named(unlisted, images, labels, bad, match):
    folder = _write_mnist_test(Path(os.environ["AABIGAN_DATA"]), images, labels)
    with pytest.raises(CorruptDataError, match=match) as info:
        load_images("mnist", False)
    assert f"data file {folder / bad} is damaged" in str(info.value)


def test_a_bad_gzip_file_is_named(unlisted):
    folder = _write_mnist_test(Path(os.environ["AABIGAN_DATA"]), _idx((10, 28, 28), bytes(7840)), _idx((10,), bytes(10)),
                               gz=True)
    _truncate(folder / "t10k-images-idx3-ubyte.gz", 0.5)
    with pytest.raises(CorruptDataError, match=r"t10k-images-idx3-ubyte.gz is damaged: it cannot be read as "
                                               r"gzip-compressed IDX \(EOFError"):
        load_images("mnist", False)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"plain bytes, no gzip")
    with pytest.raises(CorruptDataError, match=r"gzip-compressed IDX \(BadGzipFile"):
        load_images("mnist", False)


def test_a_bad_cifar_batch_is_named(unlisted):
    import pickle

    folder = Path(os.environ["AABIGAN_DATA"]) / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(b"\x80\x02garbage")
    with pytest.raises(CorruptDataError, match=r"test_batch is damaged: it cannot be read as a CIFAR-10 python batch"):
        load_images("cifar10", False)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1, 2]}, fh)
    with pytest.raises(CorruptDataError, match=r"test_batch is damaged: it holds 3 labels for 4 images"):
        load_images("cifar10", False)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": np.zeros((4, 1000), np.uint8), "labels": [0, 1, 2, 3]}, fh)
    with pytest.raises(CorruptDataError, match=r"its data have shape \(4, 1000\), not \(n, 3072\)"):
        load_images("cifar10", False)


@pytest.mark.parametrize("contents, match", [
    # y shorter than X used to load, and the split dropped the rows without a label
    (dict(X=np.ones((10, 3)), y=np.zeros((9, 1))), r"its y holds 9 labels \(shape \(9, 1\)\) for the 10 rows of X"),
    (dict(X=np.ones((10, 3)), y=np.zeros((10, 2))), r"its y holds 20 labels"),
    (dict(X=np.ones((10, 3))), r"it holds no y \(its variables: X\)"),
    (dict(X=np.ones((10, 3)), y=np.full((10, 1), 2)), r"labels other than 0 \(inlier\) and 1 \(outlier\)"),
    (dict(X=np.r_[np.ones((9, 3)), [[np.nan, 1, 1]]], y=np.zeros((10, 1))), r"its X holds 1 NaN or infinite"),
    (dict(X=np.ones((10, 0)), y=np.zeros((10, 1))), r"its X has shape \(10, 0\)"),
])
def test_a_bad_odds_table_is_named(unlisted, contents, match):
    from scipy.io import savemat

    path = Path(os.environ["AABIGAN_DATA"]) / "odds" / "cardio.mat"
    path.parent.mkdir(parents=True)
    savemat(path, contents)
    with pytest.raises(CorruptDataError, match=match) as info:
        load_odds("cardio")
    assert f"data file {path} is damaged" in str(info.value)


def test_an_unreadable_mat_file_is_named(unlisted):
    path = Path(os.environ["AABIGAN_DATA"]) / "odds" / "cardio.mat"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"MATLAB 5.0 MAT-file, but nothing more")
    with pytest.raises(CorruptDataError, match=r"cardio.mat is damaged: it cannot be read as a MATLAB .mat file"):
        load_odds("cardio")
