"""A supervised classifier: unlabelled (treated as normal) against the collected anomalies."""
from __future__ import annotations


import torch
import torch.nn.functional as F

from ._base import BaseDetector, batched, draw, eval_mode, fit_epochs
from ._nets import build_encoder

__all__ = ["SupervisedClassifier"]


def require_anomalies(y, name: str) -> None:
    if int(y.sum()) == 0:
        raise ValueError(f"{name} learns from the collected anomalies, but y holds none (no sample with y = 1); "
                         "use an unsupervised method when gamma_l = 0")


class SupervisedClassifier(BaseDetector):
    """Supervised classifier: normal (every unlabelled sample) against anomalous (the collected ones).

    **Assumes** that the anomalies to be met resemble the collected ones -- it learns a boundary between
    the two training classes and has no reason to flag an anomaly of a new kind.  **Collected anomalies**
    are the positive class; every unlabelled sample (polluting anomalies included) is taken as normal.
    Network: Deep SAD's architecture (LeNet-type CNN for images, MLP for tables) with biases, ending in one
    logit; binary cross-entropy with Adam.  Each step draws ``batch_size`` unlabelled samples and
    ``neg_batch_size`` collected anomalies (default batch_size // 4, as AA-BiGAN) and averages the two
    classes' losses with equal weight, so the few anomalies are not drowned (this balancing is our
    choice).  The score is the logit of p(anomaly | x), which
    ranks as p(anomaly | x) does without its ties at 1.  Its hyper-parameters are all shared ones, checked
    by :meth:`BaseDetector.fit`.
    """

    trains_by_epochs = True
    needs_anomalies = True      # nothing to learn at gamma_l = 0: grids leave it out there

    def __init__(self, epochs=150, batch_size=128, neg_batch_size=None, lr=1e-3, weight_decay=1e-6, width=32,
                 hidden=None, contamination=0.1, device=None, random_state=None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.neg_batch_size = neg_batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.width = width
        self.hidden = hidden
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _fit(self, X, y, seed):
        require_anomalies(y, "the supervised classifier")
        pos, neg = self._tensor(X[y == 0]), self._tensor(X[y == 1])
        net = build_encoder(self.sample_shape_, 1, int(self.width), self.hidden, bias=True).to(self.device_)
        opt = torch.optim.Adam(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        gen = self._generator(seed, 3)
        k = int(self.neg_batch_size or max(1, int(self.batch_size) // 4))
        self.net_ = net
        net.train()

        def batch_loss(idx):
            xp, xn = pos[idx.to(self.device_)], neg[draw(len(neg), k, gen).to(self.device_)]
            logits = net(torch.cat([xp, xn])).squeeze(1)
            lp, ln = logits[:len(xp)], logits[len(xp):]
            return (F.binary_cross_entropy_with_logits(lp, torch.zeros_like(lp))
                    + F.binary_cross_entropy_with_logits(ln, torch.ones_like(ln)))

        self.history_ = fit_epochs(opt, int(self.epochs), len(pos), int(self.batch_size), gen, batch_loss,
                                   "the supervised classifier", on_epoch_end=self._end_epoch)

    def _score(self, X):
        with eval_mode(self.net_):
            return batched(lambda x: self.net_(x).squeeze(1), self._tensor(X))
