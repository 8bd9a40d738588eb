"""Datasets and the one semi-supervised split builder (paper Sec. 5.1, following Deep SAD).

Data are read from ``$AABIGAN_DATA`` (default ``~/.cache/aabigan/data``), which may be read-only: the image
files are parsed in place (gzip IDX for MNIST / Fashion-MNIST, pickles for CIFAR-10) and nothing is written
there.  When a file is missing, it is downloaded -- through torchvision for the images, with a SHA-256
check for the ODDS tables -- into ``$AABIGAN_CACHE`` (default ``~/.cache/aabigan``).  When that fails, a
:class:`~aabigan.errors.DataNotFoundError` names the file and every place it was looked for.

:func:`make_split` builds every split of every experiment from one explicit seed:

* training set: normal samples, ``gamma_l * n_normal`` collected anomalies (label 1) from ``k_l`` known
  anomaly classes, and ``gamma_p * n_normal`` polluting anomalies (label 0, unlabelled) from all anomaly
  classes, disjoint from the collected ones;
* images: the official test split, cut 20 % validation / 80 % test, stratified by class;
* ODDS: a stratified 60 % / 40 % train / test split of the file (the test part then cut 20 / 80 into
  validation / test); scaling (StandardScaler then MinMaxScaler) fitted on the training samples only.

No sample is in both the training and the evaluation sets.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DataNotFoundError
from .validation import check_fraction

__all__ = ["IMAGE_DATASETS", "ODDS_DATASETS", "DATASETS", "canonical_name", "data_root", "cache_dir",
           "load_images", "load_odds", "to_model_input", "Split", "make_split", "make_toy_2d", "odds_statistics",
           "CLASS_NAMES"]

IMAGE_DATASETS = ("mnist", "fmnist", "cifar10")
ODDS_DATASETS = ("arrhythmia", "cardio", "satellite", "satimage-2", "shuttle", "thyroid")
DATASETS = IMAGE_DATASETS + ODDS_DATASETS

_ALIASES = {"f-mnist": "fmnist", "fashion-mnist": "fmnist", "fashionmnist": "fmnist", "cifar-10": "cifar10",
            "satimage2": "satimage-2"}

#: names as the paper's tables print them
DISPLAY_NAMES = {"mnist": "MNIST", "fmnist": "F-MNIST", "cifar10": "CIFAR-10", "arrhythmia": "Arrhythmia",
                 "cardio": "Cardio", "satellite": "Satellite", "satimage-2": "Satimage-2", "shuttle": "Shuttle",
                 "thyroid": "Thyroid"}

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fmnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}

_IDX_FOLDERS = {"mnist": "MNIST", "fmnist": "FashionMNIST"}
_IDX_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

# ODDS files as distributed through PyOD's repository (Rayana, 2016), with their SHA-256.
_ODDS_URL = "https://raw.githubusercontent.com/yzhao062/pyod/{commit}/notebooks/data/{name}.mat"
_ODDS_FILES = {
    "arrhythmia": ("34f7996e", "e4d47e499591ae31e5d7f0cd983367092353eac240f48e14c9b36457edb3460d"),
    "cardio": ("34f7996e", "5e568b6a73711012c481fa6cc984ab9c68e9a4fa44d6aeb3b43efa381c3f695b"),
    "satellite": ("34f7996e", "6feac3112b9c14e1c3e60afc437f2f3d29dc1000119c9f950c628078778d6aa0"),
    "satimage-2": ("34f7996e", "95c37a07cea2cb201f6900d14f521510e10b6b2f0074c06ac46d3157440ec67b"),
    "shuttle": ("34f7996e", "b6e396c92354d5dcf5036901e36dc58e2913f2d1a5e138c35a2bedf9c69db899"),
    "thyroid": ("ef6d5e8d", "49155d7861b977e90808faf68343ff67a67f63090c2744d514dbb67ac68e7e33"),
}


def canonical_name(name: str) -> str:
    """'F-MNIST', 'fashion-mnist' -> 'fmnist'; raises ValueError for an unknown dataset."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return key


