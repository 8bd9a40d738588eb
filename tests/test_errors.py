"""Every kind of bad input the project names, each with its exception type and a fragment of its message.

One table, one test: a case is (what to do, the exception expected, a regular expression its message
must match).  Nothing bad may pass silently or turn into NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from aabigan import AABiGAN
from aabigan import data as D
from aabigan.errors import DataNotFoundError

N, F = 40, 4
RNG = np.random.default_rng(0)
X_OK = RNG.random((N, F)).astype(np.float32)
Y_OK = np.r_[np.zeros(N - 4, int), np.ones(4, int)]
TINY = dict(epochs=1, batch_size=16, width=8, random_state=0)


def with_value(value, where=(3, 1)):
    X = X_OK.copy()
    X[where] = value
    return X


@dataclass
class Ctx:
    fitted: AABiGAN
    monkeypatch: pytest.MonkeyPatch
    tmp_path: object


def fit(X=X_OK, y=Y_OK, **params):
    return lambda ctx: AABiGAN(**{**TINY, **params}).fit(X, y)


def offline(ctx):
    """Empty data folders and a failing download, so a data file is missing for sure."""
    empty = ctx.tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    ctx.monkeypatch.setenv("AABIGAN_DATA", str(empty))
    ctx.monkeypatch.setenv("AABIGAN_CACHE", str(ctx.tmp_path / "cache"))

    def fail(name):
        raise OSError("offline (test)")

    ctx.monkeypatch.setattr(D, "_torchvision_download", fail)
    ctx.monkeypatch.setattr(D, "_download_odds", fail)
    D.load_images.cache_clear()
    D.load_odds.cache_clear()
    return empty


def missing_mnist(ctx):
    empty = offline(ctx)
    try:
        D.load_images("mnist", train=True)
    except DataNotFoundError as exc:      # the message names the file and the folder looked in
        assert str(empty) in str(exc)
        raise


def missing_odds(ctx):
    empty = offline(ctx)
    try:
        D.make_split("cardio")
    except DataNotFoundError as exc:
        assert str(empty / "odds" / "cardio.mat") in str(exc)
        raise


CASES = [
    # ---- non-finite values
    pytest.param(fit(with_value(np.nan)), ValueError, r"X contains 1 non-finite value\(s\) \(NaN or inf\)", id="X-nan"),
    pytest.param(fit(with_value(np.inf)), ValueError, r"non-finite value", id="X-inf"),
    pytest.param(fit(with_value(-np.inf)), ValueError, r"non-finite value", id="X-minus-inf"),
    pytest.param(lambda ctx: ctx.fitted.decision_function(with_value(np.nan)[:5]), ValueError, r"non-finite",
                 id="decision-nan"),
    pytest.param(fit(y=np.r_[Y_OK[:-1], np.nan]), ValueError, r"y contains non-finite labels", id="y-nan"),
    # ---- wrong shapes
    pytest.param(fit(X_OK[:, 0], Y_OK), ValueError, r"X must be 2-D .* got shape \(40,\)", id="X-1d"),
    pytest.param(fit(X_OK.reshape(N, 2, 2), Y_OK), ValueError, r"must be 2-D .* got shape \(40, 2, 2\)", id="X-3d"),
    pytest.param(fit(np.zeros((N, 3, 28, 28), np.float32), Y_OK), ValueError, r"\(1 or 3, 32, 32\); got \(3, 28, 28\)",
                 id="X-image-28px"),
    pytest.param(lambda ctx: ctx.fitted.decision_function(np.zeros((5, F + 1), np.float32)), ValueError,
                 r"samples of shape \(5,\), but the model was fitted on samples of shape \(4,\)", id="decision-features"),
    pytest.param(lambda ctx: ctx.fitted.predict(np.zeros(F, np.float32)), ValueError, r"must be 2-D",
                 id="predict-1d"),
    pytest.param(fit(y=Y_OK.reshape(-1, 2)), ValueError, r"y must be 1-D", id="y-2d"),
    # ---- wrong dtypes
    pytest.param(fit(X_OK.astype(str)), TypeError, r"X must be numeric, got dtype <U", id="X-strings"),
    pytest.param(fit(X_OK.astype(object)), TypeError, r"X must be numeric, got dtype object", id="X-object"),
    pytest.param(fit([["a", 1.0]] * N), TypeError, r"must be numeric", id="X-mixed-list"),
    pytest.param(fit(X_OK.astype(np.complex64)), TypeError, r"X must be real-valued, got dtype complex64",
                 id="X-complex"),
    pytest.param(lambda ctx: ctx.fitted.decision_function(X_OK.astype(np.complex128)), TypeError, r"real-valued",
                 id="decision-complex"),
    # ---- labels other than 0 / 1, wrong length
    pytest.param(fit(y=np.r_[Y_OK[:-1], 2]), ValueError, r"only 0 \(unlabelled\) and 1 \(collected anomaly\).*2",
                 id="y-2"),
    pytest.param(fit(y=np.r_[Y_OK[:-1], -1]), ValueError, r"only 0 .*-1", id="y-minus-1"),
    pytest.param(fit(y=np.r_[Y_OK[:-1], 0.5]), ValueError, r"only 0 .*0\.5", id="y-half"),
    pytest.param(fit(y=np.array(["normal"] * N)), ValueError, r"only 0", id="y-strings"),
    pytest.param(fit(y=Y_OK[:-3]), ValueError, r"y has 37 labels for 40 samples", id="y-short"),
    pytest.param(fit(y=np.r_[Y_OK, 0]), ValueError, r"y has 41 labels for 40 samples", id="y-long"),
    # ---- too few samples
    pytest.param(fit(X_OK[:1], None), ValueError, r"X has 1 samples; at least 2 are needed", id="one-sample"),
    pytest.param(fit(X_OK[:0], None), ValueError, r"X has 0 samples", id="no-sample"),
    pytest.param(fit(y=np.ones(N, int)), ValueError, r"X has 0 unlabelled \(normal\) samples; at least 2", id="all-y-1"),
    pytest.param(fit(y=np.r_[0, np.ones(N - 1, int)]), ValueError, r"X has 1 unlabelled", id="one-normal"),
    # ---- data files and names
    pytest.param(missing_mnist, DataNotFoundError, r"mnist \(train split\) not found: looked for "
                 r"MNIST/raw/train-images-idx3-ubyte\.gz", id="missing-image-file"),
    pytest.param(missing_odds, DataNotFoundError, r"ODDS file cardio\.mat not found", id="missing-odds-file"),
    pytest.param(lambda ctx: D.make_split("imagenet"), ValueError, r"unknown dataset 'imagenet'; known: mnist",
                 id="unknown-dataset"),
    pytest.param(lambda ctx: D.load_odds("mnist"), ValueError, r"'mnist' is not an ODDS dataset", id="odds-of-images"),
    pytest.param(lambda ctx: D.load_images("cardio"), ValueError, r"'cardio' is not an image dataset",
                 id="images-of-odds"),
    pytest.param(lambda ctx: D.make_split("mnist", normal_class=10), ValueError,
                 r"unknown normal class 10 for mnist; classes are 0-9", id="normal-class-10"),
    pytest.param(lambda ctx: D.make_split("cardio", normal_class=1), ValueError,
                 r"unknown normal class 1 for cardio; ODDS tables have one normal class, 0", id="odds-normal-class"),
    pytest.param(lambda ctx: D.make_split("mnist", normal_class=3, known_classes=[3], max_train_normal=10),
                 ValueError, r"known \(collected\) anomaly class\(es\) \[3\] are not anomaly classes of mnist",
                 id="known-equals-normal"),
    pytest.param(lambda ctx: D.make_split("mnist", normal_class=3, known_classes=[12]), ValueError,
                 r"\[12\] are not anomaly classes", id="known-class-12"),
    pytest.param(lambda ctx: D.make_split("mnist", n_known_classes=10), ValueError,
                 r"n_known_classes must lie in \[0, 9\], got 10", id="n-known-10"),
    pytest.param(lambda ctx: D.make_split("mnist", n_known_classes=0, gamma_l=0.05), ValueError,
                 r"gamma_l > 0 needs at least one known anomaly class", id="gamma-l-without-classes"),
    # ---- unknown objective / score / epoch rule, bad parameters
    pytest.param(fit(objective="wgan"), ValueError, r"unknown objective 'wgan'; choose one of", id="objective"),
    pytest.param(fit(score="mahalanobis"), ValueError, r"unknown score 'mahalanobis'; choose one of", id="score"),
    pytest.param(fit(epoch_rule="first"), ValueError, r"unknown epoch_rule 'first'; choose one of", id="epoch-rule"),
    pytest.param(fit(family="resnet"), ValueError, r"unknown network family 'resnet'", id="family"),
    pytest.param(fit(contamination=0.9), ValueError, r"contamination must lie in \[0.0, 0.5\]", id="contamination"),
    pytest.param(fit(epochs=0), ValueError, r"epochs must be at least 1", id="epochs-0"),
    pytest.param(fit(lr_d=-1.0), ValueError, r"lr_d must be a positive number", id="lr-negative"),
    pytest.param(lambda ctx: D.make_split("cardio", ratio_of="test"), ValueError, r"ratio_of must be 'normal'",
                 id="ratio-of"),
    pytest.param(lambda ctx: D.make_split("cardio", seed=-1), ValueError, r"seed must be a non-negative integer",
                 id="seed-negative"),
    # ---- gamma_l out of range or asking for more anomalies than exist
    pytest.param(lambda ctx: D.make_split("mnist", gamma_l=-0.1), ValueError, r"gamma_l must lie in \[0.0, 1.0\]",
                 id="gamma-l-negative"),
    pytest.param(lambda ctx: D.make_split("mnist", gamma_l=1.5), ValueError, r"gamma_l must lie in", id="gamma-l-1.5"),
    pytest.param(lambda ctx: D.make_split("cardio", gamma_l=1.0), ValueError, r"gamma_l must lie in \[0.0, 1.0\)",
                 id="gamma-l-1-odds"),
    pytest.param(lambda ctx: D.make_split("cardio", gamma_l="lots"), TypeError, r"gamma_l must be a number",
                 id="gamma-l-string"),
    pytest.param(lambda ctx: D.make_split("cardio", gamma_p=float("nan")), ValueError, r"gamma_p must lie in",
                 id="gamma-p-nan"),
    pytest.param(lambda ctx: D.make_split("arrhythmia", gamma_l=0.9), ValueError,
                 r"gamma_l=0\.9 asks for 209 collected anomalies of class 1, but the training part holds only 40",
                 id="gamma-l-too-many"),
    pytest.param(lambda ctx: D.make_split("arrhythmia", gamma_l=0.05, gamma_p=0.5), ValueError,
                 r"gamma_p=0\.5 asks for 116 polluting anomalies, but only 28", id="gamma-p-too-many"),
    # ---- order of calls
    pytest.param(lambda ctx: AABiGAN().decision_function(X_OK), RuntimeError, r"not fitted yet; call fit",
                 id="decision-before-fit"),
    pytest.param(lambda ctx: AABiGAN().predict(X_OK), RuntimeError, r"not fitted yet", id="predict-before-fit"),
    pytest.param(lambda ctx: AABiGAN().score_samples_all(X_OK), RuntimeError, r"not fitted yet",
                 id="scores-before-fit"),
]


@pytest.fixture(scope="module")
def fitted_tiny():
    return AABiGAN(**TINY).fit(X_OK, Y_OK)


@pytest.fixture
def restore_data_caches():
    yield
    D.load_images.cache_clear()
    D.load_odds.cache_clear()


@pytest.mark.parametrize("action,exc,match", CASES)
def test_bad_input(action, exc, match, fitted_tiny, monkeypatch, tmp_path, restore_data_caches):
    with pytest.raises(exc, match=match):
        action(Ctx(fitted_tiny, monkeypatch, tmp_path))
