"""The baselines: right answers on synthetic data, the detector contract, and the runner on real splits.

Synthetic problem: normal samples N(0, I) in 8-d; collected anomalies a tight cluster shifted by 2.5 along
four axes; test anomalies of the collected type and of a novel type (the opposite shift).  Every method
must rank the collected type above the normals (AUROC >= 0.8, so the score's sign is right too); the
methods that ignore the collected anomalies must also find the novel type.
"""
import numpy as np
import pytest
import torch
from sklearn.base import clone
from scipy.optimize import Bounds, LinearConstraint, minimize

from aabigan.baselines import (AAD, ALAD, CAE, NDA, OCSVM, SSAD, SSDGM, DeepSAD, DeepSVDD,
                               SupervisedClassifier)
from aabigan.baselines._nets import Discriminator
from aabigan.baselines.kernel import solve_ssad_dual
from sklearn.metrics.pairwise import rbf_kernel
from aabigan.baselines.registry import BASELINE_METHODS
from aabigan.data import make_split
from aabigan.errors import DegenerateScoresError
from aabigan.experiments import METHODS, RunConfig, grid, run_one
from aabigan.profiles import get_profile
from aabigan.scores import auroc


# settings for the 8-d synthetic problem: short trainings that still learn it.  The autoencoder-based
# methods get a wider net than Deep SAD's ODDS default (32-16-8, whose code would be as wide as the data)
WIDE = dict(hidden=(64, 32), rep_dim=16)
FAST = {
    "ocsvm": lambda: OCSVM(),
    "ocsvm-hybrid": lambda: OCSVM(features="hybrid", epochs=100, lr=3e-3, weight_decay=1e-6, batch_size=64, **WIDE),
    "deepsvdd": lambda: DeepSVDD(epochs=30, lr=1e-3, ae_lr=1e-3, batch_size=64, **WIDE),
    "deepsad": lambda: DeepSAD(epochs=30, lr=1e-3, ae_lr=1e-3, batch_size=64, **WIDE),
    "cae": lambda: CAE(epochs=30, lr=1e-3, batch_size=64),
    "alad": lambda: ALAD(epochs=30, batch_size=64),
    "ssad": lambda: SSAD(),
    "ssad-hybrid": lambda: SSAD(features="hybrid", epochs=100, lr=3e-3, weight_decay=1e-6, batch_size=64, **WIDE),
    "ssdgm": lambda: SSDGM(epochs=30, batch_size=64),
    "supervised": lambda: SupervisedClassifier(epochs=30, batch_size=64),
    "nda": lambda: NDA(epochs=30, batch_size=64),
    "aad": lambda: AAD(),
}
NAMES = list(BASELINE_METHODS)
UNSUPERVISED = [n for n in NAMES if not BASELINE_METHODS[n][2]]


