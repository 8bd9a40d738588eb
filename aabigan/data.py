"""Datasets and the one semi-supervised split builder (paper Sec. 5.1, following Deep SAD).

Data are read from ``$AABIGAN_DATA`` (default ``~/.cache/aabigan/data``), which may be read-only: the image
files are parsed in place (gzip IDX for MNIST / Fashion-MNIST, pickles for CIFAR-10) and nothing is written
there.  When a file is missing, it is downloaded -- through torchvision for the images, with a SHA-256
check for the ODDS tables -- into ``$AABIGAN_CACHE`` (default ``~/.cache/aabigan``).  When that fails, a
:class:`~aabigan.errors.DataNotFoundError` names the file and every place it was looked for.

Every file is checked against the SHA-256 the package ships (:mod:`aabigan._checksums`) the first time it
is read (:func:`verify_file`); the verdict is kept, keyed on the file's path, size and modification time,
for the process and in ``$AABIGAN_CACHE/verified-sha256.json``, so a file is hashed once, not at every
start.  A damaged file -- a checksum that does not match, a truncated or unreadable file, a table whose
labels do not match its rows -- raises :class:`~aabigan.errors.CorruptDataError`, which names the file
and says what to do.

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
import json
import numbers
import os
import pickle
import shutil
import urllib.request
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._checksums import SHA256
from .errors import CorruptDataError, DataNotFoundError
from .paths import cache_dir, data_root
from .validation import check_fraction, check_integer

__all__ = ["IMAGE_DATASETS", "ODDS_DATASETS", "DATASETS", "canonical_name", "data_root", "cache_dir",
           "load_images", "load_odds", "verify_file", "to_model_input", "Split", "make_split", "make_toy_2d",
           "odds_statistics", "CLASS_NAMES"]

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

# ODDS files as distributed through PyOD's repository (Rayana, 2016), at these commits; their SHA-256 are
# in aabigan._checksums under "odds/<name>.mat".
_ODDS_URL = "https://raw.githubusercontent.com/yzhao062/pyod/{commit}/notebooks/data/{name}.mat"
_ODDS_FILES = {"arrhythmia": "34f7996e", "cardio": "34f7996e", "satellite": "34f7996e", "satimage-2": "34f7996e",
               "shuttle": "34f7996e", "thyroid": "ef6d5e8d"}


def canonical_name(name: str) -> str:
    """'F-MNIST', 'fashion-mnist' -> 'fmnist'; raises ValueError for an unknown dataset."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return key


# --------------------------------------------------------------------------------------- integrity
_REPLACE = ("Replace it with a good copy: delete it (the package downloads it again when it is missing and "
            "you are online) or copy it afresh from the original distribution.")
_VERDICTS = "verified-sha256.json"
_VERIFIED: dict[str, tuple[int, int, str]] = {}   # resolved path -> (size, mtime_ns, sha256) found good


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_verdicts() -> dict:
    try:
        with open(cache_dir() / _VERDICTS) as fh:
            verdicts = json.load(fh)
    except (OSError, ValueError):
        return {}
    return verdicts if isinstance(verdicts, dict) else {}


def _record_verdict(path: Path, digest: str) -> None:
    """Remember that ``path`` (as it is now: size, mtime) has ``digest``, in this process and on disk."""
    st = path.stat()
    key = str(path.resolve())
    _VERIFIED[key] = (st.st_size, st.st_mtime_ns, digest)
    target = cache_dir() / _VERDICTS
    try:
        verdicts = _read_verdicts()
        verdicts[key] = [st.st_size, st.st_mtime_ns, digest]
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            json.dump(verdicts, fh, indent=0, sort_keys=True)
        os.replace(tmp, target)
    except OSError:   # a read-only cache: the verdict holds for this process only
        pass


