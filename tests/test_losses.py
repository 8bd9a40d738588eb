"""Every loss of :mod:`aabigan.losses` against numbers worked out by hand, and the closed forms on discrete
distributions against the paper's equations (13), (14)/(17), (18), (24), (27) and (31)-(32).

Each expectation of the paper is a batch mean, so a term with two outputs is (e1 + e2) / 2 and one with
three outputs is (e1 + e2 + e3) / 3, whatever the other terms' batch sizes.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from aabigan import losses as L


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


LN3 = math.log(3.0)


def close(value: torch.Tensor, expected: float, tol: float = 1e-12) -> None:
    assert value.dim() == 0, "a loss is a scalar"
    assert float(value) == pytest.approx(expected, abs=tol, rel=tol)


# ------------------------------------------------------------------------------------- BiGAN, eq. (4)
# logits 0 and +-ln 3 give D = sigmoid(logit) = 1/2, 3/4 and 1/4.
LOGIT_ENC = (0.0, LN3)     # D(x, E(x))  = [1/2, 3/4]
LOGIT_GEN = (LN3, -LN3)    # D(G(z), z) = [3/4, 1/4]


def test_bigan_value_is_eq4():
    # V = mean log D(x, E(x)) + mean log(1 - D(G(z), z))
    #   = (ln 1/2 + ln 3/4) / 2 + (ln 1/4 + ln 3/4) / 2
    expected = (math.log(0.5) + math.log(0.75)) / 2 + (math.log(0.25) + math.log(0.75)) / 2
    close(L.bigan_value(t(*LOGIT_ENC), t(*LOGIT_GEN)), expected)


def test_bigan_d_loss_is_minus_v():
    expected = -((math.log(0.5) + math.log(0.75)) / 2 + (math.log(0.25) + math.log(0.75)) / 2)
    close(L.bigan_d_loss(t(*LOGIT_ENC), t(*LOGIT_GEN)), expected)


def test_bigan_ge_loss_saturating_is_v():
    # the literal min-max: G and E minimise V itself
    expected = (math.log(0.5) + math.log(0.75)) / 2 + (math.log(0.25) + math.log(0.75)) / 2
    close(L.bigan_ge_loss(t(*LOGIT_ENC), t(*LOGIT_GEN), saturating=True), expected)


def test_bigan_ge_loss_non_saturating_swaps_labels():
    # -[mean log D(G(z), z) + mean log(1 - D(x, E(x)))]
    #   = -[(ln 3/4 + ln 1/4) / 2 + (ln 1/2 + ln 1/4) / 2]
    expected = -((math.log(0.75) + math.log(0.25)) / 2 + (math.log(0.5) + math.log(0.25)) / 2)
    close(L.bigan_ge_loss(t(*LOGIT_ENC), t(*LOGIT_GEN)), expected)
    close(L.bigan_ge_loss(t(*LOGIT_ENC), t(*LOGIT_GEN), saturating=False), expected)


def test_bigan_losses_are_stable_for_large_logits():
    # log-sigmoid form: no log(0) for confident discriminators
    v = L.bigan_d_loss(t(100.0, 200.0), t(-100.0, -300.0))
    assert torch.isfinite(v) and float(v) == pytest.approx(0.0, abs=1e-30)
    assert torch.isfinite(L.bigan_ge_loss(t(100.0), t(-100.0)))


# ------------------------------------------------------------------------------ LS-BiGAN, eqs. (7)-(8)
D_ENC = (0.5, 1.0)
D_GEN = (0.0, 0.5)


def test_ls_d_loss_eq7():
    # a = 1, b = 0:  ((0.5-1)^2 + (1-1)^2) / 2 + ((0-0)^2 + (0.5-0)^2) / 2 = (0.25+0)/2 + (0+0.25)/2 = 0.25
    close(L.ls_d_loss(t(*D_ENC), t(*D_GEN)), (0.25 + 0.0) / 2 + (0.0 + 0.25) / 2)
    # a = 2, b = -1: ((0.5-2)^2 + (1-2)^2) / 2 + ((0+1)^2 + (0.5+1)^2) / 2 = (2.25+1)/2 + (1+2.25)/2 = 3.25
    close(L.ls_d_loss(t(*D_ENC), t(*D_GEN), a=2.0, b=-1.0), (2.25 + 1.0) / 2 + (1.0 + 2.25) / 2)


def test_ls_ge_loss_eq8():
    # c = 0.5 (default): ((0.5-0.5)^2 + (1-0.5)^2) / 2 + ((0-0.5)^2 + (0.5-0.5)^2) / 2 = 0.125 + 0.125
    close(L.ls_ge_loss(t(*D_ENC), t(*D_GEN)), (0.0 + 0.25) / 2 + (0.25 + 0.0) / 2)
    # c = 0.75: ((-0.25)^2 + 0.25^2) / 2 + ((-0.75)^2 + (-0.25)^2) / 2 = 0.0625 + 0.3125
    close(L.ls_ge_loss(t(*D_ENC), t(*D_GEN), c=0.75), (0.0625 + 0.0625) / 2 + (0.5625 + 0.0625) / 2)


# ----------------------------------------------------------------- AA-BiGAN, eqs. (9), (10), (15), (16)
D_POS = (0.5, 1.0)
D_NEG = (0.2, 0.6, 1.0)
D_GEN2 = (0.1, 0.3)


def test_aa_d_loss_eq15_default_target_is_midpoint():
    # pos -> a = 1:         ((0.5-1)^2 + 0^2) / 2             = 0.25 / 2  = 0.125
    # neg -> (a+b)/2 = 0.5: ((-0.3)^2 + 0.1^2 + 0.5^2) / 3    = 0.35 / 3
    # gen -> b = 0:         (0.1^2 + 0.3^2) / 2               = 0.10 / 2  = 0.05
    close(L.aa_d_loss(t(*D_POS), t(*D_NEG), t(*D_GEN2)), 0.25 / 2 + (0.09 + 0.01 + 0.25) / 3 + (0.01 + 0.09) / 2)


def test_aa_d_loss_eq15_general_targets():
    # a = 2, b = -1, (a+b)/2 = 0.5
    # pos: ((0.5-2)^2 + (1-2)^2) / 2 = (2.25 + 1) / 2
    # neg: ((0.2-0.5)^2 + (0.6-0.5)^2 + (1-0.5)^2) / 3 = (0.09 + 0.01 + 0.25) / 3
    # gen: ((0.1+1)^2 + (0.3+1)^2) / 2 = (1.21 + 1.69) / 2
    expected = (2.25 + 1.0) / 2 + (0.09 + 0.01 + 0.25) / 3 + (1.21 + 1.69) / 2
    close(L.aa_d_loss(t(*D_POS), t(*D_NEG), t(*D_GEN2), a=2.0, b=-1.0), expected, tol=1e-12)


def test_aa_d_loss_eq9_neg_target_zero():
    # eq. (9): the collected anomalies are pushed to 0 like generated pairs
    # neg: (0.2^2 + 0.6^2 + 1^2) / 3 = (0.04 + 0.36 + 1) / 3
    expected = 0.25 / 2 + (0.04 + 0.36 + 1.0) / 3 + (0.01 + 0.09) / 2
    close(L.aa_d_loss(t(*D_POS), t(*D_NEG), t(*D_GEN2), a=1.0, b=0.0, neg_target=0.0), expected)


@pytest.mark.parametrize("d_neg", [None, torch.empty(0, dtype=torch.float64)], ids=["None", "empty"])
def test_aa_d_loss_without_anomalies_is_eq7(d_neg):
    # the middle term vanishes: 0.125 + 0.05, the same as ls_d_loss
    close(L.aa_d_loss(t(*D_POS), d_neg, t(*D_GEN2)), 0.25 / 2 + 0.10 / 2)
    close(L.aa_d_loss(t(*D_POS), d_neg, t(*D_GEN2)), float(L.ls_d_loss(t(*D_POS), t(*D_GEN2))))


def test_aa_ge_loss_eq16():
    # c = 0.75 (default):
    # pos: ((0.5-0.75)^2 + (1-0.75)^2) / 2                 = (0.0625 + 0.0625) / 2
    # neg: ((0.2-0.75)^2 + (0.6-0.75)^2 + (1-0.75)^2) / 3  = (0.3025 + 0.0225 + 0.0625) / 3
    # gen: ((0.1-0.75)^2 + (0.3-0.75)^2) / 2               = (0.4225 + 0.2025) / 2
    expected = (0.0625 + 0.0625) / 2 + (0.3025 + 0.0225 + 0.0625) / 3 + (0.4225 + 0.2025) / 2
    close(L.aa_ge_loss(t(*D_POS), t(*D_NEG), t(*D_GEN2)), expected)


def test_aa_ge_loss_eq10_c_half():
    # c = 0.5: pos (0 + 0.25)/2, neg (0.09 + 0.01 + 0.25)/3, gen (0.16 + 0.04)/2
    expected = (0.0 + 0.25) / 2 + (0.09 + 0.01 + 0.25) / 3 + (0.16 + 0.04) / 2
    close(L.aa_ge_loss(t(*D_POS), t(*D_NEG), t(*D_GEN2), c=0.5), expected)


@pytest.mark.parametrize("d_neg", [None, torch.empty(0, dtype=torch.float64)], ids=["None", "empty"])
def test_aa_ge_loss_without_anomalies_is_eq8(d_neg):
    close(L.aa_ge_loss(t(*D_POS), d_neg, t(*D_GEN2), c=0.5), (0.0 + 0.25) / 2 + (0.16 + 0.04) / 2)
    close(L.aa_ge_loss(t(*D_POS), d_neg, t(*D_GEN2), c=0.5), float(L.ls_ge_loss(t(*D_POS), t(*D_GEN2))))


# ------------------------------------------------------------------- D' of Supp. D, eqs. (33)-(34)
DP_SELF = (0.9, 0.7)   # D'(x+, x+)
DP_NEG = (0.5, 0.1)    # D'(x-, x-)
DP_REC = (0.2, 0.4)    # D'(x+, G(E(x+)))


def test_recon_d_loss_eq33():
    # (x+, x+) -> 1:       ((0.9-1)^2 + (0.7-1)^2) / 2 = (0.01 + 0.09) / 2 = 0.05
    # (x-, x-) -> 0.5:     ((0.5-0.5)^2 + (0.1-0.5)^2) / 2 = (0 + 0.16) / 2 = 0.08
    # (x+, x_hat) -> 0:    (0.2^2 + 0.4^2) / 2 = (0.04 + 0.16) / 2 = 0.10
    close(L.recon_d_loss(t(*DP_SELF), t(*DP_NEG), t(*DP_REC)), 0.05 + 0.08 + 0.10)
    # without anomalies the middle term is absent
    close(L.recon_d_loss(t(*DP_SELF), None, t(*DP_REC)), 0.05 + 0.10)
    # a = 2, b = 0: targets 2, 1, 0 -> ((1.1)^2 + (1.3)^2)/2 + ((0.5)^2 + (0.9)^2)/2 + 0.10
    close(L.recon_d_loss(t(*DP_SELF), t(*DP_NEG), t(*DP_REC), a=2.0, b=0.0),
          (1.21 + 1.69) / 2 + (0.25 + 0.81) / 2 + 0.10)


def test_recon_ge_loss_eq34():
    # c = 0.75: ((0.15)^2 + (-0.05)^2)/2 + ((-0.25)^2 + (-0.65)^2)/2 + ((-0.55)^2 + (-0.35)^2)/2
    #         = (0.0225 + 0.0025)/2 + (0.0625 + 0.4225)/2 + (0.3025 + 0.1225)/2 = 0.0125 + 0.2425 + 0.2125
    close(L.recon_ge_loss(t(*DP_SELF), t(*DP_NEG), t(*DP_REC)), 0.0125 + 0.2425 + 0.2125)
    close(L.recon_ge_loss(t(*DP_SELF), None, t(*DP_REC)), 0.0125 + 0.2125)
    # c = 0.5: (0.16 + 0.04)/2 + (0 + 0.16)/2 + (0.09 + 0.01)/2
    close(L.recon_ge_loss(t(*DP_SELF), t(*DP_NEG), t(*DP_REC), c=0.5), 0.10 + 0.08 + 0.05)


def test_losses_are_differentiable():
    d = torch.tensor([0.5, 1.0], requires_grad=True)
    L.aa_d_loss(d, d[:1], d).backward()
    # d/dD of (D-1)^2/2 + (D-0.5)^2 [first only] + D^2/2, at D = [0.5, 1.0]:
    # first:  (0.5-1) + 2(0.5-0.5) + 0.5 = 0;  second: (1-1) + 1 = 1
    assert d.grad.tolist() == pytest.approx([0.0, 1.0])


# ===================================================================== closed forms, discrete spaces
P_POS = np.array([0.4, 0.3, 0.2, 0.1, 0.0])
P_NEG = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
P_GEN = np.array([0.25, 0.25, 0.25, 0.25, 0.0])


def test_optimal_discriminator_eq13():
    # a = 1, b = 0, anomalies' target 0: D* = p+ / (p+ + p- + pG)
    d = L.optimal_discriminator(P_POS, P_GEN, P_NEG, a=1.0, b=0.0, neg_target=0.0)
    # cell 0: 0.4 / (0.4 + 0 + 0.25) = 0.4/0.65;  cell 4: 0 / (0 + 0.4 + 0) = 0
    assert d[0] == pytest.approx(0.4 / 0.65)
    assert d[4] == pytest.approx(0.0)
    np.testing.assert_allclose(d, P_POS / (P_POS + P_NEG + P_GEN), rtol=1e-12)


def test_optimal_discriminator_eq14_eq17_without_anomalies():
    # D* = p+ / (p+ + pG); the cell without mass is free (NaN)
    d = L.optimal_discriminator(P_POS, P_GEN)
    assert d[:4] == pytest.approx([0.4 / 0.65, 0.3 / 0.55, 0.2 / 0.45, 0.1 / 0.35])
    assert np.isnan(d[4])


@pytest.mark.parametrize("a,b", [(1.0, 0.0), (2.0, -1.0), (0.0, 1.0), (0.3, 0.9)])
def test_optimal_discriminator_eq27(a, b):
    d = L.optimal_discriminator(P_POS, P_GEN, P_NEG, a=a, b=b)
    expected = (a * P_POS + (a + b) / 2 * P_NEG + b * P_GEN) / (P_POS + P_NEG + P_GEN)
    np.testing.assert_allclose(d, expected, rtol=1e-12)
    # cell 1 by hand: (0.3a + 0.1(a+b)/2 + 0.25b) / 0.65
    assert d[1] == pytest.approx((0.3 * a + 0.1 * (a + b) / 2 + 0.25 * b) / 0.65)


# -------- "check numerically that the optimal discriminator of eq. 15 is eq. 27": fit D cell by cell
# With probabilities k/10, a batch holding cell i k_i times has batch mean sum_i p_i (D_i - target)^2:
# the package's own loss on such batches is the exact expectation of eq. (15).
COUNTS_POS = [4, 3, 2, 1, 0, 0]
COUNTS_NEG = [0, 1, 2, 3, 4, 0]
COUNTS_GEN = [2, 2, 2, 2, 2, 0]    # the last cell carries no mass at all


def _cells(counts):
    return torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))


def _fit_cellwise(loss_of_d, n_cells: int, init: float = 0.0) -> np.ndarray:
    d = torch.full((n_cells,), init, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([d], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_of_d(d)
        loss.backward()
        return loss

    opt.step(closure)
    return d.detach().numpy()


@pytest.mark.parametrize("a,b,neg_target", [(1.0, 0.0, None), (1.0, 0.0, 0.0), (2.0, -1.0, None),
                                            (0.3, 0.9, None), (1.0, 0.0, 0.25)])
def test_fitted_discriminator_matches_eq27(a, b, neg_target):
    ip, ineg, ig = _cells(COUNTS_POS), _cells(COUNTS_NEG), _cells(COUNTS_GEN)
    fitted = _fit_cellwise(lambda d: L.aa_d_loss(d[ip], d[ineg], d[ig], a=a, b=b, neg_target=neg_target),
                           len(COUNTS_POS), init=0.123)
    p = [np.array(c) / 10 for c in (COUNTS_POS, COUNTS_NEG, COUNTS_GEN)]
    closed = L.optimal_discriminator(p[0], p[2], p[1], a=a, b=b, neg_target=neg_target)
    np.testing.assert_allclose(fitted[:5], closed[:5], atol=1e-3)
    assert np.isnan(closed[5])
    assert fitted[5] == pytest.approx(0.123)     # no mass, no gradient: D stays where it started


def test_fitted_discriminator_without_anomalies_matches_eq17():
    ip, ig = _cells(COUNTS_POS[:4]), _cells([1, 1, 1, 1])       # p+ = k/10, pG = 1/4
    fitted = _fit_cellwise(lambda d: L.aa_d_loss(d[ip], None, d[ig]), 4)
    # aa_d_loss with a mean over 4 generated pairs: 0.25 each, so pG = [0.25]*4
    closed = L.optimal_discriminator(np.array(COUNTS_POS[:4]) / 10, np.full(4, 0.25))
    np.testing.assert_allclose(fitted, closed, atol=1e-3)


def test_fitted_bigan_discriminator_matches_eq14():
    # eq. (4) leads to the same D* = p+ / (p+ + pG) (paper, after eq. 14), here through sigmoid(logit)
    ip, ig = _cells([4, 3, 2, 1]), _cells([1, 2, 3, 4])
    logits = _fit_cellwise(lambda d: L.bigan_d_loss(d[ip], d[ig]), 4)
    closed = L.optimal_discriminator(np.array([4, 3, 2, 1]) / 10, np.array([1, 2, 3, 4]) / 10)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), closed, atol=1e-3)


# ------------------------------------------------------------------ the G/E game at D*, eqs. 18, 28
def _dirichlet(rng, k, n):
    return rng.dirichlet(np.ones(k), size=n)


def _simplex_grid(k: int, steps: int) -> np.ndarray:
    pts = [c for c in itertools.product(range(steps + 1), repeat=k - 1) if sum(c) <= steps]
    return np.array([[*c, steps - sum(c)] for c in pts], dtype=float) / steps


def test_ge_value_at_optimum_is_eq28():
    # sum over cells of (D* - c)^2 (p+ + p- + pG), written out for the 5-cell example
    a, b, c = 1.0, 0.0, 0.75
    d = (a * P_POS + 0.5 * P_NEG + b * P_GEN) / (P_POS + P_NEG + P_GEN)
    expected = np.sum((d - c) ** 2 * (P_POS + P_NEG + P_GEN))
    assert L.ge_value_at_optimum(P_POS, P_GEN, P_NEG, a=a, b=b, c=c) == pytest.approx(expected, rel=1e-12)


def test_lemma1_value_is_quarter_pearson_chi2_eq18():
    """Eq. (18): V(G, E) = 1/4 chi2_Pearson(p_E + p_G || 2 p_G) (a = 1, b = 0, c = 1/2, no anomalies)."""
    rng = np.random.default_rng(0)
    for p_e, p_g in zip(_dirichlet(rng, 4, 20), _dirichlet(rng, 4, 20)):
        v = L.ge_value_at_optimum(p_e, p_g, a=1.0, b=0.0, c=0.5)
        assert v == pytest.approx(0.25 * L.pearson_chi2(p_e + p_g, 2 * p_g), rel=1e-9), (
            "eq. (18) as printed, 1/4 * pearson_chi2(p_E + p_G, 2 p_G), holds in the paper's (LSGAN's) notation "
            "chi2(P || Q) = integral (P - Q)^2 / P, while pearson_chi2 divides by its second argument")


def test_lemma1_value_is_the_penultimate_line_of_eq18():
    """The step of eq. (18) before the chi^2: V = integral (p_E/2 - p_G/2)^2 / (p_E + p_G)."""
    rng = np.random.default_rng(1)
    for p_e, p_g in zip(_dirichlet(rng, 4, 20), _dirichlet(rng, 4, 20)):
        v = L.ge_value_at_optimum(p_e, p_g, a=1.0, b=0.0, c=0.5)
        assert v == pytest.approx(np.sum((p_e / 2 - p_g / 2) ** 2 / (p_e + p_g)), rel=1e-12)


def test_lemma1_minimum_at_pg_equals_pe():
    p_e = np.array([0.5, 0.25, 0.25])
    grid = _simplex_grid(3, 20)
    values = np.array([L.ge_value_at_optimum(p_e, g, a=1.0, b=0.0, c=0.5) for g in grid])
    np.testing.assert_allclose(grid[values.argmin()], p_e)
    assert values.min() == pytest.approx(0.0, abs=1e-15)


def test_pearson_chi2_hand_values():
    # LSGAN's convention, sum (q - p)^2 / p: (0.25-0.5)^2/0.5 + (0.75-0.5)^2/0.5 = 0.125 + 0.125
    assert L.pearson_chi2([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25)
    # (0.5-0.25)^2/0.25 + (0.5-0.75)^2/0.75 = 0.25 + 0.0625/0.75
    assert L.pearson_chi2([0.25, 0.75], [0.5, 0.5]) == pytest.approx(0.25 + 0.0625 / 0.75)
    assert L.pearson_chi2([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert L.pearson_chi2([0.5, 0.5], [1.0, 0.0]) == pytest.approx(1.0)
    assert L.pearson_chi2([1.0, 0.0], [0.5, 0.5]) == float("inf")     # q has mass where p has none


def test_theorem2_disjoint_supports_minimum_at_pg_equals_p_pos():
    """Eqs. (9)-(10), supports of p+ and p- disjoint: min over p_G at p_G = p+, value 1/4 (eq. 24)."""
    p_pos = np.array([3, 3, 2, 0, 0]) / 8
    p_neg = np.array([0, 0, 0, 5, 3]) / 8
    kw = dict(a=1.0, b=0.0, c=0.5, neg_target=0.0)
    grid = _simplex_grid(5, 8)
    values = np.array([L.ge_value_at_optimum(p_pos, g, p_neg, **kw) for g in grid])
    assert np.allclose(grid[values.argmin()], p_pos)
    assert values.min() == pytest.approx(0.25, abs=1e-12)
    assert L.ge_value_at_optimum(p_pos, p_pos, p_neg, **kw) == pytest.approx(0.25, abs=1e-12)
    others = ~np.all(np.isclose(grid, p_pos), axis=1)
    assert np.all(values[others] > 0.25 + 1e-6)


def test_theorem2_value_matches_eq24():
    """Eq. (24) without the chi^2 notation: V = sum_{p-=0} (p+ - pG)^2 / (4 (p+ + pG)) + sum_{p->0} pG / 4 + 1/4."""
    p_pos = np.array([0.5, 0.3, 0.2, 0.0, 0.0, 0.0])
    p_neg = np.array([0.0, 0.0, 0.0, 0.6, 0.4, 0.0])
    rng = np.random.default_rng(2)
    for p_g in _dirichlet(rng, 6, 20):
        v = L.ge_value_at_optimum(p_pos, p_g, p_neg, a=1.0, b=0.0, c=0.5, neg_target=0.0)
        free = p_neg == 0
        expected = (np.sum((p_pos[free] - p_g[free]) ** 2 / (4 * (p_pos[free] + p_g[free])))
                    + p_g[~free].sum() / 4 + 0.25)
        assert v == pytest.approx(expected, rel=1e-12)


def test_eq9_targets_fail_without_disjoint_supports():
    """Why Theorem 3 is needed: with overlapping supports eq. (9)'s minimiser moves away from p+."""
    p_pos = np.array([0.5, 0.5, 0.0])
    p_neg = np.array([0.0, 0.5, 0.5])
    kw = dict(a=1.0, b=0.0, c=0.5, neg_target=0.0)
    grid = _simplex_grid(3, 20)
    values = np.array([L.ge_value_at_optimum(p_pos, g, p_neg, **kw) for g in grid])
    at_p_pos = L.ge_value_at_optimum(p_pos, p_pos, p_neg, **kw)   # 1/36 * 3/2 + 1/4 * 1/2 = 1/6
    assert at_p_pos == pytest.approx(1 / 6)
    assert values.min() < at_p_pos - 0.01