def synthetic(seed=0, d=8, n=500, n_collected=15, shift=2.5):
    rng = np.random.default_rng(seed)
    mu = np.zeros(d)
    mu[: d // 2] = shift
    X = np.vstack([rng.normal(size=(n, d)), rng.normal(mu, 0.5, (n_collected, d))]).astype(np.float32)
    y = np.r_[np.zeros(n), np.ones(n_collected)].astype(np.int64)
    test = {"normal": rng.normal(size=(300, d)), "collected": rng.normal(mu, 0.5, (100, d)),
            "novel": rng.normal(-mu, 0.5, (100, d))}
    return X, y, {k: v.astype(np.float32) for k, v in test.items()}


DATA = synthetic()
_FITTED: dict = {}


def fitted(name):
    """One fit per method, seed 0, shared by the tests of this module."""
    if name not in _FITTED:
        X, y, _ = DATA
        _FITTED[name] = FAST[name]().set_params(random_state=0).fit(X, y)
    return _FITTED[name]


def test_every_method_has_a_fast_setting():
    assert set(FAST) == set(NAMES)


# ------------------------------------------------------------------------------- right answers
@pytest.mark.parametrize("name", NAMES)
def test_finds_the_anomalies_with_the_right_sign(name):
    det = fitted(name)
    _, _, test = DATA
    s = {k: det.decision_function(v) for k, v in test.items()}
    labels = np.r_[np.zeros(300), np.ones(100)]
    auc_collected = auroc(labels, np.r_[s["normal"], s["collected"]])
    assert auc_collected >= 0.8, f"{name}: AUROC {auc_collected:.3f} on anomalies of the collected type"
    assert np.median(s["collected"]) > np.median(s["normal"])   # higher = more anomalous
    if name in UNSUPERVISED:                                     # no label to lean on: both kinds are far out
        auc_novel = auroc(labels, np.r_[s["normal"], s["novel"]])
        assert auc_novel >= 0.8, f"{name}: AUROC {auc_novel:.3f} on novel anomalies"


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_a_seed(name):
    det = fitted(name)
    X, y, test = DATA
    again = clone(det).fit(X, y)
    np.testing.assert_array_equal(again.decision_function(test["normal"]), det.decision_function(test["normal"]))
    np.testing.assert_array_equal(again.decision_scores_, det.decision_scores_)


@pytest.mark.parametrize("name", NAMES)
def test_detector_contract(name):
    det = fitted(name)
    X, y, test = DATA
    # scikit-learn: __init__ only stores its arguments, clone gives an unfitted copy with equal params
    copy = clone(det)
    assert copy.get_params() == det.get_params() and not hasattr(copy, "decision_scores_")
    with pytest.raises(RuntimeError, match="not fitted"):
        copy.decision_function(X)
    # PyOD: scores on the training set, a threshold at the contamination quantile, labels, predict
    assert det.decision_scores_.shape == (len(X),) and det.decision_scores_.dtype == np.float64
    assert abs(det.labels_.mean() - det.contamination) <= 0.02
    np.testing.assert_array_equal(det.predict(X), det.labels_)
    np.testing.assert_array_equal(det.predict(test["normal"]),
                                  (det.decision_function(test["normal"]) > det.threshold_).astype(int))
    assert det.device_.type in ("cpu", "cuda") and det.fit_seconds_ > 0
    assert det.n_collected_ == (0 if name in UNSUPERVISED else int(y.sum()))
    with pytest.raises(ValueError, match="shape"):
        det.decision_function(X[:, :5])


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises(name):
    X, y, _ = DATA
    det = FAST[name]()
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        det.fit(bad, y)
    with pytest.raises(ValueError, match="only 0"):
        det.fit(X, np.where(y == 1, 2, 0))
    with pytest.raises(ValueError, match="labels for"):
        det.fit(X, y[:-1])
    with pytest.raises(ValueError, match="contamination"):
        clone(det).set_params(contamination=0.9).fit(X, y)


@pytest.mark.parametrize("det, match", [
    (OCSVM(features="deep"), "features must be"), (OCSVM(nu=0), "nu must lie"), (SSAD(max_samples=2), "max_samples"),
    (SSAD(C_u=-1.0), "C_u must be"), (DeepSAD(eta=-1), "eta must be"), (CAE(epochs=0), "epochs must be"),
    (ALAD(score="logits"), "unknown score"), (SSDGM(likelihood="poisson"), "unknown likelihood"),
    (NDA(lam=0), "lam must lie"), (AAD(tau=1.5), "tau must lie"), (SupervisedClassifier(lr=0), "lr must be"),
])
def test_bad_parameters_name_the_problem(det, match):
    X, y, _ = DATA
    with pytest.raises(ValueError, match=match):
        det.fit(X, y)


@pytest.mark.parametrize("name", NAMES)
def test_samples_without_features_or_beyond_float32_are_errors(name):
    """X with no feature used to fit and score every sample 0 (SSAD, Deep SAD, the supervised classifier, ...);
    1e39 overflows float32 and was reported as NaN or inf."""
    X, y, _ = DATA
    with pytest.raises(ValueError, match=r"X has samples of shape \(0,\), with no feature"):
        FAST[name]().fit(X[:, :0], y)
    big = X.astype(np.float64)
    big[7, 1] = 1e39
    with pytest.raises(ValueError, match=r"1 value\(s\) beyond float32's range .*overflow float32"):
        FAST[name]().fit(big, y)


def _bad_params():
    """(estimator, parameter, bad value) for every class and every shared parameter it has, and the
    class-specific ones; each must fail in fit with an error that names the parameter."""
    shared = {"epochs": [float("nan"), float("inf"), 1.7, 2.0, True, 0, -3, "10"], "batch_size": [0, float("inf")],
              "neg_batch_size": [-2, 0, 1.5], "width": [0, -8, 7.5], "rep_dim": [0, 2.5], "latent_dim": [0, -1],
              "hidden": [(0,), (), (32, -1), "32", 32], "bias": ["yes", 1], "lr": [0, float("nan"), "fast"],
              "ae_lr": [-1e-4], "lr_ge": [float("inf")], "lr_d": [0], "lr_g": [-1],
              "weight_decay": [-1, float("nan")], "ae_weight_decay": [-1e-6],
              "random_state": ["abc", -1, 1.5, 2**32, True], "device": ["gpu0", 2.5],
              "contamination": [float("nan"), "0.1"]}
    specific = {OCSVM: {"nu": ["abc", float("nan"), 1.5], "gamma": [-1.0, "auto", float("nan")]},
                SSAD: {"gamma": [0], "kappa": [-1, float("nan")], "C_l": ["1"], "max_iter": [1.5], "tol": [0]},
                DeepSAD: {"eta": [float("nan")], "ae_epochs": [-1, 1.5]}, DeepSVDD: {"ae_epochs": [float("nan")]},
                SSDGM: {"prior": [1.0, 0.0, "half", float("nan")], "alpha": [-0.1]},
                NDA: {"lam": [float("nan"), "x", 1.5]}, AAD: {"tau": [float("nan"), 0], "n_estimators": [0, 10.5]},
                ALAD: {"score": ["logits"]}}
    cases = []
    for cls in {type(FAST[n]()) for n in NAMES}:
        names = cls().get_params()
        for param, values in {**shared, **specific.get(cls, {})}.items():
            if param in names:
                cases += [pytest.param(cls, param, v, id=f"{cls.__name__}-{param}-{v!r}") for v in values]
    return sorted(cases, key=lambda c: c.id)


@pytest.mark.parametrize("cls, param, value", _bad_params())
def test_every_bad_hyper_parameter_is_named(cls, param, value):
    X, y, _ = DATA
    extra = {"features": "hybrid"} if cls in (OCSVM, SSAD) else {}
    with pytest.raises((TypeError, ValueError), match=rf"\b{param}\b"):
        cls(**{**extra, param: value}).fit(X[:40], y[:40] if cls is not SupervisedClassifier else np.r_[y[:35], [1] * 5])


def test_dropout_must_leave_units():
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\)"):
        Discriminator((8,), dropout=1.0)


