"""Pure loss functions of AA-BiGAN and the GANs it grows from.

Every function takes discriminator *outputs* (tensors) and targets and returns a scalar tensor, so each
equation of the paper can be checked by hand on a few numbers.  Each expectation of the paper is a batch
mean, so every term weighs the same whatever its batch size (as in the paper's integrals).

Equation numbers refer to Tian, Su & Yin (IJCAI 2022) and its supplement.

Also here: the closed forms used by the book's derivations on *discrete* distributions — the optimal
discriminators (eqs. 13, 14, 17, 27) and the value of the generator/encoder game at that optimum (eq. 28).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "bigan_value", "bigan_d_loss", "bigan_ge_loss",
    "ls_d_loss", "ls_ge_loss",
    "aa_d_loss", "aa_ge_loss",
    "recon_d_loss", "recon_ge_loss",
    "optimal_discriminator", "ge_value_at_optimum", "pearson_chi2",
]


def _mean_sq(out: torch.Tensor, target: float) -> torch.Tensor:
    return ((out - target) ** 2).mean()


def _present(t: torch.Tensor | None) -> bool:
    return t is not None and t.numel() > 0


# ---------------------------------------------------------------------------------------------- BiGAN
def bigan_value(logit_enc: torch.Tensor, logit_gen: torch.Tensor) -> torch.Tensor:
    """V(D, G, E) of eq. (4) from discriminator logits (D = sigmoid(logit)).

    V = E_{p_E}[log D(x, E(x))] + E_{p_G}[log(1 - D(G(z), z))].
    """
    return F.logsigmoid(logit_enc).mean() + F.logsigmoid(-logit_gen).mean()


def bigan_d_loss(logit_enc: torch.Tensor, logit_gen: torch.Tensor) -> torch.Tensor:
    """The discriminator maximises eq. (4): its loss is -V."""
    return -bigan_value(logit_enc, logit_gen)


def bigan_ge_loss(logit_enc: torch.Tensor, logit_gen: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """Generator/encoder loss for eq. (4).

    ``saturating=True`` is the literal min-max (minimise V).  The default is the usual non-saturating form
    used by BiGAN/ALI in practice: the labels of the two pairs are swapped,
    -E_{p_G}[log D] - E_{p_E}[log(1 - D)], which has the same fixed point and stronger early gradients.
    """
    if saturating:
        return bigan_value(logit_enc, logit_gen)
    return -(F.logsigmoid(logit_gen).mean() + F.logsigmoid(-logit_enc).mean())


# ------------------------------------------------------------------------------------ least squares
def ls_d_loss(d_enc: torch.Tensor, d_gen: torch.Tensor, a: float = 1.0, b: float = 0.0) -> torch.Tensor:
    """Eq. (7): E_{p_E}[(D - a)^2] + E_{p_G}[(D - b)^2] (the paper uses a = 1, b = 0)."""
    return _mean_sq(d_enc, a) + _mean_sq(d_gen, b)


def ls_ge_loss(d_enc: torch.Tensor, d_gen: torch.Tensor, c: float = 0.5) -> torch.Tensor:
    """Eq. (8): E_{p_E}[(D - c)^2] + E_{p_G}[(D - c)^2] (the paper's LS-BiGAN uses c = 0.5)."""
    return _mean_sq(d_enc, c) + _mean_sq(d_gen, c)


# ---------------------------------------------------------------------------------- anomaly-aware
def aa_d_loss(d_pos: torch.Tensor, d_neg: torch.Tensor | None, d_gen: torch.Tensor,
              a: float = 1.0, b: float = 0.0, neg_target: float | None = None) -> torch.Tensor:
    """The anomaly-aware discriminator loss.

    Eq. (15): E_{p_E^+}[(D - a)^2] + E_{p_E^-}[(D - (a+b)/2)^2] + E_{p_G}[(D - b)^2].
    ``neg_target`` overrides the anomalies' target: ``neg_target=b`` with a = 1, b = 0 is eq. (9), the
    disjoint-support objective of Theorem 2.  With no collected anomalies (``d_neg`` None or empty) the
    middle term is absent and this is eq. (7).
    """
    loss = _mean_sq(d_pos, a) + _mean_sq(d_gen, b)
    if _present(d_neg):
        loss = loss + _mean_sq(d_neg, (a + b) / 2 if neg_target is None else neg_target)
    return loss


def aa_ge_loss(d_pos: torch.Tensor, d_neg: torch.Tensor | None, d_gen: torch.Tensor, c: float = 0.75) -> torch.Tensor:
    """Eq. (16) (and eq. (10) with c = 0.5): every pair is pulled towards the target c."""
    loss = _mean_sq(d_pos, c) + _mean_sq(d_gen, c)
    if _present(d_neg):
        loss = loss + _mean_sq(d_neg, c)
    return loss


def recon_d_loss(dp_pos_self: torch.Tensor, dp_neg_self: torch.Tensor | None, dp_pos_rec: torch.Tensor,
                 a: float = 1.0, b: float = 0.0) -> torch.Tensor:
    """The D' terms of eq. (33).

    D'(x+, x+) -> a, D'(x-, x-) -> (a+b)/2, D'(x+, G(E(x+))) -> b.  The same form as eq. (15) with the
    pairs (x, x) in place of (x, E(x)) and (x, x_hat) in place of (G(z), z).
    """
    return aa_d_loss(dp_pos_self, dp_neg_self, dp_pos_rec, a=a, b=b)


def recon_ge_loss(dp_pos_self: torch.Tensor, dp_neg_self: torch.Tensor | None, dp_pos_rec: torch.Tensor,
                  c: float = 0.75) -> torch.Tensor:
    """The D' terms of eq. (34): all three pairs pulled towards c.

    Only D'(x+, x_hat) depends on G and E; the two self-pair terms are constants for G and E and are kept
    so that the value printed during training is the paper's eq. (34).
    """
    return aa_ge_loss(dp_pos_self, dp_neg_self, dp_pos_rec, c=c)


# ------------------------------------------------------------ closed forms on discrete distributions
def _as_prob(p, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"{name} must be a 1-D probability vector, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{name} must hold finite, non-negative probabilities")
    if not np.isclose(p.sum(), 1.0, atol=1e-8):
        raise ValueError(f"{name} must sum to 1, sums to {p.sum():.6g}")
    return p


def optimal_discriminator(p_pos, p_gen, p_neg=None, a: float = 1.0, b: float = 0.0,
                          neg_target: float | None = None) -> np.ndarray:
    """The minimiser of eq. (15) point by point, for distributions on a finite set of (x, z) cells.

    D*(cell) = (a p_E^+ + t p_E^- + b p_G) / (p_E^+ + p_E^- + p_G), with t = (a+b)/2 (eq. 27), or the given
    ``neg_target`` (t = 0, a = 1, b = 0 gives eq. 13).  Without ``p_neg`` it is eq. (14)/(17).
    Cells where all three densities vanish carry no mass and are returned as NaN (D is free there).
    """
    p_pos = _as_prob(p_pos, "p_pos")
    p_gen = _as_prob(p_gen, "p_gen")
    p_neg = np.zeros_like(p_pos) if p_neg is None else _as_prob(p_neg, "p_neg")
    if not (p_pos.shape == p_gen.shape == p_neg.shape):
        raise ValueError("p_pos, p_gen and p_neg must have the same length")
    t = (a + b) / 2 if neg_target is None else neg_target
    total = p_pos + p_neg + p_gen
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (a * p_pos + t * p_neg + b * p_gen) / np.where(total > 0, total, 1), np.nan)


