"""Kernel baselines: the one-class SVM and SSAD (semi-supervised SVDD), on raw inputs or learned features."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.svm import OneClassSVM

from ..validation import check_fraction
from ._base import AEFeatures, BaseDetector, check_positive

__all__ = ["OCSVM", "SSAD", "rbf_gamma", "solve_ssad_dual"]


def check_gamma(gamma) -> None:
    if isinstance(gamma, str):
        if gamma != "scale":
            raise ValueError(f"gamma must be 'scale' or a positive number, got {gamma!r}")
    else:
        check_positive(gamma, "gamma")


def rbf_gamma(F: np.ndarray, gamma) -> float:
    """``gamma="scale"``: 1 / (n_features * Var(F)), scikit-learn's rule; a number is used as given."""
    check_gamma(gamma)
    if isinstance(gamma, str):
        var = float(F.var())
        return 1.0 / (F.shape[1] * var) if var > 0 else 1.0
    return float(gamma)


class OCSVM(AEFeatures, BaseDetector):
    """One-class SVM (Schölkopf et al., 2001), scikit-learn's ``OneClassSVM``, RBF kernel.

    **Assumes** that normal data fill a region that a kernel hyperplane (for the RBF kernel, equivalently a
    hypersphere in feature space) can enclose, with at most a share ``nu`` of the training samples
    outside.  **Collected anomalies are not used**: samples with ``y = 1`` are left out of training.
    ``features="raw"`` fits on the (flattened) inputs -- the "OCSVM" column of the paper's tables;
    ``features="hybrid"`` fits on the code of an autoencoder (Deep SAD's architecture, see
    :mod:`aabigan.baselines._nets`) trained on the unlabelled samples -- "OCSVM Hybrid", Deep SAD's hybrid
    baseline.  The score is minus scikit-learn's ``decision_function`` (which is positive for inliers).
    Differs from Deep SAD's runs: the kernel width is ``gamma="scale"`` (1 / (d Var(X))), fixed in
    advance; Deep SAD picked gamma from 2^-7..2^2 with a hold-out cut from the *test* set, which we do not
    copy.
    """

    uses_labels = False

    def __init__(self, features="raw", nu=0.1, gamma="scale", epochs=150, batch_size=128, lr=1e-4,
                 weight_decay=5e-4, width=32, rep_dim=None, hidden=None, contamination=0.1, device=None,
                 random_state=None):
        self.features = features
        self.nu = nu
        self.gamma = gamma
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.width = width
        self.rep_dim = rep_dim
        self.hidden = hidden
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _check_params(self):
        self._check_features()
        check_gamma(self.gamma)
        check_fraction(self.nu, "nu", 0.0, 1.0, inclusive_low=False)

    def _fit(self, X, y, seed):
        self._fit_features(X, seed)
        F = self._features(X)
        self.gamma_ = rbf_gamma(F, self.gamma)
        self.svm_ = OneClassSVM(kernel="rbf", nu=float(self.nu), gamma=self.gamma_).fit(F)

    def _score(self, X):
        return -self.svm_.decision_function(self._features(X))