def verify_file(path: Path, relative: str) -> None:
    """Check a data file against the SHA-256 the package ships for ``relative`` (its path under a data
    root, e.g. ``"odds/cardio.mat"``); a name without a shipped checksum is not checked.

    Hashes a file once: a good verdict is kept, keyed on the file's resolved path, size and modification
    time, in the process and in ``$AABIGAN_CACHE/verified-sha256.json`` (a file changed in place keeps
    neither its size and its mtime, so it is hashed again).  Raises :class:`CorruptDataError` naming the
    file when the checksum does not match."""
    expected = SHA256.get(relative)
    if expected is None:
        return
    path = Path(path)
    st = path.stat()
    key = str(path.resolve())
    now = (st.st_size, st.st_mtime_ns, expected)
    if _VERIFIED.get(key) == now:
        return
    if tuple(_read_verdicts().get(key, ())) == now:
        _VERIFIED[key] = now
        return
    digest = _sha256(path)
    if digest != expected:
        raise CorruptDataError(
            f"data file {path} is damaged (truncated, corrupt or not the original {relative}): its SHA-256 "
            f"is {digest}, the original's {expected} ({st.st_size} bytes here). {_REPLACE}")
    _record_verdict(path, digest)


def _corrupt(path: Path, what: str, exc: BaseException | None = None) -> CorruptDataError:
    reason = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return CorruptDataError(f"data file {path} is damaged: {what}{reason}. {_REPLACE}")


# ------------------------------------------------------------------------------------------ images
def _read_idx(path: Path) -> np.ndarray:
    gz = path.suffix == ".gz"
    try:
        with (gzip.open if gz else open)(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:     # gzip.BadGzipFile is an OSError
        raise _corrupt(path, f"it cannot be read as {'gzip-compressed ' if gz else ''}IDX", exc) from None
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if len(raw) < 4 or magic >> 8 != 0x08 or ndim not in (1, 3):
        raise _corrupt(path, f"it is not an unsigned-byte IDX file of labels or images (magic {magic:#x})")
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) != header + int(np.prod(dims)):
        raise _corrupt(path, f"its IDX header announces shape {tuple(dims)}, {header + int(np.prod(dims))} bytes, "
                             f"but it holds {len(raw)} (truncated?)")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


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


def _checked_labels(labels: np.ndarray, n_images: int, path: Path) -> np.ndarray:
    if labels.ndim != 1 or len(labels) != n_images:
        raise _corrupt(path, f"it holds {labels.size} labels for {n_images} images")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise _corrupt(path, f"its labels range over {int(labels.min())}..{int(labels.max())}, not 0..9")
    return labels


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            d = pickle.load(fh, encoding="latin1")
        data = np.asarray(d["data"], np.uint8)
        labels = np.asarray(d["labels"], np.int64)
    except Exception as exc:          # a damaged pickle can fail in many ways
        raise _corrupt(path, "it cannot be read as a CIFAR-10 python batch", exc) from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise _corrupt(path, f"its data have shape {data.shape}, not (n, 3072)")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), _checked_labels(labels, len(data), path)


