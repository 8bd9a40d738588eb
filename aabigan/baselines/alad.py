"""ALAD (Zenati et al., 2018), built on AA-BiGAN's networks and training loop without the anomaly term."""
from __future__ import annotations

import torch

from ..detector import AABiGAN
from ..scores import compute_scores
from ._base import BaseDetector, batched, eval_mode

__all__ = ["ALAD", "pair_features"]

ALAD_SCORES = ("features", "reconstruction")


def pair_features(pair_disc: torch.nn.Module, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """The last hidden layer of the pair discriminator D'(x, x') = D_xx (the input of its final linear map)."""
    if hasattr(pair_disc, "trunk"):                    # DCGANPairDiscriminator: conv trunk, then dropout + linear
        return pair_disc.trunk(torch.cat([x, x2], 1))
    net = getattr(pair_disc, "net", None)              # MLPPairDiscriminator: one Sequential ending in a linear map
    if isinstance(net, torch.nn.Sequential) and isinstance(net[-1], torch.nn.Linear):
        return net[:-1](torch.cat([x, x2], 1))
    raise TypeError(f"cannot read hidden features out of a {type(pair_disc).__name__}")


class ALAD(BaseDetector):
    """ALAD, adversarially learned anomaly detection (Zenati et al., 2018).

    **Assumes** that a bidirectional GAN trained on normal data reconstructs normal samples x faithfully
    through G(E(x)) and anomalies poorly.  **Collected anomalies are not used** (samples with ``y = 1`` are
    left out).  Built on :class:`aabigan.AABiGAN` with ``objective="bigan"`` and the pair discriminator
    D'(x, x') -- ALAD's D_xx, which tells (x, x) from (x, G(E(x))) and enforces cycle consistency -- so it
    shares AA-BiGAN's networks, optimiser and learning rates: AA-BiGAN is this model plus the term for
    collected anomalies.  The score is ALAD's feature-matching score ||f_xx(x, x) - f_xx(x, G(E(x)))||_1,
    f_xx being D_xx's last hidden layer (``score="features"``), or ``score="reconstruction"``:
    ||x - G(E(x))||^2.
    Differs from the original ALAD: no latent-cycle discriminator D_zz, no spectral normalisation, AA-BiGAN's
    architectures (the DCGAN / MLP of :mod:`aabigan.nets`, not ALAD's per-dataset networks), and the
    networks after the last epoch are scored (no model selection on a validation set; ``fit``'s per-epoch
    hook lets a caller choose an epoch).
    """

    uses_labels = False
    trains_by_epochs = True

    def __init__(self, epochs=100, batch_size=128, lr_ge=1e-4, lr_d=2.5e-5, width=64, latent_dim=None,
                 score="features", contamination=0.1, device=None, random_state=None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_ge = lr_ge
        self.lr_d = lr_d
        self.width = width
        self.latent_dim = latent_dim
        self.score = score
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _check_params(self):
        if self.score not in ALAD_SCORES:
            raise ValueError(f"unknown score {self.score!r}; choose one of {ALAD_SCORES}")

    def _fit(self, X, y, seed):
        self.gan_ = AABiGAN(objective="bigan", pair_disc=True, epochs=int(self.epochs),
                            batch_size=int(self.batch_size), lr_ge=float(self.lr_ge), lr_d=float(self.lr_d),
                            width=int(self.width), latent_dim=self.latent_dim, score="reconstruction",
                            epoch_rule="last", contamination=float(self.contamination),
                            device=str(self.device_), random_state=seed)
        # the BiGAN's per-epoch hook is ALAD's: in it, gan_.encoder_ / generator_ are that epoch's networks
        self.gan_.fit(X, callbacks=(lambda epoch, gan: self._end_epoch(epoch),))
        self.history_ = self.gan_.history_

    def _modules(self):
        return self.gan_._modules()

    def _score(self, X):
        X = self._tensor(X)
        E, G = self.gan_.encoder_, self.gan_.generator_
        if self.score == "reconstruction":
            return compute_scores(E, G, X, ("reconstruction",))["reconstruction"]
        Dp = self.gan_.nets_.pair_disc
        with eval_mode(E, G, Dp):
            return batched(lambda x: (pair_features(Dp, x, x) - pair_features(Dp, x, G(E(x)))).abs().sum(1), X)