# ------------------------------------------------------------------------------------------ SSAD
def solve_ssad_dual(K: np.ndarray, labelled: np.ndarray, C_u: float, C_l: float, kappa: float,
                    tol: float = 1e-6, max_iter: int = 100_000) -> tuple[np.ndarray, int]:
    """The SSAD dual with unlabelled samples and labelled *anomalies*, by SMO (pairwise exact steps).

    With y_i = +1 (unlabelled) or -1 (labelled anomaly) and b_i = y_i alpha_i, the dual of the convex SSAD
    of Görnitz et al. (2013) in its hyperplane form (the one of tilitools' ``ConvexSSAD``; for the RBF
    kernel, k(x, x) = 1, it is the hypersphere form) reads

        minimise 1/2 b' K b   subject to   sum_i b_i = 1,   sum_{labelled} b_j <= -kappa,
                                           0 <= b_i <= C_u (unlabelled),  -C_l <= b_j <= 0 (labelled).

    Each step moves mass t between the pair (i, j) that violates the optimality conditions most
    (b_i += t, b_j -= t), with the exact line search clipped to the box and to the slack of the
    labelled-sum constraint.  Stops when the largest violation is below ``tol`` (warns if ``max_iter``
    steps did not get there).  Returns (b, iterations).
    """
    lab = np.asarray(labelled, bool)
    m, n_u = int(lab.sum()), int((~lab).sum())
    if n_u * C_u < 1 + kappa - 1e-12:
        raise ValueError(f"SSAD is infeasible: {n_u} unlabelled samples x C_u={C_u} < 1 + kappa = {1 + kappa}")
    if kappa > m * C_l + 1e-12:
        raise ValueError(f"SSAD is infeasible: kappa={kappa} > {m} labelled samples x C_l={C_l}")
    lo = np.where(lab, -C_l, 0.0)
    hi = np.where(lab, 0.0, C_u)
    b = np.where(lab, -kappa / max(m, 1), (1 + kappa) / n_u)
    g = K @ b
    diag = np.diag(K).copy()
    it = 0
    for it in range(1, int(max_iter) + 1):
        up = b < hi - 1e-12       # b_i can grow
        down = b > lo + 1e-12     # b_j can shrink
        slack = -kappa - b[lab].sum() if m else np.inf    # room before sum_l b_l hits -kappa
        best, pair = tol, None
        # candidate pairs (i grows, j shrinks); a pair with i labelled and j unlabelled uses the slack
        for gi_mask, gj_mask, uses_slack in (
                (up & ~lab, down & ~lab, False), (up & lab, down & lab, False),
                (up & ~lab, down & lab, False), (up & lab, down & ~lab, True)):
            if uses_slack and slack <= 1e-12:
                continue
            if not gi_mask.any() or not gj_mask.any():
                continue
            i = int(np.argmin(np.where(gi_mask, g, np.inf)))
            j = int(np.argmax(np.where(gj_mask, g, -np.inf)))
            viol = g[j] - g[i]
            if viol > best:
                best, pair = viol, (i, j, uses_slack)
        if pair is None:
            break
        i, j, uses_slack = pair
        curv = max(diag[i] + diag[j] - 2 * K[i, j], 1e-12)
        t = min((g[j] - g[i]) / curv, hi[i] - b[i], b[j] - lo[j])
        if uses_slack:
            t = min(t, slack)
        b[i] += t
        b[j] -= t
        g += t * (K[:, i] - K[:, j])
    else:
        warnings.warn(f"the SSAD dual solver stopped after max_iter={max_iter} steps, short of tol={tol}",
                      RuntimeWarning, stacklevel=2)
    return b, it


