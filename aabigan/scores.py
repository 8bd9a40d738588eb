"""Anomaly scores of a trained bidirectional GAN (paper, Sec. 3.4); higher = more anomalous."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from .nets import eval_mode

__all__ = ["SCORES", "EXTRA_SCORES", "reconstruction_error", "compute_scores", "auroc", "auprc"]

#: the paper's two scores (Sec. 3.4), recorded for every run
SCORES = ("reconstruction", "latent")
#: a score computed only when asked for: ``features``, ALAD's feature-matching score on D' -- the L1 distance
#: between D''s last hidden activations for (x, x) and for (x, G(E(x))) (Zenati et al. 2018, eq. 5)
EXTRA_SCORES = ("features",)


def reconstruction_error(encoder, generator, X: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """||x - G(E(x))||^2 per sample (summed over all features/pixels)."""
    return compute_scores(encoder, generator, X, ("reconstruction",), batch=batch)["reconstruction"]


@torch.no_grad()
def compute_scores(encoder, generator, X: torch.Tensor, which=SCORES, stacked: bool = False,
                   batch: int = 1024, pair_disc=None) -> dict[str, np.ndarray]:
    """Both scores (or those in ``which``) from one encoder pass per batch, the networks in eval mode.

    ``stacked=True`` scores R runs at once with stacked networks (:mod:`aabigan.stacked`): X has shape
    (R, n, d) and every score (R, n).  ``"features"`` in ``which`` needs the pair discriminator D'
    (``pair_disc``) and single runs.
    """
    bdim = 1 if stacked else 0
    unknown = [w for w in which if w not in SCORES + EXTRA_SCORES]
    if unknown:
        raise ValueError(f"unknown score(s) {unknown}; choose from {SCORES + EXTRA_SCORES}")
    if "features" in which and (pair_disc is None or stacked):
        raise ValueError("the features score needs the pair discriminator D' (pair_disc=True) of a single run")
    parts: dict[str, list] = {name: [] for name in which}
    with eval_mode(encoder, generator, pair_disc):
        n = X.shape[bdim]
        for i in range(0, n, batch):
            x = X.narrow(bdim, i, min(batch, n - i))
            z = encoder(x)
            if "reconstruction" in parts:
                parts["reconstruction"].append((x - generator(z)).flatten(bdim + 1).pow(2).sum(-1))
            if "latent" in parts:
                parts["latent"].append(z.norm(dim=-1))
            if "features" in parts:
                gap = pair_disc.features(x, x) - pair_disc.features(x, generator(z))
                parts["features"].append(gap.abs().flatten(1).sum(-1))
    out = {name: torch.cat(p, bdim).cpu().numpy().astype(np.float64) for name, p in parts.items()}
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
    """Area under the ROC curve, in [0, 1], for labels y (1 = anomaly) and scores (higher = anomalous):
    scikit-learn's ``roc_auc_score`` (tied scores count half), after the checks above."""
    return float(roc_auc_score(*_check_binary(y, scores)))


def auprc(y, scores) -> float:
    """Average precision with the anomalies as the positive class: scikit-learn's ``average_precision_score``."""
    return float(average_precision_score(*_check_binary(y, scores)))