def test_the_supervised_classifier_does_not_collapse_silently():
    """Inputs x 1e30 overflow the network's batch normalisation: the classifier used to give every sample the
    same score (AUROC 0.5) without an error."""
    X, y, _ = DATA
    with pytest.raises(DegenerateScoresError, match=r"SupervisedClassifier gave all 515 training samples the same "
                                                    r"score .* X holds values up to .*e\+30 .* rescale X"):
        SupervisedClassifier(epochs=2, batch_size=64, random_state=0).fit(X * 1e30, y)
    det = SupervisedClassifier(epochs=2, batch_size=64, random_state=0)
    with pytest.raises(DegenerateScoresError, match=r"all samples of X are identical"):
        det.fit(np.ones_like(X), y)
    with pytest.raises(RuntimeError, match="not fitted"):          # no half-fitted detector is left
        det.decision_function(X)


@pytest.mark.parametrize("name", ["ocsvm", "cae", "deepsvdd"])
def test_unsupervised_methods_leave_the_collected_anomalies_out(name):
    X, y, test = DATA
    det = fitted(name)
    alone = clone(det).fit(X[y == 0])
    np.testing.assert_array_equal(alone.decision_function(test["normal"]), det.decision_function(test["normal"]))


@pytest.mark.parametrize("cls", [SupervisedClassifier, SSDGM])
def test_classifiers_need_collected_anomalies(cls):
    X, y, _ = DATA
    with pytest.raises(ValueError, match="collected anomalies"):
        cls(epochs=1).fit(X[y == 0])