def data_root() -> Path:
    return Path(os.environ.get("AABIGAN_DATA", Path.home() / ".cache" / "aabigan" / "data")).expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("AABIGAN_CACHE", Path.home() / ".cache" / "aabigan")).expanduser()


# ------------------------------------------------------------------------------------------ images
def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x})")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(candidates: list[Path]) -> Path | None:
    return next((p for p in candidates if p.is_file()), None)


def _idx_candidates(root: Path, name: str, stem: str) -> list[Path]:
    folder = root / _IDX_FOLDERS[name] / "raw"
    return [folder / (stem + ".gz"), folder / stem]


def _torchvision_download(name: str) -> Path:
    """Download with torchvision into the cache; returns the root it used."""
    import torchvision.datasets as tvd

    root = cache_dir() / "torchvision"
    cls = {"mnist": tvd.MNIST, "fmnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    for train in (True, False):
        cls(root=str(root), train=train, download=True)
    return root


def _load_image_files(name: str, train: bool, root: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if name in _IDX_FOLDERS:
        paths = [_find(_idx_candidates(root, name, stem)) for stem in _IDX_FILES[train]]
        if None in paths:
            return None
        return _read_idx(paths[0]), _read_idx(paths[1]).astype(np.int64)
    folder = root / "cifar-10-batches-py"
    files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    if not all((folder / f).is_file() for f in files):
        return None
    xs, ys = [], []
    for f in files:
        with open(folder / f, "rb") as fh:
            d = pickle.load(fh, encoding="latin1")
        xs.append(np.asarray(d["data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(d["labels"], np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _expected_files(name: str, train: bool) -> list[str]:
    if name in _IDX_FOLDERS:
        return [f"{_IDX_FOLDERS[name]}/raw/{s}.gz" for s in _IDX_FILES[train]]
    return ["cifar-10-batches-py/" + ("data_batch_1..5" if train else "test_batch")]


@lru_cache(maxsize=8)
def load_images(name: str, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Raw uint8 images (N, 28, 28) or (N, 32, 32, 3) and int64 labels of the train or test split."""
    name = canonical_name(name)
    if name not in IMAGE_DATASETS:
        raise ValueError(f"{name!r} is not an image dataset; image datasets: {IMAGE_DATASETS}")
    roots = [data_root(), cache_dir() / "torchvision"]
    for root in roots:
        out = _load_image_files(name, train, root)
        if out is not None:
            return out
    try:
        out = _load_image_files(name, train, _torchvision_download(name))
    except Exception as exc:  # offline, or the download failed
        out, reason = None, f"{type(exc).__name__}: {exc}"
    else:
        reason = "the download left no readable files"
    if out is None:
        raise DataNotFoundError(
            f"{name} ({'train' if train else 'test'} split) not found: looked for "
            f"{', '.join(_expected_files(name, train))} under {', '.join(str(r) for r in roots)}; "
            f"downloading failed ({reason}). Set AABIGAN_DATA to the folder holding the data.")
    return out


def to_model_input(images: np.ndarray, channels: int = 3, size: int = 32) -> np.ndarray:
    """uint8 images -> float32 (N, channels, size, size) in [0, 1] (ToTensor + Resize, bilinear)."""
    x = torch.tensor(np.asarray(images)).float().div_(255.0)   # a copy: the raw arrays are read-only
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif channels == 1 and x.shape[1] == 3:
        x = x.mean(1, keepdim=True)
    elif channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    return x.clamp(0, 1).contiguous().numpy()


# -------------------------------------------------------------------------------------------- ODDS
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download_odds(name: str) -> Path:
    commit, digest = _ODDS_FILES[name]
    dest = cache_dir() / "odds" / f"{name}.mat"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    with urllib.request.urlopen(_ODDS_URL.format(commit=commit, name=name), timeout=30) as r, open(tmp, "wb") as fh:
        shutil.copyfileobj(r, fh)
    if _sha256(tmp) != digest:
        tmp.unlink()
        raise ValueError(f"the downloaded {name}.mat does not match its SHA-256 checksum")
    tmp.replace(dest)
    return dest


@lru_cache(maxsize=8)
def load_odds(name: str) -> tuple[np.ndarray, np.ndarray]:
    """X (float64, n x d) and y (int64, 1 = outlier) of an ODDS table."""
    from scipy.io import loadmat

    name = canonical_name(name)
    if name not in ODDS_DATASETS:
        raise ValueError(f"{name!r} is not an ODDS dataset; ODDS datasets: {ODDS_DATASETS}")
    candidates = [data_root() / "odds" / f"{name}.mat", cache_dir() / "odds" / f"{name}.mat"]
    path = _find(candidates)
    if path is None:
        try:
            path = _download_odds(name)
        except Exception as exc:
            raise DataNotFoundError(
                f"ODDS file {name}.mat not found: looked for {', '.join(str(c) for c in candidates)}; downloading "
                f"failed ({type(exc).__name__}: {exc}). Set AABIGAN_DATA to the folder holding odds/{name}.mat.") from None
    mat = loadmat(path)
    X = np.asarray(mat["X"], np.float64)
    y = np.asarray(mat["y"]).ravel().astype(np.int64)
    return X, y


def odds_statistics(name: str) -> dict:
    """Table 3's statistics, computed from the file."""
    X, y = load_odds(name)
    return {"dataset": DISPLAY_NAMES[canonical_name(name)], "n_samples": int(len(X)), "n_dims": int(X.shape[1]),
            "n_outliers": int(y.sum()), "outlier_pct": round(100 * float(y.mean()), 1)}


# ---------------------------------------------------------------------------------------- the split
@dataclass
class Split:
    """One semi-supervised split.

    ``y_train`` is 1 for a collected anomaly and 0 for an unlabelled sample (normal or polluting anomaly);
    ``train_kind`` tells them apart: 0 normal, 1 collected anomaly, 2 pollution.  ``y_val``/``y_test`` are
    1 for any anomaly; ``*_kind`` is 0 normal, 1 anomaly of a collected (seen) class, 2 novel anomaly.
    ``*_source`` are row indices into the source arrays (the train/test split of an image dataset, the
    whole file for ODDS), for checking disjointness.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    train_kind: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    val_kind: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_kind: np.ndarray
    train_source: np.ndarray
    val_source: np.ndarray
    test_source: np.ndarray
    info: dict = field(default_factory=dict)


def _n_from_ratio(gamma: float, n_normal: int, ratio_of: str) -> int:
    if ratio_of == "normal":           # the paper's text: anomalies / normal samples
        return int(round(gamma * n_normal))
    if ratio_of == "train":            # Deep SAD's and the authors' code: share of the training set
        return int(round(n_normal * gamma / (1 - gamma))) if gamma < 1 else n_normal
    raise ValueError(f"ratio_of must be 'normal' (the paper's definition) or 'train' (Deep SAD's); got {ratio_of!r}")


def _even_counts(total: int, k: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.full(k, total // k)
    counts[rng.choice(k, total % k, replace=False)] += 1
    return counts


def _stratified_cut(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split positions 0..n-1 into (first, rest) with ``fraction`` of every label in ``first``."""
    first, rest = [], []
    for lab in np.unique(labels):
        pos = rng.permutation(np.flatnonzero(labels == lab))
        k = int(round(fraction * len(pos)))
        first.append(pos[:k])
        rest.append(pos[k:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(rest))


def _subsample_stratified(idx: np.ndarray, labels: np.ndarray, n_max: int | None, rng) -> np.ndarray:
    if n_max is None or len(idx) <= n_max:
        return idx
    keep, _ = _stratified_cut(labels[idx], n_max / len(idx), rng)
    return idx[keep]


def make_split(dataset: str, normal_class: int = 0, known_classes=None, n_known_classes: int = 1,
               gamma_l: float = 0.05, gamma_p: float = 0.0, seed: int = 0, val_fraction: float = 0.2,
               ratio_of: str = "normal", max_train_normal: int | None = None, max_eval: int | None = None,
               channels: int = 3) -> Split:
    """Build one semi-supervised split (see the module docstring) from an explicit seed.

    ``known_classes``: the collected-anomaly classes (k_l = its length); when None, ``n_known_classes`` of
    them are drawn from the anomaly classes with the seed.  ``max_train_normal`` and ``max_eval`` subsample
    the normal training samples and the evaluation set (stratified) for the reduced CPU profiles.
    """
    name = canonical_name(dataset)
    gamma_l = check_fraction(gamma_l, "gamma_l", 0.0, 1.0, inclusive_high=name in IMAGE_DATASETS)
    gamma_p = check_fraction(gamma_p, "gamma_p", 0.0, 1.0, inclusive_high=name in IMAGE_DATASETS)
    val_fraction = check_fraction(val_fraction, "val_fraction", 0.0, 0.9)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))

    if name in IMAGE_DATASETS:
        Xs, ys = load_images(name, True)
        Xt, yt = load_images(name, False)
        classes = np.arange(10)
        src_train_labels, src_eval_labels = ys, yt
        train_part, eval_part = np.arange(len(ys)), np.arange(len(yt))
    else:
        Xall, yall = load_odds(name)
        classes = np.array([0, 1])
        # 60 / 40 stratified train / test of the one file
        train_part, eval_part = _stratified_cut(yall, 0.6, rng)
        src_train_labels, src_eval_labels = yall[train_part], yall[eval_part]

    if int(normal_class) not in classes or (name in ODDS_DATASETS and int(normal_class) != 0):
        raise ValueError(f"unknown normal class {normal_class!r} for {name}; "
                         + ("ODDS tables have one normal class, 0" if name in ODDS_DATASETS else "classes are 0-9"))
    anomaly_classes = np.array([c for c in classes if c != normal_class])
    if known_classes is None:
        k = int(n_known_classes)
        if not 0 <= k <= len(anomaly_classes):
            raise ValueError(f"n_known_classes must lie in [0, {len(anomaly_classes)}], got {k}")
        known = np.sort(rng.choice(anomaly_classes, k, replace=False)) if k else np.array([], int)
    else:
        known = np.array(sorted(int(c) for c in np.atleast_1d(known_classes)), int)
        bad = [int(c) for c in known if c not in anomaly_classes]
        if bad:
            raise ValueError(f"known (collected) anomaly class(es) {bad} are not anomaly classes of {name} "
                             f"with normal class {normal_class}; choose from {anomaly_classes.tolist()}")
    if gamma_l > 0 and len(known) == 0:
        raise ValueError("gamma_l > 0 needs at least one known anomaly class")

    # ---- training set
    normal_idx = rng.permutation(np.flatnonzero(src_train_labels == normal_class))
    if max_train_normal is not None:
        normal_idx = normal_idx[:int(max_train_normal)]
    n_normal = len(normal_idx)
    n_l = _n_from_ratio(gamma_l, n_normal, ratio_of)
    n_p = _n_from_ratio(gamma_p, n_normal, ratio_of)
    collected = []
    for cls, cnt in zip(known, _even_counts(n_l, len(known), rng) if len(known) else []):
        pool = np.flatnonzero(src_train_labels == cls)
        if cnt > len(pool):
            raise ValueError(f"gamma_l={gamma_l} asks for {cnt} collected anomalies of class {cls}, but the "
                             f"training part holds only {len(pool)}")
        collected.append(rng.choice(pool, cnt, replace=False))
    collected = np.concatenate(collected) if collected else np.array([], int)
    pool = np.setdiff1d(np.flatnonzero(np.isin(src_train_labels, anomaly_classes)), collected)
    if n_p > len(pool):
        raise ValueError(f"gamma_p={gamma_p} asks for {n_p} polluting anomalies, but only {len(pool)} training "
                         "anomalies are left after the collected ones")
    polluted = rng.choice(pool, n_p, replace=False) if n_p else np.array([], int)
    train_pos = np.concatenate([normal_idx, collected, polluted]).astype(int)
    train_kind = np.concatenate([np.zeros(n_normal, int), np.ones(len(collected), int), np.full(n_p, 2)])

    # ---- validation / test
    eval_idx = _subsample_stratified(np.arange(len(src_eval_labels)), src_eval_labels, max_eval, rng)
    v, t = _stratified_cut(src_eval_labels[eval_idx], val_fraction, rng)
    val_pos, test_pos = eval_idx[v], eval_idx[t]

    def kinds(labels):
        return np.where(labels == normal_class, 0, np.where(np.isin(labels, known), 1, 2))

    train_source, val_source, test_source = train_part[train_pos], eval_part[val_pos], eval_part[test_pos]
    if name in IMAGE_DATASETS:
        X_train = to_model_input(Xs[train_source], channels)
        X_val, X_test = to_model_input(Xt[val_source], channels), to_model_input(Xt[test_source], channels)
    else:
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        X_train = Xall[train_source]
        std = StandardScaler().fit(X_train)
        mm = MinMaxScaler().fit(std.transform(X_train))

        def scale(A):
            return mm.transform(std.transform(A)).astype(np.float32)

        X_train, X_val, X_test = scale(X_train), scale(Xall[val_source]), scale(Xall[test_source])
    info = {"dataset": name, "normal_class": int(normal_class), "known_classes": known.tolist(),
            "n_normal": int(n_normal), "n_collected": int(len(collected)), "n_polluted": int(n_p),
            "gamma_l": gamma_l, "gamma_p": gamma_p, "ratio_of": ratio_of, "seed": int(seed)}
    return Split(X_train, (train_kind == 1).astype(np.int64), train_kind,
                 X_val, (src_eval_labels[val_pos] != normal_class).astype(np.int64), kinds(src_eval_labels[val_pos]),
                 X_test, (src_eval_labels[test_pos] != normal_class).astype(np.int64), kinds(src_eval_labels[test_pos]),
                 train_source, val_source, test_source, info)


# ------------------------------------------------------------------------------------------ 2-D toy
TOY_CENTRES = {"normal": ((-1.0, 0.0), (1.0, 0.0)), "seen": ((0.0, 2.2),),
               "novel": ((0.0, -2.2), (3.2, 1.6), (-3.2, -1.6))}


def make_toy_2d(n_normal: int = 1000, gamma_l: float = 0.02, n_eval_per_kind: int = 200, seed: int = 0,
                val_fraction: float = 0.2) -> Split:
    """A 2-D problem for Fig. 1: normal data in two blobs, one collected anomaly type above them, and three
    anomaly types never seen in training (below and to the sides).  Same :class:`Split` layout as
    :func:`make_split`."""
    check_fraction(gamma_l, "gamma_l")
    if n_normal < 2:
        raise ValueError(f"n_normal must be at least 2, got {n_normal}")
    rng = np.random.default_rng(int(seed))

    def draw(kind: str, n: int) -> np.ndarray:
        centres = np.asarray(TOY_CENTRES[kind])
        which = rng.integers(len(centres), size=n)
        scale = 0.45 if kind == "normal" else 0.3
        return (centres[which] + rng.normal(0, scale, (n, 2))).astype(np.float32)

    n_l = int(round(gamma_l * n_normal))
    X_train = np.concatenate([draw("normal", n_normal), draw("seen", n_l)])
    train_kind = np.r_[np.zeros(n_normal, int), np.ones(n_l, int)]
    X_eval = np.concatenate([draw("normal", n_eval_per_kind), draw("seen", n_eval_per_kind),
                             draw("novel", n_eval_per_kind)])
    eval_kind = np.repeat([0, 1, 2], n_eval_per_kind)
    v, t = _stratified_cut(eval_kind, val_fraction, rng)
    n_tr = len(X_train)
    return Split(X_train, (train_kind == 1).astype(np.int64), train_kind,
                 X_eval[v], (eval_kind[v] > 0).astype(np.int64), eval_kind[v],
                 X_eval[t], (eval_kind[t] > 0).astype(np.int64), eval_kind[t],
                 np.arange(n_tr), n_tr + v, n_tr + t,
                 {"dataset": "toy2d", "n_normal": n_normal, "n_collected": n_l, "gamma_l": gamma_l, "seed": seed})
