"""AAD: an isolation forest whose leaf weights are fitted to anomaly feedback (Das et al., 2020)."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.ensemble import IsolationForest

from ..validation import check_fraction, check_X
from ._base import BaseDetector, check_positive, flatten

__all__ = ["AAD", "average_path_length"]


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of n points (Liu et al.)."""
    n = np.asarray(n, np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _node_depths(tree) -> np.ndarray:
    depth = np.zeros(tree.node_count, np.int64)
    for node in range(tree.node_count):       # children always have larger ids than their parent
        for child in (tree.children_left[node], tree.children_right[node]):
            if child != -1:
                depth[child] = depth[node] + 1
    return depth


class AAD(BaseDetector):
    """AAD, active anomaly discovery with a tree ensemble (Das et al., 2020), fed all feedback at once.

    **Assumes** that an isolation forest ranks anomalies well up to a reweighting of its leaves, and that
    anomalies the expert confirmed say which leaves matter.  Model: each sample x has a leaf-indicator
    vector z(x) over the m leaves of the forest, holding -(depth + c(leaf size)) for the leaf it reaches in
    each tree (its negated isolation path length) and 0 elsewhere, normalised to unit length; the score is
    w . z(x).  The prior w_p = 1/sqrt(m) (uniform) reproduces the isolation forest's ranking.  **Collected
    anomalies** are the feedback: w minimises AAD's loss
    mean_anomalies [max(0, q_tau - w.z(x)) + max(0, w.z_tau - w.z(x))] + lambda/2 ||w - w_p||^2,
    which pushes each labelled anomaly above the tau-quantile score q_tau of the training data (z_tau: the
    sample at that quantile), by Pegasos-style subgradient steps; q_tau and z_tau are recomputed from the
    current w in ``n_rounds`` rounds.  Higher w.z = more anomalous.
    Simplified from the original: no active loop -- all collected anomalies are given as feedback at once,
    instead of querying the top-ranked sample one at a time; no sample is labelled nominal (the original
    gets nominal labels from the queries it loses), so only the anomaly side of the hinge loss is used;
    scikit-learn's ``IsolationForest`` supplies the trees.  ``device`` is unused (no network), kept for
    the common interface.
    """

    def __init__(self, n_estimators=100, max_samples=256, tau=0.03, lam=1.0, n_rounds=10, n_steps=200,
                 contamination=0.1, device=None, random_state=None):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.tau = tau
        self.lam = lam
        self.n_rounds = n_rounds
        self.n_steps = n_steps
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _check_params(self):
        check_positive(self.n_estimators, "n_estimators", integer=True)
        check_positive(self.max_samples, "max_samples", integer=True)
        check_positive(self.lam, "lam")
        check_positive(self.n_rounds, "n_rounds", integer=True)
        check_positive(self.n_steps, "n_steps", integer=True)
        check_fraction(self.tau, "tau", 0.0, 1.0, inclusive_low=False, inclusive_high=False)

    def _leaf_matrix(self, F: np.ndarray) -> sparse.csr_matrix:
        """Rows z(x): one nonzero per tree, in the column of the leaf x reaches; unit length."""
        n, T = len(F), len(self.forest_.estimators_)
        cols = np.empty((n, T), np.int64)
        vals = np.empty((n, T), np.float64)
        for t, (tree, feats) in enumerate(zip(self.forest_.estimators_, self.forest_.estimators_features_)):
            leaf = tree.apply(F[:, feats].astype(np.float32))
            cols[:, t] = self.leaf_column_[t][leaf]
            vals[:, t] = self.leaf_value_[t][leaf]
        vals /= np.linalg.norm(vals, axis=1, keepdims=True).clip(1e-12)
        return sparse.csr_matrix((vals.ravel(), cols.ravel(), np.arange(0, n * T + 1, T)), shape=(n, self.n_leaves_))

    def _fit(self, X, y, seed):
        F = flatten(X)
        self.forest_ = IsolationForest(n_estimators=int(self.n_estimators),
                                       max_samples=min(int(self.max_samples), len(F)), random_state=seed).fit(F)
        self.leaf_column_, self.leaf_value_, offset = [], [], 0
        for est in self.forest_.estimators_:
            tree = est.tree_
            is_leaf = tree.children_left == -1
            col = np.full(tree.node_count, -1, np.int64)
            col[is_leaf] = offset + np.arange(int(is_leaf.sum()))
            offset += int(is_leaf.sum())
            self.leaf_column_.append(col)
            self.leaf_value_.append(-(_node_depths(tree) + average_path_length(tree.n_node_samples)))
        self.n_leaves_ = offset
        Z = self._leaf_matrix(F)
        self.w_prior_ = np.full(self.n_leaves_, 1.0 / np.sqrt(self.n_leaves_))
        w = self.w_prior_.copy()
        Za = Z[y == 1]
        lam, tau = float(self.lam), float(self.tau)
        self.history_ = []
        if Za.shape[0]:
            t = 0
            for r in range(int(self.n_rounds)):
                s = Z @ w
                order = np.argsort(s, kind="stable")
                pos = min(len(s) - 1, int(np.floor((1 - tau) * len(s))))
                q_tau, z_tau = float(s[order[pos]]), Z[order[pos]]
                for _ in range(int(self.n_steps)):
                    t += 1
                    sa = Za @ w
                    below_q = sa < q_tau                             # hinge max(0, q_tau - w.z) active
                    below_tau = sa < float((z_tau @ w)[0])           # hinge max(0, w.z_tau - w.z) active
                    grad = lam * (w - self.w_prior_)
                    grad -= np.asarray(Za[below_q].sum(0)).ravel() / Za.shape[0]
                    if below_tau.any():
                        grad += below_tau.sum() / Za.shape[0] * z_tau.toarray().ravel()
                        grad -= np.asarray(Za[below_tau].sum(0)).ravel() / Za.shape[0]
                    w = w - grad / (lam * t)
                sa = Za @ w
                self.history_.append({"round": r + 1, "q_tau": q_tau,
                                      "share_above_q_tau": float(np.mean(sa >= q_tau))})
        self.w_ = w

    def _score(self, X):
        return self._leaf_matrix(flatten(X)) @ self.w_

    def isolation_forest_score(self, X) -> np.ndarray:
        """The unweighted forest's score (the prior w_p), for comparison; higher = more anomalous."""
        self._check_fitted()
        return self._leaf_matrix(flatten(check_X(X, "X", n_features=self.sample_shape_))) @ self.w_prior_