def ge_value_at_optimum(p_pos, p_gen, p_neg=None, a: float = 1.0, b: float = 0.0, c: float = 0.75,
                        neg_target: float | None = None) -> float:
    """V(G, E) of eq. (16) with D = D* (eq. 28): sum over cells of (D* - c)^2 (p_E^+ + p_E^- + p_G)."""
    d = optimal_discriminator(p_pos, p_gen, p_neg, a=a, b=b, neg_target=neg_target)
    p_neg_arr = np.zeros(len(d)) if p_neg is None else np.asarray(p_neg, dtype=float)
    mass = np.asarray(p_pos, float) + p_neg_arr + np.asarray(p_gen, float)
    keep = mass > 0
    return float(np.sum((d[keep] - c) ** 2 * mass[keep]))


def pearson_chi2(p, q) -> float:
    """Pearson chi^2 divergence in LSGAN's convention (Mao et al. 2017), which eq. (18) uses:

    chi2(p || q) = sum over cells with p > 0 of (q - p)^2 / p, so that
    (1/4) chi2(p_E + p_G || 2 p_G) = (1/4) sum (p_E - p_G)^2 / (p_E + p_G).
    Infinite when q puts mass where p has none.
    """
    p = np.asarray(p, float)
    q = np.asarray(q, float)
    keep = p > 0
    if np.any(q[~keep] > 0):
        return float("inf")
    return float(np.sum((q[keep] - p[keep]) ** 2 / p[keep]))
