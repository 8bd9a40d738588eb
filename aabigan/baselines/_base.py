"""What the baselines share beyond the detector contract: minibatches, the training loop by epochs, the
autoencoder trainer and its features.

The contract itself -- ``fit(X, y, eval_set=None, callbacks=())``, ``decision_function``, ``decision_scores_``,
``threshold_``, ``labels_``, ``predict``, seeding, device, the per-epoch hook -- is :class:`aabigan.base.BaseDetector`,
which :class:`aabigan.AABiGAN` follows too; it is importable from here (and from :mod:`aabigan.baselines`) as
before.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..base import SHARED_PARAMS, BaseDetector, check_bool, check_hidden
from ..errors import TrainingDivergedError
from ..nets import eval_mode
from ..validation import check_positive
from ._nets import AutoEncoder, build_autoencoder

__all__ = ["BaseDetector", "AEFeatures", "minibatches", "draw", "lr_scheduler", "train_autoencoder",
           "reconstruction_error", "batched", "eval_mode", "flatten", "check_positive", "check_hidden", "check_bool",
           "SHARED_PARAMS"]


def flatten(X: np.ndarray) -> np.ndarray:
    """(n, ...) -> (n, d) float64, for the kernel and tree methods."""
    return np.asarray(X, np.float64).reshape(len(X), -1)


@torch.no_grad()
def batched(fn, X: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """``fn`` over X in batches, concatenated, as float64 numpy."""
    return torch.cat([fn(X[i:i + batch]) for i in range(0, X.shape[0], batch)]).cpu().numpy().astype(np.float64)


def minibatches(n: int, batch_size: int, gen: torch.Generator):
    """Index tensors of one shuffled epoch; the last incomplete batch is dropped (BatchNorm needs > 1
    sample), but an epoch always has at least one batch of min(batch_size, n) samples."""
    batch = max(2, min(int(batch_size), n))
    perm = torch.randperm(n, generator=gen)
    for s in range(max(1, n // batch)):
        yield perm[s * batch:(s + 1) * batch]


def draw(n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """k indices out of n without replacement (all n, shuffled, when k >= n)."""
    return torch.randperm(n, generator=gen)[:k]


def lr_scheduler(opt: torch.optim.Optimizer, epochs: int, milestone: float | None):
    """Deep SAD's schedule: the learning rate times 0.1 after ``milestone`` x epochs (50 of 150 epochs)."""
    steps = [] if milestone is None or epochs < 3 else [max(1, int(round(milestone * epochs)))]
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=steps, gamma=0.1)


def fit_epochs(opt: torch.optim.Optimizer, epochs: int, n: int, batch_size: int, gen: torch.Generator,
               batch_loss, what: str, sched=None, on_epoch_end=None) -> list[dict]:
    """The baselines' training loop: minimise ``batch_loss(idx)`` over shuffled minibatches of the n
    training samples for ``epochs`` epochs (:func:`minibatches`), stepping ``sched`` after each epoch, then
    calling ``on_epoch_end(epoch)`` (epochs count from 1).

    Returns ``[{"epoch": e, "loss": mean loss of epoch e}, ...]``; raises :class:`TrainingDivergedError`
    naming ``what`` as soon as an epoch's loss is non-finite.
    """
    history = []
    for epoch in range(int(epochs)):
        total, steps = 0.0, 0
        for idx in minibatches(n, batch_size, gen):
            loss = batch_loss(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        if sched is not None:
            sched.step()
        history.append({"epoch": epoch + 1, "loss": total / steps})
        if not math.isfinite(history[-1]["loss"]):
            raise TrainingDivergedError(f"{what}: the loss became non-finite in epoch {epoch + 1}")
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1)
    return history


def train_autoencoder(ae: AutoEncoder, X: torch.Tensor, epochs: int, batch_size: int, lr: float,
                      weight_decay: float, gen: torch.Generator, milestone: float | None = 1 / 3,
                      on_epoch_end=None) -> list[dict]:
    """Minimise the mean over samples of ||x - dec(enc(x))||^2 with Adam (Deep SAD's pretraining, CAE's
    training); ``on_epoch_end(epoch)`` after each epoch (:func:`fit_epochs`)."""
    opt = torch.optim.Adam(ae.parameters(), lr=lr, weight_decay=weight_decay)
    ae.train()

    def batch_loss(idx):
        x = X[idx.to(X.device)]
        return (ae(x) - x).flatten(1).pow(2).sum(1).mean()

    return fit_epochs(opt, epochs, X.shape[0], batch_size, gen, batch_loss, "the autoencoder",
                      lr_scheduler(opt, epochs, milestone), on_epoch_end)


def reconstruction_error(ae: AutoEncoder, X: torch.Tensor) -> np.ndarray:
    """||x - dec(enc(x))||^2 per sample, with the autoencoder in eval mode."""
    with eval_mode(ae):
        return batched(lambda x: (ae(x) - x).flatten(1).pow(2).sum(1), X)


class AEFeatures:
    """Mixin for the hybrid kernel methods: an autoencoder trained on the unlabelled samples gives the
    features (its code); ``features="raw"`` uses the flattened inputs instead.

    Uses the estimator's ``features``, ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``width``,
    ``rep_dim`` and ``hidden`` parameters.
    """

    def _check_features(self) -> None:
        if self.features not in ("raw", "hybrid"):
            raise ValueError(f"features must be 'raw' or 'hybrid', got {self.features!r}")

    def _fit_features(self, X_unlabelled: np.ndarray, seed: int) -> None:
        self.autoencoder_ = None
        if self.features == "raw":
            return
        ae = build_autoencoder(self.sample_shape_, self.rep_dim, int(self.width), self.hidden).to(self.device_)
        self.ae_history_ = train_autoencoder(ae, self._tensor(X_unlabelled), int(self.epochs),
                                             int(self.batch_size), float(self.lr), float(self.weight_decay),
                                             self._generator(seed, 1))
        self.autoencoder_ = ae

    def _features(self, X: np.ndarray) -> np.ndarray:
        if self.autoencoder_ is None:
            return flatten(X)
        with eval_mode(self.autoencoder_):
            return batched(self.autoencoder_.encoder, self._tensor(X))