def test_ssdgm_does_not_collapse_onto_the_anomaly_class():
    """With anomalies the only labelled class, 'class 1 explains everything' is an optimum of M2 under a
    uniform prior; this short MNIST run fell into it (test AUROC 0.10) before the prior and the symmetric
    initialisation described in SSDGM's docstring."""
    split = make_split("mnist", 0, [1], gamma_l=0.05, seed=0, max_train_normal=200, max_eval=300)
    det = SSDGM(epochs=5, batch_size=32, width=8, random_state=0).fit(split.X_train, split.y_train)
    assert det.prior_ == pytest.approx(split.y_train.mean())
    assert auroc(split.y_train, det.decision_scores_) >= 0.9      # the collected anomalies score highest
    assert auroc(split.y_test, det.decision_function(split.X_test)) >= 0.8


def test_semi_supervised_reduces_without_labels():
    """SSAD and AAD still fit without collected anomalies (kappa = 0: the SVDD; AAD: the isolation forest)."""
    X, y, test = DATA
    ssad = SSAD(random_state=0).fit(X[y == 0])
    assert ssad.kappa_ == 0.0
    aad = AAD(random_state=0).fit(X[y == 0])
    np.testing.assert_allclose(aad.decision_function(test["normal"]), aad.isolation_forest_score(test["normal"]))


def test_aad_feedback_lifts_the_collected_anomalies():
    X, y, _ = DATA
    det = fitted("aad")
    rank = lambda s: np.argsort(np.argsort(s))[y == 1].mean()  # noqa: E731
    assert rank(det.decision_scores_) >= rank(det.isolation_forest_score(X))
    assert det.history_[-1]["share_above_q_tau"] == 1.0


def test_deepsad_center_is_away_from_zero():
    det = fitted("deepsad")
    assert torch.all(det.center_.abs() >= 0.1)
    assert not any(getattr(m, "bias", None) is not None for m in det.net_.modules())   # bias-free network


@pytest.mark.parametrize("n_u, m, kappa, C", [(30, 5, 1.0, 1.0), (40, 6, 0.5, 0.2), (40, 0, 0.0, 0.05)])
def test_ssad_dual_solver_reaches_the_optimum(n_u, m, kappa, C):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(n_u, 3)), rng.normal(1.5, 0.5, (m, 3))])
    lab = np.r_[np.zeros(n_u, bool), np.ones(m, bool)]
    K = rbf_kernel(X, X, gamma=0.3)
    b, _ = solve_ssad_dual(K, lab, C, C, kappa, tol=1e-9)
    assert abs(b.sum() - 1) < 1e-9 and b[lab].sum() <= -kappa + 1e-9
    assert np.all(b[~lab] >= -1e-12) and np.all(b[~lab] <= C + 1e-12) and np.all(b[lab] >= -C - 1e-12)
    cons = [LinearConstraint(np.ones((1, n_u + m)), 1, 1)]
    if m:
        cons.append(LinearConstraint(lab[None].astype(float), -np.inf, -kappa))
    x0 = np.where(lab, -kappa / max(m, 1), (1 + kappa) / n_u)
    ref = minimize(lambda v: 0.5 * v @ K @ v, x0, jac=lambda v: K @ v, method="SLSQP", constraints=cons,
                   bounds=Bounds(np.where(lab, -C, 0), np.where(lab, 0, C)), options={"ftol": 1e-14, "maxiter": 1000})
    assert ref.success
    assert 0.5 * b @ K @ b <= ref.fun + 1e-8


def test_ssad_solver_warns_when_it_stops_short():
    X, y, _ = DATA
    with pytest.warns(RuntimeWarning, match="max_iter=3"):
        SSAD(max_iter=3, random_state=0).fit(X, y)


def test_ssad_subsamples_for_the_qp():
    X, y, _ = DATA
    det = SSAD(max_samples=100, random_state=0).fit(X, y)
    assert det.n_qp_ == 100 and det.n_collected_ == 15
    assert det.n_iter_ < det.max_iter


# ----------------------------------------------------------------------- the per-epoch hook
BY_EPOCH = [n for n in NAMES if FAST[n]().trains_by_epochs]
#: short versions of FAST for the hook's tests (3 epochs of the main stage; Deep SVDD / SAD pretrain for 2)
SHORT = {"ae_epochs": 2, "epochs": 3}


def short(name):
    det = FAST[name]()
    return det.set_params(**{k: v for k, v in SHORT.items() if k in det.get_params()}, random_state=0)


