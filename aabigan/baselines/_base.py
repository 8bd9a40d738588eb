"""What every baseline shares: the detector contract, seeding, minibatches and the autoencoder trainer.

The contract is :class:`aabigan.AABiGAN`'s (PyOD / DeepOD style): ``fit(X, y)`` with ``y = 1`` for a
collected anomaly and 0 for an unlabelled sample; ``decision_function`` (higher = more anomalous);
``decision_scores_``, ``threshold_`` (the ``1 - contamination`` quantile of the training scores),
``labels_`` and ``predict``.  ``__init__`` only stores its arguments; the seed and the device are resolved
in ``fit``; ``random_state`` fixes the whole fit (on the CPU).

``fit`` checks every hyper-parameter before it trains: the ones the baselines share by name
(:data:`SHARED_PARAMS`: epochs, batch sizes, widths, learning rates, ...) here, the others in each class's
``_check_params``; a bad value raises an error that names it.

A baseline that trains by epochs (``trains_by_epochs = True``) has a per-epoch hook for model selection:
``fit(X, y, eval_set=(X_val, y_val), callbacks=(cb, ...))``.  After every epoch of its *main* training stage
(Deep SVDD / Deep SAD: after the autoencoder pretraining, in the hypersphere stage) the validation AUROC goes
into ``history_`` as ``val_auroc``, and each callback is called as ``cb(epoch, detector)``; it may call
``detector.decision_function`` (the networks of that epoch).  The estimator never sees a test set: whoever
wants test scores per epoch holds the test data in a callback (the experiment runner does).  Scoring in the
hook cannot change the training: it runs with torch's random state forked and every network's train/eval mode
restored, and the scores draw no random numbers, so a fit with callbacks ends with exactly the networks of
one without.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from ..detector import resolve_device
from ..errors import DegenerateScoresError, TrainingDivergedError
from ..nets import eval_mode
from ..scores import auroc
from ..validation import check_fraction, check_integer, check_positive, check_random_state, check_X, check_y
from ._nets import AutoEncoder, build_autoencoder

__all__ = ["BaseDetector", "AEFeatures", "minibatches", "draw", "lr_scheduler", "train_autoencoder",
           "reconstruction_error", "batched", "eval_mode", "flatten", "check_positive"]


def _positive_int(value, name):
    return check_positive(value, name, integer=True)


def _optional(check):
    return lambda value, name: None if value is None else check(value, name)


def check_hidden(value, name: str = "hidden") -> None:
    """None (the default layers) or a non-empty sequence of positive integers (the hidden layer sizes)."""
    if value is None:
        return
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) == 0:
        raise TypeError(f"{name} must be None or a non-empty sequence of positive integers (the hidden layer "
                        f"sizes), got {value!r}")
    for v in value:
        check_integer(v, name, 1, what=f"None or a non-empty sequence of positive integers, got {value!r}; an entry")


def check_bool(value, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


#: hyper-parameters that mean the same in every baseline that has them, and their checks (run by ``fit``)
SHARED_PARAMS = {
    "epochs": _positive_int,
    "batch_size": _positive_int,
    "neg_batch_size": _optional(_positive_int),
    "width": _positive_int,
    "rep_dim": _optional(_positive_int),
    "latent_dim": _optional(_positive_int),
    "hidden": check_hidden,
    "bias": check_bool,
    **{lr: check_positive for lr in ("lr", "ae_lr", "lr_ge", "lr_d", "lr_g")},
    **{wd: lambda v, n: check_positive(v, n, allow_zero=True) for wd in ("weight_decay", "ae_weight_decay")},
    "random_state": check_random_state,
}


class BaseDetector(BaseEstimator):
    """Base of the baselines: validation, seeding, timing, the threshold and ``predict``.

    A subclass sets ``uses_labels`` (False: the collected anomalies are left out of training, as for
    AA-BiGAN's unsupervised objectives) and implements ``_fit(X, y, seed)`` and ``_score(X)``.  One that trains
    by epochs sets ``trains_by_epochs`` and calls :meth:`_end_epoch` after every epoch of its main stage, its
    networks already where ``_score`` finds them (see the module docstring).
    """

    uses_labels: bool = True
    trains_by_epochs: bool = False

    # --------------------------------------------------------------------------- to implement
    def _check_params(self) -> None:
        """Raise ValueError for a bad hyper-parameter (called at the start of ``fit``)."""

    def _fit(self, X: np.ndarray, y: np.ndarray, seed: int) -> None:
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------------------ contract
    def fit(self, X, y=None, eval_set=None, callbacks=()):
        """Fit on X; ``y[i] = 1`` marks a collected anomaly, 0 an unlabelled sample (y=None: all 0).

        For a method that trains by epochs: ``eval_set=(X_val, y_val)`` (y_val = 1 for any anomaly) is scored
        after every epoch of the main training stage, its AUROC kept in ``history_`` as ``val_auroc``; each of
        ``callbacks`` is called then as ``callback(epoch, self)`` and may call ``self.decision_function``.
        Neither changes what is trained (see the module docstring)."""
        self.__dict__.pop("fit_seconds_", None)     # a failed refit leaves an unfitted detector, not a mix of two
        X = check_X(X, "X", min_samples=2)
        y = np.zeros(len(X), np.int64) if y is None else check_y(y, len(X))
        self._eval_set, self._callbacks = self._check_epoch_hooks(X, eval_set, callbacks)
        check_fraction(self.contamination, "contamination", 0.0, 0.5)
        for name, value in self.get_params(deep=False).items():
            if name in SHARED_PARAMS:
                SHARED_PARAMS[name](value, name)
        self._check_params()
        X_fit, y_fit = (X, y) if self.uses_labels else (X[y == 0], y[y == 0])
        if int(np.sum(y_fit == 0)) < 2:
            raise ValueError(f"X has {int(np.sum(y_fit == 0))} unlabelled samples; at least 2 are needed")
        try:
            self.device_ = resolve_device(self.device)
        except (RuntimeError, TypeError) as exc:     # torch's message for a malformed device string
            raise ValueError(f"device must be None, 'auto' or a torch device such as 'cpu' or 'cuda:0', got "
                             f"{self.device!r} ({exc})") from None
        self.sample_shape_ = tuple(int(s) for s in X.shape[1:])
        self.n_collected_ = int(y_fit.sum())
        seed = check_random_state(self.random_state)
        seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self.seed_ = int(seed)
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        t0 = time.perf_counter()
        self._val_auroc, self._in_epoch = {}, False
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.seed_)
                self._fit(X_fit, y_fit, self.seed_)
            for h in getattr(self, "history_", None) or ():
                if h.get("epoch") in self._val_auroc:
                    h["val_auroc"] = self._val_auroc[h["epoch"]]
        finally:
            del self._eval_set, self._callbacks, self._val_auroc, self._in_epoch
        self.fit_seconds_ = time.perf_counter() - t0
        self.decision_scores_ = self.decision_function(X)
        self._check_not_degenerate(X)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - float(self.contamination)))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def _check_epoch_hooks(self, X: np.ndarray, eval_set, callbacks) -> tuple:
        """``eval_set`` as checked arrays (or None) and ``callbacks`` as a tuple of callables."""
        if callbacks is None:
            callbacks = ()
        if callable(callbacks) or isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks must be a sequence of callables callback(epoch, detector), got {callbacks!r}")
        callbacks = tuple(callbacks)
        for cb in callbacks:
            if not callable(cb):
                raise TypeError(f"callbacks must be callables callback(epoch, detector), got {cb!r}")
        if (eval_set is not None or callbacks) and not self.trains_by_epochs:
            raise ValueError(f"{type(self).__name__} does not train by epochs: it takes no eval_set or callbacks")
        if eval_set is None:
            return None, callbacks
        if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
            raise ValueError("eval_set must be a pair (X_val, y_val)")
        X_val = check_X(eval_set[0], "X_val", n_features=X.shape[1:])
        y_val = check_y(eval_set[1], len(X_val), "y_val")
        if len(np.unique(y_val)) != 2:
            raise ValueError("y_val must contain both normal (0) and anomalous (1) samples")
        return (X_val, y_val), callbacks

    def _modules(self) -> list[nn.Module]:
        """The networks whose train/eval modes :meth:`_end_epoch` restores: the estimator's module attributes."""
        return [v for v in vars(self).values() if isinstance(v, nn.Module)]

    def _end_epoch(self, epoch: int) -> None:
        """Called by ``_fit`` after each epoch of the main training stage: the validation AUROC, then the
        callbacks, with the random state forked and every network's mode restored afterwards."""
        if self._eval_set is None and not self._callbacks:
            return
        modes = [(m, m.training) for top in self._modules() for m in top.modules()]
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        self._in_epoch = True
        try:
            with torch.random.fork_rng(devices=devices):
                if self._eval_set is not None:
                    self._val_auroc[int(epoch)] = auroc(self._eval_set[1], self.decision_function(self._eval_set[0]))
                for cb in self._callbacks:
                    cb(int(epoch), self)
        finally:
            self._in_epoch = False
            for m, was in modes:
                m.training = was

    def _check_not_degenerate(self, X: np.ndarray) -> None:
        """One score for every training sample ranks nothing: an error, not a silent AUROC of 0.5."""
        s = self.decision_scores_
        if len(s) < 2 or np.ptp(s) > 0:
            return
        del self.fit_seconds_                      # not fitted: no half-usable detector is left behind
        big = float(np.abs(X).max())
        if np.ptp(X.reshape(len(X), -1), axis=0).max() == 0:
            why = "all samples of X are identical"
        elif big > 1e15:
            why = (f"X holds values up to {big:.3g} in magnitude, and at such a scale the network's float32 "
                   "arithmetic overflows (batch normalisation squares its inputs); rescale X, e.g. to [0, 1] or "
                   "to unit variance")
        else:
            why = "the model collapsed; try other hyper-parameters (a smaller learning rate, more epochs)"
        raise DegenerateScoresError(f"{type(self).__name__} gave all {len(s)} training samples the same score "
                                    f"({s[0]:.6g}), so it cannot rank them: {why}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "fit_seconds_") and not getattr(self, "_in_epoch", False):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score of each sample; higher = more anomalous."""
        self._check_fitted()
        X = check_X(X, "X", n_features=self.sample_shape_)
        s = np.asarray(self._score(X), np.float64).ravel()
        if not np.all(np.isfinite(s)):
            raise FloatingPointError(f"{type(self).__name__} gave non-finite scores for "
                                     f"{int(np.sum(~np.isfinite(s)))} samples")
        return s

    def predict(self, X) -> np.ndarray:
        """1 for samples scored above ``threshold_`` (an anomaly), else 0."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    # ------------------------------------------------------------------------------- helpers
    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(X, dtype=torch.float32, device=self.device_)

    def _generator(self, seed: int, salt: int = 0) -> torch.Generator:
        """A CPU generator for shuffling and minibatch draws (fixed by the seed, whatever the device)."""
        return torch.Generator().manual_seed(int(seed) * 1000003 + salt)


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
