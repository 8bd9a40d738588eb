"""The detector contract every estimator of this package follows: :class:`BaseDetector`.

The contract is PyOD's and DeepOD's: ``fit(X, y)`` with ``y = 1`` for a collected anomaly and 0 for an
unlabelled sample; ``decision_function`` (higher = more anomalous); ``decision_scores_``, ``threshold_`` (the
``1 - contamination`` quantile of the training scores), ``labels_`` and ``predict``.  As in scikit-learn,
``__init__`` only stores its arguments; the seed (kept as ``seed_``) and the device (``device_``) are resolved
in ``fit``; ``random_state`` fixes the whole fit (on the CPU).  :class:`aabigan.AABiGAN` and every baseline
subclass it.

``fit`` checks every hyper-parameter before it trains: those the baselines share by name
(:data:`SHARED_PARAMS`: epochs, batch sizes, widths, learning rates, ...) here, the others in each class's
``_check_params``; a bad value raises an error that names it.  A fit that fails leaves the detector unfitted
(no fitted attribute of this fit or an earlier one is left behind).

A detector that trains by epochs (``trains_by_epochs = True``) has a per-epoch hook for model selection and
reporting: ``fit(X, y, eval_set=(X_val, y_val), callbacks=(cb, ...))``.  After every epoch of its *main*
training stage the validation AUROC goes into ``history_`` (:meth:`BaseDetector._record_eval`), and each
callback is called as ``cb(epoch, detector)``; it may call ``detector.decision_function`` (and, for AA-BiGAN,
``score_samples_all``), which then score with the networks of that epoch.  The estimator never sees a test
set: whoever wants test scores per epoch holds the test data in a callback (the experiment runner does).
Scoring in the hook cannot change the training: it runs with torch's random state forked and every network's
train/eval mode restored, and the scores draw no random numbers, so a fit with callbacks ends with exactly
the networks of one without.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from torch import nn

from .errors import DegenerateScoresError
from .scores import auroc
from .validation import check_fraction, check_integer, check_positive, check_random_state, check_X, check_y

__all__ = ["BaseDetector", "NotFittedError", "resolve_device", "SHARED_PARAMS", "check_hidden", "check_bool"]


class NotFittedError(_SklearnNotFittedError, RuntimeError):
    """The detector is used before ``fit``: scikit-learn's ``NotFittedError`` (a ValueError and an
    AttributeError); also a RuntimeError, which this package raised before, so old handlers keep working."""


def resolve_device(device: str | None) -> torch.device:
    """``None`` or ``"auto"``: CUDA when present, else the CPU; otherwise the named device."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available here")
    return dev


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
    """Base of every detector: validation, seeding, device, timing, the per-epoch hook, the threshold and
    ``predict``.

    A subclass sets ``uses_labels`` (False: the collected anomalies are left out of training) and implements
    ``_fit(X, y, seed)`` (it may return the seconds training took, else the whole call is timed) and
    ``_score(X)``.  One that trains by epochs sets ``trains_by_epochs`` and calls :meth:`_end_epoch` after every
    epoch of its main stage, its networks already where ``_score`` finds them (see the module docstring).
    ``param_checks`` maps parameter names to their checks (default :data:`SHARED_PARAMS`); a class whose
    parameters mean something else under the same name checks them in ``_check_params`` instead.
    """

    uses_labels: bool = True
    trains_by_epochs: bool = False
    param_checks: dict = SHARED_PARAMS
    #: private attributes that live only during ``fit`` (dropped by :meth:`_forget_fit` too)
    _fit_state: tuple[str, ...] = ("_eval_set", "_callbacks", "_val_auroc", "_in_epoch")

    # --------------------------------------------------------------------------- to implement
    def _check_params(self) -> None:
        """Raise ValueError for a bad hyper-parameter (called at the start of ``fit``)."""

    def _fit(self, X: np.ndarray, y: np.ndarray, seed: int) -> float | None:
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------------------ contract
    def fit(self, X, y=None, eval_set=None, callbacks=()):
        """Fit on X; ``y[i] = 1`` marks a collected anomaly, 0 an unlabelled sample (y=None: all 0).

        For a method that trains by epochs: ``eval_set=(X_val, y_val)`` (y_val = 1 for any anomaly) is scored
        after every epoch of the main training stage, its AUROC kept in ``history_``; each of ``callbacks`` is
        called then as ``callback(epoch, self)`` and may call ``self.decision_function``.  Neither changes what
        is trained (see the module docstring)."""
        try:
            X, X_fit, y_fit = self._begin_fit(X, y, eval_set, callbacks)
            t0 = time.perf_counter()
            with self._forked_rng():
                torch.manual_seed(self.seed_)
                seconds = self._fit(X_fit, y_fit, self.seed_)
            self._end_fit(X, time.perf_counter() - t0 if seconds is None else seconds)
        except BaseException:
            self._forget_fit()      # a failed (re)fit leaves an unfitted detector, never a mix of two fits
            raise
        finally:
            self._drop_fit_state()
        return self

    def _begin_fit(self, X, y, eval_set, callbacks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forget an earlier fit, check the inputs and parameters, resolve the device and the seed; returns
        (X, X_fit, y_fit): the checked X and the samples to train on (without the collected anomalies for a
        method that does not use them)."""
        self._forget_fit()
        X = check_X(X, "X", min_samples=2)
        y = np.zeros(len(X), np.int64) if y is None else check_y(y, len(X))
        self._eval_set, self._callbacks = self._check_epoch_hooks(X, eval_set, callbacks)
        self._val_auroc, self._in_epoch = {}, False
        self._check_all_params()
        X_fit, y_fit = (X, y) if self.uses_labels else (X[y == 0], y[y == 0])
        if int(np.sum(y_fit == 0)) < 2:
            raise ValueError(f"X has {int(np.sum(y_fit == 0))} unlabelled (normal) samples; at least 2 are needed")
        try:
            self.device_ = resolve_device(self.device)
        except (RuntimeError, TypeError) as exc:     # torch's message for a malformed device string
            raise ValueError(f"device must be None, 'auto' or a torch device such as 'cpu' or 'cuda:0', got "
                             f"{self.device!r} ({exc})") from None
        self.sample_shape_ = tuple(int(s) for s in X.shape[1:])
        self.n_collected_ = int(y_fit.sum())
        seed = check_random_state(self.random_state)
        self.seed_ = int(seed if seed is not None else np.random.SeedSequence().entropy % 2**31)
        return X, X_fit, y_fit

    def _check_all_params(self) -> None:
        """``contamination``, the parameters checked by name (:attr:`param_checks`), then ``_check_params``."""
        check_fraction(self.contamination, "contamination", 0.0, 0.5)
        for name, value in self.get_params(deep=False).items():
            if name in self.param_checks:
                self.param_checks[name](value, name)
        self._check_params()

    def _end_fit(self, X: np.ndarray, seconds: float) -> None:
        """The fit is done: fold the validation AUROCs into ``history_``, score the training data, set the
        threshold and the labels."""
        for h in getattr(self, "history_", None) or ():
            if h.get("epoch") in self._val_auroc:
                h["val_auroc"] = self._val_auroc[h["epoch"]]
        self.fit_seconds_ = float(seconds)
        self.decision_scores_ = self.decision_function(X)
        self._check_not_degenerate(X)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - float(self.contamination)))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    def _forget_fit(self) -> None:
        """Drop every fitted attribute (``name_``) and the fit's private state."""
        for name in [k for k in vars(self) if (k.endswith("_") and not k.startswith("__")) or k in self._fit_state]:
            delattr(self, name)

    def _drop_fit_state(self) -> None:
        for name in self._fit_state:
            self.__dict__.pop(name, None)

    def _rng_devices(self) -> list[int]:
        return [self.device_.index or 0] if self.device_.type == "cuda" else []

    def _forked_rng(self):
        """torch's random state forked (the CPU's and this detector's GPU's): what runs inside leaves the
        caller's random state as it found it."""
        return torch.random.fork_rng(devices=self._rng_devices())

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

    def _record_eval(self, epoch: int, X_val: np.ndarray, y_val: np.ndarray) -> None:
        """The validation AUROC of this epoch's networks (folded into ``history_`` as ``val_auroc`` by ``fit``)."""
        self._val_auroc[int(epoch)] = auroc(y_val, self.decision_function(X_val))

    def _end_epoch(self, epoch: int) -> None:
        """Called by ``_fit`` after each epoch of the main training stage: the validation AUROC, then the
        callbacks, with the random state forked and every network's mode restored afterwards."""
        if self._eval_set is None and not self._callbacks:
            return
        modes = [(m, m.training) for top in self._modules() for m in top.modules()]
        self._in_epoch = True
        try:
            with self._forked_rng():
                if self._eval_set is not None:
                    self._record_eval(int(epoch), *self._eval_set)
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

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "fit_seconds_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "fit_seconds_") and not getattr(self, "_in_epoch", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

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