def validation_set(seed=1):
    _, _, test = synthetic(seed)
    return np.vstack([test["normal"], test["collected"]]), np.r_[np.zeros(300), np.ones(100)].astype(np.int64)


def test_the_methods_that_train_by_epochs_have_the_hook():
    assert set(BY_EPOCH) == {"deepsvdd", "deepsad", "cae", "alad", "nda", "ssdgm", "supervised"}


@pytest.mark.parametrize("name", BY_EPOCH)
def test_scoring_each_epoch_does_not_change_the_fit(name):
    """A callback that scores, switches the networks to eval mode and draws random numbers, and a validation
    set, leave the fit exactly as it is without them; the callback sees each epoch of the main stage once, and
    its scores at the last epoch are the fitted detector's."""
    X, y, test = DATA
    plain = short(name).fit(X, y)
    seen = {}

    def rude(epoch, det):
        seen[epoch] = det.decision_function(test["normal"])
        for m in det._modules():
            m.eval()
        torch.randn(100)

    hooked = short(name).fit(X, y, eval_set=validation_set(), callbacks=[rude])
    np.testing.assert_array_equal(hooked.decision_function(test["normal"]), plain.decision_function(test["normal"]))
    np.testing.assert_array_equal(hooked.decision_scores_, plain.decision_scores_)
    assert sorted(seen) == [1, 2, 3]                      # the main stage's epochs, not the pretraining's
    np.testing.assert_array_equal(seen[3], plain.decision_function(test["normal"]))
    assert [h["epoch"] for h in hooked.history_] == [1, 2, 3]
    assert all(0 <= h["val_auroc"] <= 1 for h in hooked.history_)
    assert all("val_auroc" not in h for h in plain.history_)
    assert not any(k in vars(hooked) for k in ("_eval_set", "_callbacks", "_in_epoch"))


def test_the_hook_serves_deep_sad_s_main_stage_after_its_pretraining():
    X, y, _ = DATA
    epochs = []
    det = DeepSAD(epochs=2, ae_epochs=3, batch_size=64, **WIDE, random_state=0)
    det.fit(X, y, callbacks=(lambda e, d: epochs.append((e, len(d.ae_history_))),))
    assert epochs == [(1, 3), (2, 3)]


@pytest.mark.parametrize("det", [OCSVM(), SSAD(features="hybrid", epochs=2), AAD()], ids=type)
def test_methods_without_epochs_refuse_the_hook(det):
    X, y, _ = DATA
    with pytest.raises(ValueError, match="does not train by epochs"):
        det.fit(X, y, eval_set=validation_set())
    with pytest.raises(ValueError, match="does not train by epochs"):
        det.fit(X, y, callbacks=[lambda e, d: None])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(eval_set=(np.zeros((4, 8)),)), ValueError, "eval_set must be a pair"),
    (dict(eval_set=(np.zeros((4, 8)), np.zeros(4))), ValueError, "y_val must contain both"),
    (dict(eval_set=(np.zeros((4, 5)), np.r_[0, 0, 1, 1])), ValueError, "X_val"),
    (dict(callbacks=lambda e, d: None), TypeError, "sequence of callables"),
    (dict(callbacks=[3]), TypeError, "callables"),
])
def test_bad_hooks_name_the_problem(kwargs, error, match):
    X, y, _ = DATA
    with pytest.raises(error, match=match):
        CAE(epochs=1).fit(X, y, **kwargs)


def test_a_failing_callback_fails_the_fit_and_leaves_no_fitted_detector():
    X, y, _ = DATA
    det = CAE(epochs=2, random_state=0).fit(X, y)

    def boom(epoch, det):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        det.fit(X, y, callbacks=[boom])
    with pytest.raises(RuntimeError, match="not fitted"):
        det.decision_function(X)


# ------------------------------------------------------------------------------------ the runner
PAPER_COLUMNS = {"OCSVM", "OCSVM Hybrid", "Deep SVDD", "Deep SAD", "CAE", "ALAD", "SSAD Raw", "SSAD Hybrid",
                 "SS-DGM", "Supervised Classifier", "NDA", "AAD"}


