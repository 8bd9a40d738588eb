"""CAE: a (convolutional) autoencoder scored by its reconstruction error."""
from __future__ import annotations

from ._base import BaseDetector, reconstruction_error, train_autoencoder
from ._nets import build_autoencoder

__all__ = ["CAE"]


class CAE(BaseDetector):
    """CAE, autoencoder anomaly detection: the score is the reconstruction error ||x - dec(enc(x))||^2.

    **Assumes** that an autoencoder trained on (mostly) normal data reconstructs normal samples better
    than anomalies.  **Collected anomalies are not used** (samples with ``y = 1`` are left out).  The
    network is Deep SAD's autoencoder -- the convolutional LeNet-type one for 32x32 images, an MLP for
    tables (so the "C" holds for images only) -- bias-free as in Deep SAD's CAE baseline; trained with
    Adam on the mean squared reconstruction error, the learning rate divided by 10 after the first third
    of the epochs.
    """

    uses_labels = False
    trains_by_epochs = True

    def __init__(self, epochs=150, batch_size=128, lr=1e-4, weight_decay=5e-4, width=32, rep_dim=None, hidden=None,
                 bias=False, contamination=0.1, device=None, random_state=None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.width = width
        self.rep_dim = rep_dim
        self.hidden = hidden
        self.bias = bias
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _fit(self, X, y, seed):
        ae = build_autoencoder(self.sample_shape_, self.rep_dim, int(self.width), self.hidden, bool(self.bias))
        self.autoencoder_ = ae.to(self.device_)
        self.history_ = train_autoencoder(self.autoencoder_, self._tensor(X), int(self.epochs), int(self.batch_size),
                                          float(self.lr), float(self.weight_decay), self._generator(seed, 1),
                                          on_epoch_end=self._end_epoch)

    def _score(self, X):
        return reconstruction_error(self.autoencoder_, self._tensor(X))