def _load_image_files(name: str, train: bool, root: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if name in _IDX_FOLDERS:
        paths = [_find(_idx_candidates(root, name, stem)) for stem in _IDX_FILES[train]]
        if None in paths:
            return None
        for p in paths:
            verify_file(p, p.relative_to(root).as_posix())
        images = _read_idx(paths[0])
        labels = _read_idx(paths[1]).astype(np.int64)
        if images.ndim != 3 or labels.ndim != 1:
            raise _corrupt(paths[0] if images.ndim != 3 else paths[1], "it holds images where labels belong, or "
                           "labels where images belong")
        return images, _checked_labels(labels, len(images), paths[1])
    folder = root / "cifar-10-batches-py"
    files = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    if not all((folder / f).is_file() for f in files):
        return None
    xs, ys = [], []
    for f in files:
        verify_file(folder / f, f"cifar-10-batches-py/{f}")
        x, y = _read_cifar_batch(folder / f)
        xs.append(x)
        ys.append(y)
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
def _download_odds(name: str) -> Path:
    commit, digest = _ODDS_FILES[name], SHA256[f"odds/{name}.mat"]
    dest = cache_dir() / "odds" / f"{name}.mat"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    with urllib.request.urlopen(_ODDS_URL.format(commit=commit, name=name), timeout=30) as r, open(tmp, "wb") as fh:
        shutil.copyfileobj(r, fh)
    if _sha256(tmp) != digest:
        tmp.unlink()
        raise CorruptDataError(f"the downloaded {name}.mat does not match its SHA-256 checksum")
    tmp.replace(dest)
    _record_verdict(dest, digest)
    return dest


def _read_odds(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X and y of an ODDS .mat file, checked: y has one 0/1 label for each row of X, X is finite."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as exc:          # scipy raises ValueError, TypeError, MatReadError, OSError, ...
        raise _corrupt(path, "it cannot be read as a MATLAB .mat file", exc) from None
    missing = [k for k in ("X", "y") if k not in mat]
    if missing:
        raise _corrupt(path, f"it holds no {' and no '.join(missing)} (its variables: "
                             f"{', '.join(k for k in mat if not k.startswith('__')) or 'none'})")
    try:
        X = np.asarray(mat["X"], np.float64)
        y = np.asarray(mat["y"])
    except (TypeError, ValueError) as exc:
        raise _corrupt(path, "its X is not a numeric array", exc) from None
    if X.ndim != 2 or 0 in X.shape:
        raise _corrupt(path, f"its X has shape {X.shape}, not (n_samples, n_features)")
    if y.size != len(X) or (y.ndim > 1 and sorted(y.shape)[:-1] != [1] * (y.ndim - 1)):
        raise _corrupt(path, f"its y holds {y.size} labels (shape {y.shape}) for the {len(X)} rows of X")
    y = y.ravel()
    if y.dtype.kind not in "biuf" or not set(np.unique(y).tolist()) <= {0, 1}:
        raise _corrupt(path, "its y holds labels other than 0 (inlier) and 1 (outlier)")
    if not np.all(np.isfinite(X)):
        raise _corrupt(path, f"its X holds {int(np.sum(~np.isfinite(X)))} NaN or infinite values")
    return X, y.astype(np.int64)


@lru_cache(maxsize=8)
def load_odds(name: str) -> tuple[np.ndarray, np.ndarray]:
    """X (float64, n x d) and y (int64, 1 = outlier) of an ODDS table."""
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
    verify_file(path, f"odds/{name}.mat")
    return _read_odds(path)


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


def _deepsad_reused_rng_cut(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training positions, evaluation positions) as the Deep SAD code's ODDS loader makes them: its dataset
    is built twice (train, then test) with one ``RandomState``, each time cutting the normal and then the
    anomalous records 60/40 with scikit-learn's ``train_test_split``; the training set takes the 60 % parts of
    the first build, the evaluation set the 40 % parts of the second."""
    from sklearn.model_selection import train_test_split

    rs = np.random.RandomState(seed)
    parts = []
    for _ in ("train", "test"):
        cut = [train_test_split(np.flatnonzero(labels == lab), test_size=0.4, random_state=rs) for lab in (0, 1)]
        parts.append(cut)
    train = np.concatenate([parts[0][0][0], parts[0][1][0]])
    evaluation = np.concatenate([parts[1][0][1], parts[1][1][1]])
    return np.sort(train), np.sort(evaluation)


def _subsample_stratified(idx: np.ndarray, labels: np.ndarray, n_max: int | None, rng) -> np.ndarray:
    if n_max is None or len(idx) <= n_max:
        return idx
    keep, _ = _stratified_cut(labels[idx], n_max / len(idx), rng)
    return idx[keep]


def make_split(dataset: str, normal_class: int = 0, known_classes=None, n_known_classes: int = 1,
               gamma_l: float = 0.05, gamma_p: float = 0.0, seed: int = 0, val_fraction: float = 0.2,
               ratio_of: str = "normal", max_train_normal: int | None = None, max_eval: int | None = None,
               channels: int = 3, odds_split: str = "stratified") -> Split:
    """Build one semi-supervised split (see the module docstring) from an explicit seed.

    ``known_classes``: the collected-anomaly classes (k_l = its length); when None, ``n_known_classes`` of
    them are drawn from the anomaly classes with the seed.  ``max_train_normal`` and ``max_eval`` subsample
    the normal training samples and the evaluation set (stratified) for the reduced CPU profiles.

    ``odds_split`` (ODDS tables only): ``"stratified"``, the default, cuts the table once into 60 % training
    and 40 % evaluation records, stratified by label.  ``"deepsad-reused-rng"`` is a *diagnostic* that cuts
    it as the Deep SAD code's ODDS loader runs: one ``RandomState`` of the seed serves the training set's
    60/40 cut of the normal and of the anomalous records, and then, advanced, a second such cut whose 40 %
    part becomes the evaluation set -- so evaluation records are also training records
    (``info["n_eval_in_train"]`` counts them).  It answers whether that leak explains the published numbers;
    never use it to report a method.
    """
    name = canonical_name(dataset)
    gamma_l = check_fraction(gamma_l, "gamma_l", 0.0, 1.0, inclusive_high=name in IMAGE_DATASETS)
    gamma_p = check_fraction(gamma_p, "gamma_p", 0.0, 1.0, inclusive_high=name in IMAGE_DATASETS)
    val_fraction = check_fraction(val_fraction, "val_fraction", 0.0, 0.9)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    # class labels are integers: 0.5 or '3' would match no sample (zero normals, every evaluation sample
    # an anomaly) instead of failing
    classes_are = "0-9" if name in IMAGE_DATASETS else "0 (normal) and 1 (anomaly)"
    normal_class = check_integer(normal_class, "normal_class", what=f"an integer class label ({classes_are})")
    if known_classes is None:
        n_known_classes = check_integer(n_known_classes, "n_known_classes", 0, what="a non-negative integer")
    else:
        given = list(np.atleast_1d(np.asarray(known_classes, dtype=object)))
        known_classes = [check_integer(c, "known_classes", what=f"a list of integer class labels ({classes_are})")
                         for c in given]
        twice = sorted({c for c in known_classes if known_classes.count(c) > 1})
        if twice:
            raise ValueError(f"known_classes lists class(es) {twice} more than once ({known_classes}); give each "
                             "collected class once")
    for arg, value in (("max_train_normal", max_train_normal), ("max_eval", max_eval)):
        if value is not None:
            check_integer(value, arg, 1, what="None or a positive integer")
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
        if odds_split == "stratified":
            train_part, eval_part = _stratified_cut(yall, 0.6, rng)
        elif odds_split == "deepsad-reused-rng":
            train_part, eval_part = _deepsad_reused_rng_cut(yall, int(seed))
        else:
            raise ValueError(f"odds_split must be 'stratified' or 'deepsad-reused-rng', got {odds_split!r}")
        src_train_labels, src_eval_labels = yall[train_part], yall[eval_part]

    if name in IMAGE_DATASETS and odds_split != "stratified":
        raise ValueError(f"odds_split={odds_split!r} applies to the ODDS tables only; {name} has its own test split")
    if int(normal_class) not in classes or (name in ODDS_DATASETS and int(normal_class) != 0):
        raise ValueError(f"unknown normal class {normal_class!r} for {name}; "
                         + ("ODDS tables have one normal class, 0" if name in ODDS_DATASETS else "classes are 0-9"))
    anomaly_classes = np.array([c for c in classes if c != normal_class])
    if known_classes is None:
        k = n_known_classes
        if not 0 <= k <= len(anomaly_classes):
            raise ValueError(f"n_known_classes must lie in [0, {len(anomaly_classes)}], got {k}")
        known = np.sort(rng.choice(anomaly_classes, k, replace=False)) if k else np.array([], int)
    else:
        known = np.array(sorted(known_classes), int)
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
    if n_normal == 0:
        raise ValueError(f"the training part of {name} holds no sample of the normal class {normal_class}")
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
            "gamma_l": gamma_l, "gamma_p": gamma_p, "ratio_of": ratio_of, "seed": int(seed),
            # evaluation records that are also training records (0 but under the diagnostic odds_split)
            "n_eval_in_train": 0 if name in IMAGE_DATASETS else
            int(np.isin(np.r_[val_source, test_source], train_source).sum())}
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
