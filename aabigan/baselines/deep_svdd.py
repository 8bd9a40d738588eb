"""Deep SVDD (Ruff et al., 2018) and Deep SAD (Ruff et al., 2019), with autoencoder pretraining."""
from __future__ import annotations


import torch

from ._base import BaseDetector, batched, check_positive, eval_mode, fit_epochs, lr_scheduler, train_autoencoder
from ._nets import build_autoencoder

__all__ = ["DeepSVDD", "DeepSAD", "init_center"]


def init_center(encoder: torch.nn.Module, X: torch.Tensor, eps: float = 0.1) -> torch.Tensor:
    """c = mean of the encoded samples (one forward pass, encoder in eval mode), with coordinates closer
    to 0 than ``eps`` pushed to +-eps -- as in the originals, so that a zero coordinate cannot be matched
    trivially by the bias-free network."""
    with eval_mode(encoder):
        c = torch.as_tensor(batched(encoder, X), dtype=torch.float32, device=X.device).mean(0)
    c[(c.abs() < eps) & (c < 0)] = -eps
    c[(c.abs() < eps) & (c >= 0)] = eps
    return c


class _HypersphereDetector(BaseDetector):
    """Shared by Deep SVDD and Deep SAD: pretrain, set c, then minimise the (semi-supervised) loss."""

    eta = 0.0   # overridden by Deep SAD's parameter
    trains_by_epochs = True     # the per-epoch hook serves the hypersphere stage, not the pretraining

    def _check_params(self):
        if self.ae_epochs is not None:
            check_positive(self.ae_epochs, "ae_epochs", integer=True, allow_zero=True)
        check_positive(self.eta, "eta", allow_zero=True)

    def _fit(self, X, y, seed):
        Xt, yt = self._tensor(X), torch.as_tensor(y, device=self.device_)
        ae = build_autoencoder(self.sample_shape_, self.rep_dim, int(self.width), self.hidden, bias=False)
        ae = ae.to(self.device_)
        ae_epochs = int(self.epochs if self.ae_epochs is None else self.ae_epochs)
        self.ae_history_ = []
        if ae_epochs > 0:   # pretraining sees every training sample, labels unused (as in Deep SAD)
            self.ae_history_ = train_autoencoder(ae, Xt, ae_epochs, int(self.batch_size), float(self.ae_lr),
                                                 float(self.ae_weight_decay), self._generator(seed, 1))
        net = ae.encoder
        self.center_ = init_center(net, Xt[yt == 0])
        opt = torch.optim.Adam(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        sched = lr_scheduler(opt, int(self.epochs), 1 / 3)
        gen = self._generator(seed, 2)
        eta, eps = float(self.eta), 1e-6
        self.net_ = net
        net.train()

        def batch_loss(idx):
            idx = idx.to(self.device_)
            dist = (net(Xt[idx]) - self.center_).pow(2).sum(1)
            # unlabelled: ||phi(x) - c||^2; labelled anomaly: eta (||phi(x) - c||^2 + eps)^(-1)
            return torch.where(yt[idx] == 1, eta / (dist + eps), dist).mean()

        self.history_ = fit_epochs(opt, int(self.epochs), len(Xt), int(self.batch_size), gen, batch_loss,
                                   type(self).__name__, sched, self._end_epoch)

    def _score(self, X):
        c = self.center_
        with eval_mode(self.net_):
            return batched(lambda x: (self.net_(x) - c).pow(2).sum(1), self._tensor(X))


class DeepSVDD(_HypersphereDetector):
    """Deep SVDD, one-class objective (Ruff et al., 2018).

    **Assumes** that a neural map phi can gather the normal data around one centre c in a feature space
    while anomalies land far from it.  **Collected anomalies are not used** (samples with ``y = 1`` are left
    out).  As in the original: an autoencoder (Deep SAD's architecture, bias-free, BatchNorm without affine
    parameters) is pretrained on the training data; its encoder initialises phi; c is the mean of the
    encoded training data, with coordinates within 0.1 of zero pushed to +-0.1; then phi minimises the
    mean of ||phi(x) - c||^2 with Adam (weight decay as L2), the learning rate divided by 10 after the
    first third of the epochs (Deep SAD's runs: after 50 of 150).  The score is ||phi(x) - c||^2.
    ``ae_epochs=None`` pretrains for ``epochs`` epochs.
    """

    uses_labels = False

    def __init__(self, epochs=150, ae_epochs=None, batch_size=128, lr=1e-4, ae_lr=1e-4, weight_decay=5e-7,
                 ae_weight_decay=5e-4, width=32, rep_dim=None, hidden=None, contamination=0.1, device=None,
                 random_state=None):
        self.epochs = epochs
        self.ae_epochs = ae_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.ae_lr = ae_lr
        self.weight_decay = weight_decay
        self.ae_weight_decay = ae_weight_decay
        self.width = width
        self.rep_dim = rep_dim
        self.hidden = hidden
        self.contamination = contamination
        self.device = device
        self.random_state = random_state


class DeepSAD(_HypersphereDetector):
    """Deep SAD, deep semi-supervised anomaly detection (Ruff et al., 2019).

    **Assumes**, like Deep SVDD, that normal data can be mapped close to a centre c; and that the
    **collected anomalies** should be mapped far from it: an unlabelled sample contributes
    ||phi(x) - c||^2 to the loss, a collected anomaly eta (||phi(x) - c||^2 + 1e-6)^(-1) (eta = 1), averaged
    over each minibatch drawn uniformly from the whole training set, as in the original.  Pretraining,
    network, centre, optimiser and schedule as in :class:`DeepSVDD` (the original's).  The score is
    ||phi(x) - c||^2.  With no collected anomaly it is Deep SVDD.
    One deliberate difference: c is the mean code of the *unlabelled* samples (the original averages all
    training samples, the few collected anomalies included).
    """

    def __init__(self, eta=1.0, epochs=150, ae_epochs=None, batch_size=128, lr=1e-4, ae_lr=1e-4,
                 weight_decay=5e-7, ae_weight_decay=5e-4, width=32, rep_dim=None, hidden=None, contamination=0.1,
                 device=None, random_state=None):
        self.eta = eta
        self.epochs = epochs
        self.ae_epochs = ae_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.ae_lr = ae_lr
        self.weight_decay = weight_decay
        self.ae_weight_decay = ae_weight_decay
        self.width = width
        self.rep_dim = rep_dim
        self.hidden = hidden
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
