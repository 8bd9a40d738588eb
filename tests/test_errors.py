"""Every kind of bad input the project names, each with its exception type and a fragment of its message.

One table, one test: a case is (what to do, the exception expected, a regular expression its message
must match).  Nothing bad may pass silently or turn into NaN.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from aabigan import AABiGAN
from aabigan import data as D
from aabigan.__main__ import main
from aabigan.errors import DataNotFoundError

N, F = 40, 4
RNG = np.random.default_rng(0)
X_OK = RNG.random((N, F)).astype(np.float32)
Y_OK = np.r_[np.zeros(N - 4, int), np.ones(4, int)]
TINY = dict(epochs=1, batch_size=16, width=8, random_state=0)


def with_value(value, where=(3, 1), dtype=np.float32):
    X = X_OK.astype(dtype)
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
    # ---- finite in float64 but beyond float32, the models' precision (it used to read "NaN or inf")
    pytest.param(fit(with_value(1e39, dtype=np.float64)), ValueError,
                 r"X contains 1 value\(s\) beyond float32's range \(\|x\| > 3.4e\+38; the largest is 1e\+39\), "
                 r"which overflow float32", id="X-1e39"),
    pytest.param(fit(with_value(-1e300, dtype=np.float64)), ValueError, r"beyond float32's range", id="X-minus-1e300"),
    pytest.param(lambda ctx: ctx.fitted.decision_function(with_value(1e39, dtype=np.float64)[:5]), ValueError,
                 r"overflow float32", id="decision-1e39"),
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
    # ---- samples without features (they used to fit, and score every sample 0)
    pytest.param(fit(X_OK[:, :0]), ValueError, r"X has samples of shape \(0,\), with no feature: .*0 feature",
                 id="X-zero-features"),
    pytest.param(fit(np.zeros((N, 0, 32, 32), np.float32)), ValueError, r"X has samples of shape \(0, 32, 32\), "
                 r"with no feature", id="X-zero-channels"),
    pytest.param(lambda ctx: ctx.fitted.decision_function(X_OK[:5, :0]), ValueError, r"with no feature",
                 id="decision-zero-features"),
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
    # class labels that match no sample: zero normals, every evaluation sample labelled anomalous
    pytest.param(lambda ctx: D.make_split("mnist", normal_class=0.5), TypeError,
                 r"normal_class must be an integer class label \(0-9\), got 0\.5", id="normal-class-0.5"),
    pytest.param(lambda ctx: D.make_split("mnist", normal_class="3"), TypeError,
                 r"normal_class must be an integer class label \(0-9\), got '3'", id="normal-class-str"),
    pytest.param(lambda ctx: D.make_split("cardio", normal_class=0.0), TypeError,
                 r"normal_class must be an integer class label \(0 \(normal\) and 1 \(anomaly\)\), got 0\.0",
                 id="odds-normal-class-float"),
    pytest.param(lambda ctx: D.make_split("mnist", normal_class=True), TypeError, r"normal_class must be an integer",
                 id="normal-class-bool"),
    pytest.param(lambda ctx: D.make_split("mnist", known_classes=["3"]), TypeError,
                 r"known_classes must be a list of integer class labels \(0-9\), got '3'", id="known-class-str"),
    pytest.param(lambda ctx: D.make_split("mnist", known_classes=[1.5]), TypeError, r"known_classes must be",
                 id="known-class-1.5"),
    pytest.param(lambda ctx: D.make_split("mnist", n_known_classes=1.5), TypeError,
                 r"n_known_classes must be a non-negative integer, got 1\.5", id="n-known-1.5"),
    # a repeated class drew its collected anomalies twice, past the availability check
    pytest.param(lambda ctx: D.make_split("mnist", normal_class=0, known_classes=[1, 1], max_train_normal=10),
                 ValueError, r"known_classes lists class\(es\) \[1\] more than once \(\[1, 1\]\)",
                 id="known-classes-repeated"),
    pytest.param(lambda ctx: D.make_split("cardio", known_classes=[1, 1]), ValueError, r"more than once",
                 id="odds-known-classes-repeated"),
    pytest.param(lambda ctx: D.make_split("mnist", max_train_normal=0), ValueError,
                 r"max_train_normal must be None or a positive integer, got 0", id="max-train-normal-0"),
    pytest.param(lambda ctx: D.make_split("mnist", max_eval=2.5), TypeError, r"max_eval must be None or a positive",
                 id="max-eval-float"),
    pytest.param(lambda ctx: D.make_split("mnist", n_known_classes=10), ValueError,
                 r"n_known_classes must lie in \[0, 9\], got 10", id="n-known-10"),
    pytest.param(lambda ctx: D.make_split("mnist", n_known_classes=0, gamma_l=0.05), ValueError,
                 r"gamma_l > 0 needs at least one known anomaly class", id="gamma-l-without-classes"),
    # ---- unknown objective / score / epoch rule, bad parameters
    pytest.param(fit(objective="wgan"), ValueError, r"unknown objective 'wgan'; choose one of", id="objective"),
    pytest.param(fit(score="mahalanobis"), ValueError, r"unknown score 'mahalanobis'; choose one of", id="score"),
    pytest.param(fit(epoch_rule="first"), ValueError, r"unknown epoch_rule 'first'; choose one of", id="epoch-rule"),
    pytest.param(fit(family="resnet"), ValueError, r"unknown (network )?family 'resnet'", id="family"),
    pytest.param(fit(contamination=0.9), ValueError, r"contamination must lie in \[0.0, 0.5\]", id="contamination"),
    pytest.param(fit(epochs=0), ValueError, r"epochs must be .*at least 1", id="epochs-0"),
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
    pytest.param(lambda ctx: D.make_split("cardio", gamma_l="0.05"), TypeError, r"gamma_l must be a number, got '0.05'",
                 id="gamma-l-numeric-string"),
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


# ------------------------------------------------------------------------------------------ command line
CLI_CASES = [
    # an empty (descending) range used to run nothing, with exit status 0
    pytest.param(["run", "--grid", "table2", "--seeds", "3-1"], r"argument --seeds: the range '3-1' is empty: it runs "
                 r"downwards; write it low-high, e\.g\. 1-3", id="seeds-descending"),
    pytest.param(["run", "--grid", "table2", "--seeds", "1,1"], r"'1,1' lists 1 more than once", id="seeds-repeated"),
    pytest.param(["run", "--grid", "table2", "--seeds", "x"], r"argument --seeds: 'x': 'x' is not a non-negative integer",
                 id="seeds-not-int"),
    pytest.param(["run", "--grid", "table2", "--seeds", "1-2-3"], r"'1-2-3' is not a range", id="seeds-bad-range"),
    # a pair whose collected class is the normal class was silently remapped
    pytest.param(["run", "--grid", "table1", "--pairs", "0:0"], r"argument --pairs: pair '0:0': the collected anomaly "
                 r"class must differ from the normal class", id="pairs-equal"),
    pytest.param(["run", "--grid", "table1", "--pairs", "0:12"], r"pair '0:12': image classes are 0-9",
                 id="pairs-out-of-range"),
    pytest.param(["run", "--grid", "table1", "--pairs", "0-1"], r"'0-1' is not a pair normal:collected",
                 id="pairs-malformed"),
    pytest.param(["run", "--grid", "table1", "--pairs", "0:1,0:1"], r"lists the pair '0:1' more than once",
                 id="pairs-repeated"),
    pytest.param(["run", "--grid", "table2", "--stack", "0"], r"argument --stack: must be at least 1", id="stack-0"),
    pytest.param(["run", "--grid", "table2", "--workers", "-1"], r"argument --workers: .*-1 is negative", id="workers-neg"),
    pytest.param(["fid", "--classes", "10"], r"argument --classes: class\(es\) \[10\] do not exist", id="fid-classes"),
]


@pytest.mark.parametrize("argv, match", CLI_CASES)
def test_bad_command_line_is_an_argparse_error(argv, match, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv + ["--out", str(tmp_path / "rows.csv")] + (["--dry-run"] if argv[0] == "run" else []))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert not (tmp_path / "rows.csv").exists()


def test_table_of_a_missing_file_is_an_error(tmp_path, capsys):
    """read_rows gives [] for a missing file (by design, for a grid not started); the table command must not
    print "(no rows)" and exit 0 for a mistyped name."""
    missing = tmp_path / "no-such-results.csv"
    with pytest.raises(SystemExit) as info:
        main(["table", "table2", str(missing)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"results file(s) not found: {missing}" in err