def test_registered_under_the_papers_names():
    import csv
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "results" / "paper"
    printed = {r["method"] for t in ("table6.csv", "table8.csv") for r in csv.DictReader(open(root / t))}
    assert {METHODS[n].display for n in NAMES} == PAPER_COLUMNS <= printed
    assert set(UNSUPERVISED) == {"ocsvm", "ocsvm-hybrid", "deepsvdd", "cae", "alad"}
    assert not any(METHODS[n].per_epoch for n in NAMES)
    assert all(METHODS[n].build({}).uses_labels == METHODS[n].uses_labels for n in NAMES)


def test_build_maps_the_profile_settings():
    smoke_img = get_profile("smoke").method_settings("mnist", "image")     # epochs, batch, neg batch, width 8
    det = METHODS["deepsad"].build({**smoke_img, "random_state": 3})
    assert (det.epochs, det.batch_size, det.width, det.random_state) == (1, 32, 4, 3)   # LeNet: half the width
    assert METHODS["nda"].build(smoke_img).width == 8 and METHODS["nda"].build(smoke_img).neg_batch_size == 8
    assert METHODS["ssad-hybrid"].build({"epochs": 5}).features == "hybrid"
    assert METHODS["deepsad"].build({"eta": 2.0, "lr_ge": 1.0}).eta == 2.0    # AA-BiGAN's settings are ignored
    with pytest.raises(ValueError, match="has no setting 'etaa'"):
        METHODS["deepsad"].build({"etaa": 2.0})


def test_grids_take_the_baselines_by_name():
    assert {c.method for c in grid("table8", "smoke", methods=NAMES)} == set(NAMES)
    assert {c.method for c in grid("table6", "smoke", methods=NAMES)} == set(NAMES)


def test_registered_with_the_rules_of_their_training():
    assert {n for n in NAMES if METHODS[n].by_epoch} == set(BY_EPOCH)
    assert all(METHODS[n].rules == ("last", "val/epoch") for n in BY_EPOCH)
    assert all(METHODS[n].rules == ("fixed",) for n in set(NAMES) - set(BY_EPOCH))


@pytest.mark.parametrize("name", NAMES)
def test_runs_through_the_runner_on_thyroid(name):
    rows = run_one(RunConfig("thyroid", name, gamma_l=0.01, profile="smoke"))
    assert rows[0]["status"] == "ok", rows[0]["error"]
    assert [r["rule"] for r in rows] == list(METHODS[name].rules)
    assert all(0 <= r["auroc"] <= 1 and r["n_collected"] == 22 for r in rows)


@pytest.mark.parametrize("name", BY_EPOCH)
def test_the_last_row_is_what_the_fixed_row_was(name):
    """``last`` is the number the runner reported as ``fixed`` before the epoch rules: a plain fit (no eval set,
    no callback) on the same split, scored on the test split.  ``val/epoch`` is a recorded epoch's."""
    from aabigan.experiments import _build, _split
    from aabigan.scores import auprc

    cfg = RunConfig("thyroid", name, gamma_l=0.01, seed=1, profile="smoke")
    last, chosen = run_one(cfg)
    split, X, y = _split(cfg)
    s = _build(cfg).fit(X, y).decision_function(split.X_test)
    assert (last["rule"], last["epoch"]) == ("last", 5)
    assert (last["auroc"], last["auprc"]) == (auroc(split.y_test, s), auprc(split.y_test, s))
    assert chosen["rule"] == "val/epoch" and 1 <= chosen["epoch"] <= 5


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_mnist(name):
    rows = run_one(RunConfig("mnist", name, 0, (1,), gamma_l=0.05, profile="smoke"))
    assert rows[0]["status"] == "ok", rows[0]["error"]
    # and on the slightly larger split, through the same builder and the interface directly
    split = make_split("mnist", 0, [1], gamma_l=0.05, seed=0, max_train_normal=200, max_eval=300)
    settings = {**get_profile("smoke").method_settings("mnist", "image"), "random_state": 0}
    det = METHODS[name].build(settings)
    keep = slice(None) if METHODS[name].uses_labels else split.y_train == 0
    det.fit(split.X_train[keep], split.y_train[keep])
    s = det.decision_function(split.X_test)
    assert s.shape == (len(split.X_test),) and np.all(np.isfinite(s))
