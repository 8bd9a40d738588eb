"""Anomaly scores of a trained bidirectional GAN (paper, Sec. 3.4); higher = more anomalous."""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata

__all__ = ["SCORES", "reconstruction_error", "latent_norm", "compute_scores", "auroc", "auprc"]

SCORES = ("reconstruction", "latent")


@torch.no_grad()
def _batched(fn, X: torch.Tensor, batch: int = 1024) -> np.ndarray:
    return torch.cat([fn(X[i:i + batch]) for i in range(0, X.shape[0], batch)]).cpu().numpy().astype(np.float64)


def reconstruction_error(encoder, generator, X: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """||x - G(E(x))||^2 per sample (summed over all features/pixels)."""
    return _batched(lambda x: (x - generator(encoder(x))).flatten(1).pow(2).sum(1), X, batch)


def latent_norm(encoder, X: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """||E(x)|| per sample: codes of normal data should look like draws from N(0, I)."""
    return _batched(lambda x: encoder(x).norm(dim=1), X, batch)


def compute_scores(encoder, generator, X: torch.Tensor, which=SCORES) -> dict[str, np.ndarray]:
    """Both scores (or those in ``which``) with the networks in eval mode."""
    was = (encoder.training, generator.training)
    encoder.eval()
    generator.eval()
    try:
        out = {}
        if "reconstruction" in which:
            out["reconstruction"] = reconstruction_error(encoder, generator, X)
        if "latent" in which:
            out["latent"] = latent_norm(encoder, X)
    finally:
        encoder.train(was[0])
        generator.train(was[1])
    for name, s in out.items():
        if not np.all(np.isfinite(s)):
            raise FloatingPointError(f"the {name} score is non-finite for {int(np.sum(~np.isfinite(s)))} samples")
    return out


def _check_binary(y, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if len(y) != len(scores):
        raise ValueError(f"{len(y)} labels for {len(scores)} scores")
    if len(np.unique(y)) != 2:
        raise ValueError("AUROC/AUPRC need labels of both classes (0 = normal, 1 = anomaly)")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain non-finite values")
    return (y == np.max(y)).astype(np.int64), scores


def auroc(y, scores) -> float:
    """Area under the ROC curve, in [0, 1], for labels y (1 = anomaly) and scores (higher = anomalous).

    The Mann-Whitney statistic with tied scores counted half, which equals scikit-learn's
    ``roc_auc_score``; computed directly because the runner calls it every epoch.
    """
    y, scores = _check_binary(y, scores)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    ranks = rankdata(scores)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y, scores) -> float:
    """Average precision with the anomalies as the positive class (scikit-learn's step-wise definition)."""
    y, scores = _check_binary(y, scores)
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]   # the last index of every distinct threshold
    tps = np.cumsum(t)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
