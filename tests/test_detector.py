"""The scikit-learn / PyOD-style detector :class:`aabigan.AABiGAN` on tiny problems."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from aabigan import AABiGAN
from aabigan.detector import DEFAULT_EPOCHS, DEFAULT_MIN_STEPS, ShortFitWarning, resolve_device
from aabigan.scores import auroc

D = 8
FAST = dict(epochs=20, batch_size=64, lr_ge=1e-3, lr_d=1e-3, width=8)


def _problem(seed=0, n_normal=400, n_collected=20, n_eval=200):
    """Normals: N(0.5, 0.1^2) in 8-d.  Anomalies: the same, shifted by +-0.4 in every coordinate."""
    rng = np.random.default_rng(seed)

    def normals(n):
        return rng.normal(0.5, 0.1, (n, D)).astype(np.float32)

    def anomalies(n):
        return (rng.normal(0.5, 0.1, (n, D)) + rng.choice([-0.4, 0.4], (n, D))).astype(np.float32)

    X = np.concatenate([normals(n_normal), anomalies(n_collected)])
    y = np.r_[np.zeros(n_normal, int), np.ones(n_collected, int)]
    X_eval = np.concatenate([normals(n_eval), anomalies(n_eval)])
    y_eval = np.r_[np.zeros(n_eval, int), np.ones(n_eval, int)]
    return X, y, X_eval, y_eval


@pytest.fixture(scope="module")
def problem():
    return _problem()


@pytest.fixture(scope="module")
def fitted(problem):
    X, y, _, _ = problem
    return AABiGAN(random_state=0, **FAST).fit(X, y)


# ----------------------------------------------------------------------------------- sklearn contract
def test_init_only_stores_params():
    det = AABiGAN(epochs=7, width=8, random_state=3, device="cpu")
    params = det.get_params()
    assert params["epochs"] == 7 and params["width"] == 8 and params["random_state"] == 3
    assert params["device"] == "cpu"
    assert AABiGAN(**params).get_params() == params
    assert not any(k.endswith("_") for k in vars(det))       # nothing fitted, nothing resolved
    det.set_params(epochs=2, score="latent")
    assert det.get_params()["epochs"] == 2 and det.score == "latent"


def test_init_does_not_validate():
    # scikit-learn: checks happen in fit, so an estimator with bad params can still be built and cloned
    det = AABiGAN(objective="nope", device="cuda:7", contamination=3.0)
    assert clone(det).get_params() == det.get_params()


def test_clone_gives_unfitted_estimator(fitted):
    c = clone(fitted)
    assert c.get_params() == fitted.get_params()
    assert not hasattr(c, "encoder_") and not hasattr(c, "decision_scores_")
    with pytest.raises(NotFittedError, match="not fitted"):
        c.decision_function(np.zeros((2, D), np.float32))


@pytest.mark.parametrize("call", ["decision_function", "predict", "score_samples_all", "reconstruct", "sample",
                                  "save"])
def test_not_fitted_raises_scikit_learns_error(call, tmp_path):
    det = AABiGAN()
    arg = {"sample": 3, "save": tmp_path / "x.npz"}.get(call, np.zeros((2, D), np.float32))
    with pytest.raises(NotFittedError, match="not fitted yet; call fit") as info:
        getattr(det, call)(arg)
    # scikit-learn's NotFittedError is a ValueError and an AttributeError; ours is a RuntimeError too, which
    # is what this package raised before
    assert isinstance(info.value, (ValueError, AttributeError, RuntimeError))
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
    with pytest.raises(NotFittedError):
        check_is_fitted(det)


def test_check_is_fitted_passes_after_fit(fitted):
    check_is_fitted(fitted)


def test_fit_returns_self_and_sets_attributes(problem):
    X, y, _, _ = problem
    det = AABiGAN(random_state=0, epochs=2, batch_size=64, width=8)
    assert det.fit(X, y) is det
    n = len(X)
    assert det.decision_scores_.shape == (n,)
    assert np.all(np.isfinite(det.decision_scores_))
    assert isinstance(det.threshold_, float)
    assert det.labels_.shape == (n,) and set(np.unique(det.labels_)) <= {0, 1}
    assert det.selected_score_ == "reconstruction"
    assert det.selected_epoch_ == 2
    assert det.n_collected_ == 20
    assert [h["epoch"] for h in det.history_] == [1, 2]
    assert det.device_ == torch.device("cpu") or det.device_.type == "cuda"


def test_fit_without_y_treats_all_as_unlabelled(problem):
    X, _, _, _ = problem
    det = AABiGAN(random_state=0, epochs=1, batch_size=64, width=8).fit(X)
    assert det.n_collected_ == 0 and det.decision_scores_.shape == (len(X),)


def test_anomalies_score_higher(fitted, problem):
    _, _, X_eval, y_eval = problem
    scores = fitted.decision_function(X_eval)
    assert scores.shape == (len(X_eval),)
    assert auroc(y_eval, scores) > 0.85


def test_decision_scores_are_decision_function_on_train(fitted, problem):
    X, _, _, _ = problem
    np.testing.assert_array_equal(fitted.decision_function(X), fitted.decision_scores_)


def test_predict_consistent_with_threshold(fitted, problem):
    X, _, X_eval, _ = problem
    s = fitted.decision_function(X_eval)
    np.testing.assert_array_equal(fitted.predict(X_eval), (s > fitted.threshold_).astype(int))
    np.testing.assert_array_equal(fitted.labels_, fitted.predict(X))
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.decision_scores_, 1 - fitted.contamination))
    assert abs(fitted.labels_.mean() - fitted.contamination) <= 1 / len(X) + 1e-9


def test_contamination_moves_the_threshold(problem):
    X, y, _, _ = problem
    det = AABiGAN(random_state=0, epochs=1, batch_size=64, width=8, contamination=0.25).fit(X, y)
    assert det.labels_.mean() == pytest.approx(0.25, abs=2 / len(X))


def test_deterministic_under_random_state(problem, fitted):
    X, y, X_eval, _ = problem
    again = AABiGAN(random_state=0, **FAST).fit(X, y)
    np.testing.assert_array_equal(again.decision_scores_, fitted.decision_scores_)
    np.testing.assert_array_equal(again.decision_function(X_eval), fitted.decision_function(X_eval))
    assert again.history_ == fitted.history_
    other = AABiGAN(random_state=1, epochs=2, batch_size=64, width=8).fit(X, y)
    assert not np.array_equal(other.decision_scores_, fitted.decision_scores_)


def test_fit_leaves_global_rng_alone(problem):
    X, y, _, _ = problem
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    AABiGAN(random_state=0, epochs=1, batch_size=64, width=8).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_save_load_round_trip(fitted, problem, tmp_path):
    _, _, X_eval, _ = problem
    path = fitted.save(tmp_path / "det.npz")
    assert path.is_file()
    with np.load(path, allow_pickle=False) as data:      # no pickle inside
        meta = json.loads(bytes(data["__meta__"]).decode())
        assert meta["params"] == json.loads(json.dumps(fitted.get_params()))
    loaded = AABiGAN.load(path)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.decision_function(X_eval), fitted.decision_function(X_eval))
    np.testing.assert_array_equal(loaded.predict(X_eval), fitted.predict(X_eval))
    np.testing.assert_array_equal(loaded.decision_scores_, fitted.decision_scores_)
    np.testing.assert_array_equal(loaded.labels_, fitted.labels_)
    assert loaded.get_params() == fitted.get_params()
    assert (loaded.threshold_, loaded.selected_score_, loaded.selected_epoch_, loaded.n_collected_) == (
        fitted.threshold_, fitted.selected_score_, fitted.selected_epoch_, fitted.n_collected_)
    assert loaded.history_ == fitted.history_
    np.testing.assert_array_equal(loaded.reconstruct(X_eval[:5]), fitted.reconstruct(X_eval[:5]))


def test_save_load_with_ema_and_latent_score(problem, tmp_path):
    X, y, X_eval, _ = problem
    det = AABiGAN(random_state=0, epochs=2, batch_size=64, width=8, ema_decay=0.9, score="latent",
                  pair_disc=False).fit(X, y)
    loaded = AABiGAN.load(det.save(tmp_path / "ema.npz"))
    assert loaded.selected_score_ == "latent"
    np.testing.assert_array_equal(loaded.decision_function(X_eval), det.decision_function(X_eval))


def test_load_rejects_foreign_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a file written by AABiGAN.save"):
        AABiGAN.load(path)


def test_save_before_fit_raises(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        AABiGAN().save(tmp_path / "x.npz")


# ------------------------------------------------------------------------------------- selection rules
@pytest.mark.parametrize("kwargs", [dict(score="auto"), dict(epoch_rule="best_val"),
                                    dict(score="auto", epoch_rule="best_val")])
def test_label_rules_need_eval_set(problem, kwargs):
    X, y, _, _ = problem
    with pytest.raises(ValueError, match=r"pass a labelled validation set.*eval_set"):
        AABiGAN(epochs=1, width=8, **kwargs).fit(X, y)


def _latest_best(curve) -> int:
    """The 1-based epoch of the best value of a validation curve, the latest among ties."""
    return len(curve) - int(np.argmax(curve[::-1]))


def test_best_val_keeps_the_latest_of_tied_epochs(problem):
    X, y, _, _ = problem
    rng = np.random.default_rng(0)
    # anomalies far outside the data: every epoch separates them perfectly, validation AUROC 1 throughout
    X_eval = np.vstack([X[y == 0][:40], 50 + rng.normal(size=(10, X.shape[1]))])
    y_eval = np.r_[np.zeros(40), np.ones(10)]
    det = AABiGAN(random_state=0, epochs=4, batch_size=64, width=8, epoch_rule="best_val",
                  score="reconstruction").fit(X, y, eval_set=(X_eval, y_eval))
    assert [h["val_auroc_reconstruction"] for h in det.history_] == [1.0] * 4
    assert det.selected_epoch_ == 4


def test_eval_set_history_and_best_val(problem):
    X, y, X_eval, y_eval = problem
    det = AABiGAN(random_state=0, epochs=6, batch_size=64, width=8, epoch_rule="best_val",
                  score="reconstruction").fit(X, y, eval_set=(X_eval, y_eval))
    assert len(det.history_) == 6
    curve = [h["val_auroc_reconstruction"] for h in det.history_]
    assert all("val_auroc_latent" in h and 0 <= h["val_auroc_latent"] <= 1 for h in det.history_)
    assert det.selected_score_ == "reconstruction"
    assert det.selected_epoch_ == _latest_best(curve)
    # the kept networks are those of the selected epoch: they reproduce its validation AUROC
    assert auroc(y_eval, det.decision_function(X_eval)) == pytest.approx(max(curve), abs=1e-12)


def test_auto_score_best_val_picks_the_best_curve(problem):
    X, y, X_eval, y_eval = problem
    det = AABiGAN(random_state=1, epochs=5, batch_size=64, width=8, epoch_rule="best_val",
                  score="auto").fit(X, y, eval_set=(X_eval, y_eval))
    best = {n: max(h[f"val_auroc_{n}"] for h in det.history_) for n in ("reconstruction", "latent")}
    assert best[det.selected_score_] == max(best.values())
    curve = [h[f"val_auroc_{det.selected_score_}"] for h in det.history_]
    assert det.selected_epoch_ == _latest_best(curve)
    assert auroc(y_eval, det.decision_function(X_eval)) == pytest.approx(max(curve), abs=1e-12)


def test_auto_score_last_epoch(problem):
    X, y, X_eval, y_eval = problem
    det = AABiGAN(random_state=0, epochs=3, batch_size=64, width=8, score="auto").fit(
        X, y, eval_set=(X_eval, y_eval))
    last = det.history_[-1]
    assert det.selected_epoch_ == 3
    assert det.selected_score_ == max(("reconstruction", "latent"), key=lambda n: last[f"val_auroc_{n}"])
    scores = det.score_samples_all(X_eval)
    assert set(scores) == {"reconstruction", "latent"}
    assert auroc(y_eval, scores[det.selected_score_]) == pytest.approx(last[f"val_auroc_{det.selected_score_}"])


def test_eval_set_without_label_rule_does_not_change_the_model(problem):
    X, y, X_eval, y_eval = problem
    a = AABiGAN(random_state=0, epochs=2, batch_size=64, width=8).fit(X, y)
    b = AABiGAN(random_state=0, epochs=2, batch_size=64, width=8).fit(X, y, eval_set=(X_eval, y_eval))
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    assert "val_auroc_reconstruction" in b.history_[0] and "val_auroc_reconstruction" not in a.history_[0]


class _Recorder:
    """A callback keeping every score of each epoch's networks on a held-out set (as the runner's does)."""

    def __init__(self, X):
        self.X, self.record = X, {}

    def __call__(self, epoch, det):
        self.record[epoch] = det.score_samples_all(self.X)


def test_aabigan_is_a_base_detector_and_records_its_seed(problem):
    from aabigan.base import BaseDetector
    from aabigan.baselines import BaseDetector as FromBaselines
    import inspect

    assert FromBaselines is BaseDetector and issubclass(AABiGAN, BaseDetector)
    assert "monitor_set" not in inspect.signature(AABiGAN.fit).parameters     # no test data into the estimator
    X, y, _, _ = problem
    det = AABiGAN(random_state=7, epochs=1, batch_size=64, width=8).fit(X, y)
    assert det.seed_ == 7
    free = AABiGAN(epochs=1, batch_size=64, width=8).fit(X, y)
    assert isinstance(free.seed_, int)
    again = AABiGAN(random_state=free.seed_, epochs=1, batch_size=64, width=8).fit(X, y)
    np.testing.assert_array_equal(again.decision_scores_, free.decision_scores_)   # seed_ reproduces the fit


def test_callbacks_see_each_epoch_and_never_change_the_fit(problem):
    X, y, X_eval, y_eval = problem
    X_val, y_val = X_eval[::2], y_eval[::2]
    X_mon = X_eval[1::2]
    kw = dict(random_state=0, epochs=3, batch_size=64, width=8, epoch_rule="best_val", score="auto")
    a = AABiGAN(**kw).fit(X, y, eval_set=(X_val, y_val))
    rec = _Recorder(X_mon)
    b = AABiGAN(**kw).fit(X, y, eval_set=(X_val, y_val), callbacks=(rec,))
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    assert (a.selected_score_, a.selected_epoch_) == (b.selected_score_, b.selected_epoch_)
    assert a.history_ == [{k: v for k, v in h.items()} for h in b.history_]
    assert sorted(rec.record) == [1, 2, 3] and set(rec.record[1]) == {"reconstruction", "latent"}
    # the record at the selected epoch is what the kept networks score
    np.testing.assert_array_equal(rec.record[b.selected_epoch_][b.selected_score_], b.decision_function(X_mon))
    assert not hasattr(b, "_callbacks") and not hasattr(b, "_in_epoch")     # no fit state is kept


def test_a_callbacks_epoch_scores_are_those_of_a_fit_that_stops_there(problem):
    """What a callback sees after epoch k is the detector a fit of k epochs ends with (the runner's per-epoch
    test rows rest on this)."""
    X, y, X_eval, _ = problem
    kw = dict(random_state=3, batch_size=64, width=8)
    rec = _Recorder(X_eval)
    AABiGAN(epochs=4, **kw).fit(X, y, callbacks=(rec,))
    for k in (1, 3):
        short = AABiGAN(epochs=k, **kw).fit(X, y)
        for name, s in short.score_samples_all(X_eval).items():
            np.testing.assert_array_equal(rec.record[k][name], s)
    assert set(rec.record[4]) == {"reconstruction", "latent"}


def test_decision_function_in_a_callback_uses_the_fixed_score(problem):
    X, y, X_eval, y_eval = problem
    seen = {}
    det = AABiGAN(random_state=0, epochs=2, batch_size=64, width=8, score="latent").fit(
        X, y, callbacks=(lambda e, d: seen.setdefault(e, d.decision_function(X_eval)),))
    np.testing.assert_array_equal(seen[2], det.decision_function(X_eval))
    with pytest.raises(ValueError, match="score='auto' chooses its score after the last epoch"):
        AABiGAN(random_state=0, epochs=1, batch_size=64, width=8, score="auto").fit(
            X, y, eval_set=(X_eval, y_eval), callbacks=(lambda e, d: d.decision_function(X_eval),))


def test_a_failing_callback_leaves_the_detector_unfitted(problem):
    X, y, X_eval, _ = problem
    det = AABiGAN(random_state=0, epochs=2, batch_size=64, width=8).fit(X, y)

    def boom(epoch, d):
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        det.fit(X, y, callbacks=(boom,))
    with pytest.raises(NotFittedError, match="not fitted"):
        det.decision_function(X_eval)
    assert not [k for k in vars(det) if k.endswith("_") or k.startswith("_")]


@pytest.mark.parametrize("eval_set,match", [
    ("one", "pair"),
    ((np.zeros((4, D)), np.zeros(4)), "both normal"),
    ((np.zeros((4, D + 1)), np.array([0, 1, 0, 1])), "fitted on samples of shape"),
    ((np.zeros((4, D)), np.array([0, 1, 0])), "3 labels for 4 samples"),
])
def test_bad_eval_set(problem, eval_set, match):
    X, y, _, _ = problem
    with pytest.raises(ValueError, match=match):
        AABiGAN(epochs=1, width=8).fit(X, y, eval_set=eval_set)


# ---------------------------------------------------------------------------------------- objectives
@pytest.mark.parametrize("objective", ["lsgan", "bigan"])
def test_objectives_without_anomaly_term_ignore_collected(problem, objective):
    X, y, X_eval, _ = problem
    det = AABiGAN(objective=objective, random_state=0, epochs=2, batch_size=64, width=8).fit(X, y)
    assert det.n_collected_ == 0
    # the same as training on the unlabelled samples alone
    ref = AABiGAN(objective=objective, random_state=0, epochs=2, batch_size=64, width=8).fit(X[y == 0])
    np.testing.assert_array_equal(det.decision_function(X_eval), ref.decision_function(X_eval))
    assert det.decision_scores_.shape == (len(X),)


# -------------------------------------------------------------------------------------- images, device
@pytest.mark.parametrize("channels", [3, 1])
def test_image_input(channels):
    rng = np.random.default_rng(0)
    X = rng.random((24, channels, 32, 32), dtype=np.float32)
    y = np.r_[np.zeros(20, int), np.ones(4, int)]
    det = AABiGAN(random_state=0, epochs=1, batch_size=8, width=8, latent_dim=8, device="cpu").fit(X, y)
    assert det.decision_scores_.shape == (24,)
    assert det.sample_shape_ == (channels, 32, 32)
    assert det.reconstruct(X[:2]).shape == (2, channels, 32, 32)
    assert det.sample(3).shape == (3, channels, 32, 32)
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        det.decision_function(np.zeros((2, 3 if channels == 1 else 1, 32, 32), np.float32))


def test_device_cpu_explicit(problem):
    X, y, _, _ = problem
    det = AABiGAN(random_state=0, epochs=1, batch_size=64, width=8, device="cpu").fit(X, y)
    assert det.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in det.encoder_.parameters())


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_device_cuda_without_cuda_raises(problem):
    X, y, _, _ = problem
    with pytest.raises(ValueError, match="CUDA is not available"):
        AABiGAN(epochs=1, width=8, device="cuda").fit(X, y)
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_accepts_torch_tensors_and_float64(problem):
    X, y, _, _ = problem
    a = AABiGAN(random_state=0, epochs=1, batch_size=64, width=8).fit(X, y)
    b = AABiGAN(random_state=0, epochs=1, batch_size=64, width=8).fit(torch.as_tensor(X), torch.as_tensor(y))
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    np.testing.assert_array_equal(a.decision_function(X.astype(np.float64)), a.decision_scores_)


def test_save_with_numpy_scalar_params(problem, tmp_path):
    # seeds and epoch counts often come out of numpy arrays (a config grid, np.random); fit accepts them,
    # so save must too
    X, y, X_eval, _ = problem
    det = AABiGAN(random_state=np.int64(0), epochs=np.int64(1), batch_size=64, width=8).fit(X, y)
    loaded = AABiGAN.load(det.save(tmp_path / "np.npz"))
    assert loaded.random_state == 0 and loaded.epochs == 1
    np.testing.assert_array_equal(loaded.decision_function(X_eval), det.decision_function(X_eval))


def test_auroc_and_auprc_equal_scikit_learns_with_ties():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from aabigan.scores import auprc, auroc
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(5, 300))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = rng.integers(0, 6, n).astype(float) if trial % 2 else rng.normal(size=n)   # ties on odd trials
        assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    with pytest.raises(ValueError, match="both classes"):
        auroc(np.zeros(4), np.arange(4.0))


def test_mixed_precision_does_not_move_the_auroc():
    """amp=True trains the forward passes in bfloat16 (CPU autocast here; meant for GPUs).  Single GAN runs
    vary a lot from seed to seed, so the medians over four seeds are compared."""
    from aabigan.scores import auroc
    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(0, 1, (600, 6)), rng.normal(3, 1, (12, 6))].astype(np.float32)
    y = np.r_[np.zeros(600), np.ones(12)]
    Xt = np.r_[rng.normal(0, 1, (200, 6)), rng.normal(3, 1, (20, 6)), rng.normal(-3, 1, (20, 6))]
    yt = np.r_[np.zeros(200), np.ones(40)]
    med = [np.median([auroc(yt, AABiGAN(epochs=15, random_state=s, amp=amp, lr_ge=1e-3, lr_d=1e-3)
                            .fit(X, y).decision_function(Xt)) for s in range(4)]) for amp in (False, True)]
    assert med[0] > 0.85 and abs(med[0] - med[1]) < 0.03, med


def test_a_failed_refit_leaves_an_unfitted_detector(problem, monkeypatch):
    """A refit that fails midway (here: training raises) must not leave the old model half-replaced."""
    import aabigan.detector as detmod

    X, y, X_test, _ = problem
    det = AABiGAN(epochs=1, width=8, random_state=0).fit(X, y)
    assert det.decision_function(X_test).shape == (len(X_test),)

    def broken(*args, **kwargs):
        raise FloatingPointError("the losses diverged")

    monkeypatch.setattr(detmod, "train", broken)
    with pytest.raises(FloatingPointError, match="diverged"):
        det.fit(X, y)
    assert not [k for k in vars(det) if k.endswith("_")]
    with pytest.raises(NotFittedError, match="not fitted"):
        det.decision_function(X_test)
    monkeypatch.undo()
    assert det.fit(X, y).decision_function(X_test).shape == (len(X_test),)   # and it can be fitted again


# ------------------------------------------------------------------------------------------ defaults
def test_default_training_length_counts_steps():
    """epochs=None: at least DEFAULT_EPOCHS epochs and DEFAULT_MIN_STEPS steps; a given epochs is exactly
    that many epochs unless min_steps asks for more (so every explicit call keeps its old meaning)."""
    params = AABiGAN().get_params()
    assert (params["epochs"], params["min_steps"], params["score"], params["epoch_rule"]) == (
        None, None, "reconstruction", "last")
    cfg = AABiGAN()._train_config()
    assert (cfg.epochs, cfg.min_steps) == (DEFAULT_EPOCHS, DEFAULT_MIN_STEPS) == (100, 5000)
    assert cfg.total_steps(100) == 5000 and cfg.total_steps(2207) == 295 * 17 and cfg.total_steps(27352) == 21300
    assert (AABiGAN(epochs=5)._train_config().epochs, AABiGAN(epochs=5)._train_config().min_steps) == (5, 0)
    assert AABiGAN(epochs=5, min_steps=50)._train_config().min_steps == 50
    assert AABiGAN(min_steps=0)._train_config().total_steps(100) == 100


def test_min_steps_is_what_a_fit_trains(problem):
    X, y, _, _ = problem                       # 400 normals, batch 64: 6 steps an epoch
    det = AABiGAN(epochs=1, min_steps=13, batch_size=64, width=8, random_state=0)
    with pytest.warns(UserWarning):
        det.fit(X, y)
    assert len(det.history_) == 3 == det.selected_epoch_


# -------------------------------------------------------------------------------------- bad parameters
@pytest.mark.parametrize("params,exc,match", [
    (dict(epochs=1.7), TypeError, r"epochs must be None or an integer of at least 1, got 1\.7"),
    (dict(epochs=2.0), TypeError, r"epochs must be None or an integer"),
    (dict(epochs=float("nan")), TypeError, r"epochs must be None or an integer of at least 1, got nan"),
    (dict(epochs=0), ValueError, r"epochs must be None or an integer of at least 1, got 0"),
    (dict(epochs="10"), TypeError, r"epochs must be"),
    (dict(epochs=True), TypeError, r"epochs must be"),
    (dict(min_steps=-1), ValueError, r"min_steps must be None or an integer of at least 0"),
    (dict(min_steps=2.5), TypeError, r"min_steps must be"),
    (dict(batch_size=1), ValueError, r"batch_size must be an integer of at least 2"),
    (dict(neg_batch_size=-2), ValueError, r"neg_batch_size must be None or an integer of at least 1, got -2"),
    (dict(neg_batch_size=0), ValueError, r"neg_batch_size must be None or an integer of at least 1"),
    (dict(latent_dim=0), ValueError, r"latent_dim must be None or an integer of at least 1, got 0"),
    (dict(latent_dim=-4), ValueError, r"latent_dim must be"),
    (dict(width=0), ValueError, r"width must be an integer of at least 1, got 0"),
    (dict(dropout=1.0), ValueError, r"dropout must lie in \[0.0, 1.0\), got 1.0"),
    (dict(dropout=-0.1), ValueError, r"dropout must lie in"),
    (dict(dropout="high"), TypeError, r"dropout must be a number"),
    (dict(random_state="abc"), TypeError, r"random_state must be None or an integer in \[0, 4294967295\], got 'abc'"),
    (dict(random_state=-1), ValueError, r"random_state must be None or an integer in"),
    (dict(random_state=2**32), ValueError, r"random_state must be None or an integer in"),
    (dict(random_state=np.random.RandomState(0)), TypeError, r"random_state must be None or an integer"),
    (dict(lr_ge=0.0), ValueError, r"lr_ge must be a positive number"),
    (dict(lr_d=float("nan")), ValueError, r"lr_d must be finite"),
    (dict(c=float("inf")), ValueError, r"c must be finite"),
    (dict(a="one"), TypeError, r"a must be a number"),
    (dict(recon_weight=-1.0), ValueError, r"recon_weight must be at least 0"),
    (dict(ema_decay=1.0), ValueError, r"ema_decay must lie in \(0, 1\) or be None"),
    (dict(ema_decay=float("nan")), ValueError, r"ema_decay must be finite"),
    (dict(objective="wgan"), ValueError, r"unknown objective 'wgan'"),
    (dict(family="resnet"), ValueError, r"unknown family 'resnet'"),
    (dict(score="mean"), ValueError, r"unknown score 'mean'"),
    (dict(epoch_rule="first"), ValueError, r"unknown epoch_rule 'first'"),
    (dict(pair_disc="yes"), TypeError, r"pair_disc must be True or False"),
    (dict(amp=1), TypeError, r"amp must be True or False"),
])
def test_bad_parameters_name_the_problem(problem, params, exc, match):
    X, y, _, _ = problem
    det = AABiGAN(**{"width": 8, **params})    # __init__ stores them; fit checks them, before any training
    with pytest.raises(exc, match=match):
        det.fit(X, y)
    assert not [k for k in vars(det) if k.endswith("_")]


def test_numpy_integer_parameters_are_accepted(problem):
    X, y, _, _ = problem
    det = AABiGAN(epochs=np.int32(1), min_steps=np.int64(0), batch_size=np.int64(64), latent_dim=np.int16(4),
                  width=8, random_state=np.uint32(7))
    with pytest.warns(UserWarning):
        det.fit(X, y)
    assert det.nets_.latent_dim == 4 and len(det.history_) == 1


# ------------------------------------------------------------------------------------- damaged files
@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("saved") / "det.npz")


def _rewrite(saved, path, meta_edit=None, drop=()):
    """A copy of the saved file with its metadata edited and some arrays left out."""
    with np.load(saved, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k not in drop}
    meta = json.loads(bytes(arrays["__meta__"]).decode())
    if meta_edit is not None:
        meta_edit(meta)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


def _truncated(saved, tmp_path):
    path = tmp_path / "cut.npz"
    path.write_bytes(saved.read_bytes()[:2000])
    return path


def _foreign_zip(saved, tmp_path):
    import zipfile
    path = tmp_path / "notes.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not a detector")
    return path


def _text(saved, tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello")
    return path


def _bare_array(saved, tmp_path):
    path = tmp_path / "bare.npy"
    np.save(path, np.zeros(3))
    return path


def _newer_format(saved, tmp_path):
    return _rewrite(saved, tmp_path / "v2.npz", lambda m: m.update(format="aabigan-detector-v2"))


def _newer_parameter(saved, tmp_path):
    return _rewrite(saved, tmp_path / "param.npz", lambda m: m["params"].update(warmup_steps=100))


def _missing_key(saved, tmp_path):
    return _rewrite(saved, tmp_path / "key.npz", lambda m: m.pop("threshold"))


def _missing_weights(saved, tmp_path):
    with np.load(saved, allow_pickle=False) as data:
        drop = [k for k in data.files if k.startswith("scoring_encoder/")][:1]
    return _rewrite(saved, tmp_path / "weights.npz", drop=drop)


def _missing_scores(saved, tmp_path):
    return _rewrite(saved, tmp_path / "scores.npz", drop=("__decision_scores__",))


def _bad_meta(saved, tmp_path):
    path = tmp_path / "meta.npz"
    np.savez(path, __meta__=np.frombuffer(b"{not json", dtype=np.uint8))
    return path


@pytest.mark.parametrize("make,match", [
    (_truncated, r"cut\.npz is not a readable AABiGAN file \(truncated or damaged\?\)"),
    (_foreign_zip, r"notes\.npz is not a file written by AABiGAN\.save \(no detector metadata\)"),
    (_text, r"text\.npz is not a readable AABiGAN file"),
    (_bare_array, r"bare\.npy is not a file written by AABiGAN\.save \(a bare array"),
    (_newer_format, r"has format 'aabigan-detector-v2', expected 'aabigan-detector-v1'.*newer"),
    (_newer_parameter, r"unknown parameter\(s\) \['warmup_steps'\]: written by a newer version"),
    (_missing_key, r"key\.npz does not hold a detector this version of aabigan can rebuild \(KeyError: 'threshold'"),
    (_missing_weights, r"(?s)weights\.npz does not hold a detector .*RuntimeError.*Missing key"),
    (_missing_scores, r"scores\.npz does not hold a detector .*KeyError"),
    (_bad_meta, r"meta\.npz is not a readable AABiGAN file .*JSONDecodeError"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else "")
def test_load_of_a_damaged_or_foreign_file_names_the_problem(saved, tmp_path, make, match):
    with pytest.raises(ValueError, match=match):
        AABiGAN.load(make(saved, tmp_path))


def test_load_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        AABiGAN.load(tmp_path / "nothing.npz")


def test_the_authors_networks_are_an_option_saved_and_loaded(tmp_path):
    """arch='authors' builds the networks of the authors' code (1x32x32: their MNIST nets, latent 100)."""
    from aabigan.experiments import RunConfig, run_one

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(24, 1, 32, 32)).astype(np.float32)
    det = AABiGAN(arch="authors", width=8, epochs=1, batch_size=8, dropout=0.0, random_state=0)
    with pytest.warns(ShortFitWarning):
        det.fit(X)
    assert det.nets_.latent_dim == 100 and det.get_params()["arch"] == "authors"
    back = AABiGAN.load(det.save(tmp_path / "a.npz"))
    np.testing.assert_allclose(back.decision_function(X), det.decision_function(X), rtol=1e-5)
    with pytest.raises(ValueError, match="arch"):
        AABiGAN(arch="resnet", epochs=1).fit(X)
    cfg = RunConfig("mnist", "aabigan", 0, (1,), 0.05, 0.0, 0, "smoke", (("arch", "authors"), ("width", 4)))
    assert cfg.split_args()["channels"] == 1                       # their MNIST networks take one channel
    rows = run_one(cfg)
    assert rows[0]["status"] == "ok", rows[0]["error"]
    assert json.loads(rows[0]["settings"])["arch"] == "authors"    # recorded in the row


def test_every_training_hyper_parameter_is_a_detector_parameter_of_the_same_name():
    import dataclasses

    from aabigan.trainer import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    assert names <= set(AABiGAN().get_params())
    cfg = AABiGAN(epochs=3, lr_d=np.float32(1e-3), betas=[0.5, 0.9], neg_batch_size=np.int64(4))._train_config()
    assert (cfg.epochs, cfg.min_steps, cfg.betas, cfg.neg_batch_size) == (3, 0, (0.5, 0.9), 4)
    assert type(cfg.lr_d) is float and cfg.lr_d == pytest.approx(1e-3)
    assert AABiGAN()._train_config().min_steps == 5000