@pytest.mark.parametrize("a,b,c", [(1.0, 0.0, 0.75), (1.0, 0.0, 0.25), (2.0, -1.0, 0.3), (0.0, 1.0, 0.75)])
def test_theorem3_minimum_at_pg_equals_p_pos(a, b, c):
    """Eqs. (15)-(16) with overlapping supports: V >= 3 phi((a+b)/2) = 3 ((a+b)/2 - c)^2 (eq. 31), with
    equality exactly at p_G = p+ (eq. 32), whatever p-."""
    bound = 3 * ((a + b) / 2 - c) ** 2
    rng = np.random.default_rng(3)
    p_pos = np.array([0.4, 0.3, 0.2, 0.1])
    family = np.concatenate([_simplex_grid(4, 10), _dirichlet(rng, 4, 200)])
    assert any(np.allclose(g, p_pos) for g in family)      # p+ is a member of the family
    for p_neg in (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.25, 0.25, 0.25, 0.25]), np.array([0, 0, 0.5, 0.5])):
        values = np.array([L.ge_value_at_optimum(p_pos, g, p_neg, a=a, b=b, c=c) for g in family])
        assert np.all(values >= bound - 1e-12)
        assert L.ge_value_at_optimum(p_pos, p_pos, p_neg, a=a, b=b, c=c) == pytest.approx(bound, abs=1e-12)
        assert np.allclose(family[values.argmin()], p_pos)
        others = ~np.all(np.isclose(family, p_pos), axis=1)
        assert np.all(values[others] > bound + 1e-9)


# -------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("bad,match", [
    ([0.5, 0.4], "sum to 1"),
    ([0.6, 0.6], "sum to 1"),
    ([1.5, -0.5], "non-negative"),
    ([np.nan, 1.0], "finite"),
    ([[0.5, 0.5]], "1-D"),
])
@pytest.mark.parametrize("where", ["p_pos", "p_gen", "p_neg"])
def test_closed_forms_reject_bad_probabilities(bad, match, where):
    good = [0.5, 0.5]
    kwargs = {"p_pos": good, "p_gen": good, "p_neg": good, where: bad}
    with pytest.raises(ValueError, match=match):
        L.optimal_discriminator(**kwargs)
    with pytest.raises(ValueError, match=match):
        L.ge_value_at_optimum(**kwargs)


def test_closed_forms_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        L.optimal_discriminator([0.5, 0.5], [1 / 3, 1 / 3, 1 / 3])
    with pytest.raises(ValueError, match="same length"):
        L.ge_value_at_optimum([0.5, 0.5], [0.5, 0.5], [1 / 3, 1 / 3, 1 / 3])