class SSAD(AEFeatures, BaseDetector):
    """SSAD, semi-supervised anomaly detection (Görnitz et al., 2013), kernel dual solved in-package.

    **Assumes** that normal data lie inside a kernel hypersphere (for the RBF kernel: on one side of a
    hyperplane through feature space) and that anomalies lie outside it.  **Collected anomalies** get the
    labelled constraint: they must fall outside the boundary by a margin gamma, whose size is rewarded
    with weight ``kappa`` (the dual's ``sum_{labelled} alpha_j >= kappa``); the unlabelled samples must
    fall inside, each with a slack.  ``C_u`` and ``C_l`` bound the dual weights (the slack penalties
    eta_u, eta_l).  Defaults are Deep SAD's runs of this baseline: kappa = 1, C_u = C_l = 1, RBF kernel.
    ``features="raw"``: the flattened inputs ("SSAD Raw"); ``features="hybrid"``: the code of an
    autoencoder trained on the unlabelled samples ("SSAD Hybrid").  Score: rho - w . phi(x), i.e. how far
    a sample lies on the anomalous side of the boundary.

    Differences from the original code (tilitools' ``ConvexSSAD`` behind Deep SAD's runs): the QP is solved
    by a small SMO solver (:func:`solve_ssad_dual`) instead of cvxopt; the training set is subsampled to
    ``max_samples`` points (all collected anomalies kept, up to half of them) because the dual holds an
    n x n kernel matrix; gamma is ``"scale"``, fixed in advance, where Deep SAD chose it with a hold-out
    cut from the test set; with no collected anomalies kappa is 0 (the original does the same) and SSAD
    reduces to the SVDD / one-class SVM.
    """

    def __init__(self, features="raw", kappa=1.0, C_u=1.0, C_l=1.0, gamma="scale", max_samples=500, tol=1e-6,
                 max_iter=100_000, epochs=150, batch_size=128, lr=1e-4, weight_decay=5e-4, width=32, rep_dim=None,
                 hidden=None, contamination=0.1, device=None, random_state=None):
        self.features = features
        self.kappa = kappa
        self.C_u = C_u
        self.C_l = C_l
        self.gamma = gamma
        self.max_samples = max_samples
        self.tol = tol
        self.max_iter = max_iter
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.width = width
        self.rep_dim = rep_dim
        self.hidden = hidden
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _check_params(self):
        self._check_features()
        check_gamma(self.gamma)
        check_positive(self.kappa, "kappa", allow_zero=True)
        check_positive(self.C_u, "C_u")
        check_positive(self.C_l, "C_l")
        check_positive(self.tol, "tol")
        check_positive(self.max_iter, "max_iter", integer=True)
        if check_positive(self.max_samples, "max_samples", integer=True) < 4:
            raise ValueError(f"max_samples must be at least 4, got {self.max_samples}")

    def _subsample(self, y: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        lab, unl = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        n_max = int(self.max_samples)
        if len(lab) + len(unl) <= n_max:
            return np.arange(len(y))
        lab = np.sort(rng.choice(lab, min(len(lab), n_max // 2), replace=False))
        unl = np.sort(rng.choice(unl, min(len(unl), n_max - len(lab)), replace=False))
        return np.concatenate([unl, lab])

    def _fit(self, X, y, seed):
        self._fit_features(X[y == 0], seed)
        keep = self._subsample(y, seed)
        F, lab = self._features(X[keep]), y[keep] == 1
        self.n_qp_ = len(keep)
        self.gamma_ = rbf_gamma(F, self.gamma)
        K = rbf_kernel(F, F, gamma=self.gamma_)
        C_u, C_l = float(self.C_u), float(self.C_l)
        m = int(lab.sum())
        self.kappa_ = min(float(self.kappa), m * C_l) if m else 0.0
        b, self.n_iter_ = solve_ssad_dual(K, lab, C_u, C_l, self.kappa_, float(self.tol), int(self.max_iter))
        sv = np.abs(b) > 1e-9
        self.support_vectors_, self.dual_coef_ = F[sv], b[sv]   # dual_coef_ = y_i alpha_i
        f = K[:, sv] @ b[sv]                                    # w . phi(x_i)
        free = (~lab) & (b > 1e-9) & (b < C_u - 1e-9)           # unlabelled on the boundary
        if free.any():
            self.rho_ = float(np.mean(f[free]))
        else:   # no free support vector: the middle of the interval KKT allows
            inside, bound = (~lab) & (b <= 1e-9), (~lab) & (b >= C_u - 1e-9)
            lo_, hi_ = (f[bound].max() if bound.any() else f.min()), (f[inside].min() if inside.any() else f.max())
            self.rho_ = float((lo_ + hi_) / 2)

    def _score(self, X):
        Kx = rbf_kernel(self._features(X), self.support_vectors_, gamma=self.gamma_)
        return self.rho_ - Kx @ self.dual_coef_
