"""``AABiGAN``: the anomaly-aware bidirectional GAN as a scikit-learn / PyOD-style detector.

    det = AABiGAN(random_state=0).fit(X, y)    # y = 1 for a collected anomaly, 0 unlabelled
    det.decision_function(X_new)               # higher = more anomalous

The defaults are a label-free recipe (chapter 15 gives the evidence): at least ``DEFAULT_MIN_STEPS`` training
steps (and at least ``DEFAULT_EPOCHS`` epochs), the reconstruction score, the networks after the last epoch.
A fit of fewer than ``SHORT_FIT_STEPS`` steps warns with :class:`ShortFitWarning`.

Which score (reconstruction error or latent norm) and which epoch are used is a stated rule:

* ``score="reconstruction" | "latent"`` fixes the score in advance; ``score="auto"`` picks the one with the
  higher AUROC on a labelled validation set (the paper's rule, Sec. 3.4).  ``score="features"`` is a third,
  label-free score the paper does not use: ALAD's feature-matching distance on D', between its last hidden
  activations for (x, x) and for (x, G(E(x))) (chapter 8 tests it).
* ``epoch_rule="last"`` scores with the networks after the last epoch (label-free);
  ``epoch_rule="best_val"`` keeps the epoch with the best validation AUROC (the authors' code; the latest
  of tied epochs: a small validation set often scores AUROC 1 from early in training on).

Rules that need labels take them from ``fit(..., eval_set=(X_val, y_val))`` -- never from a test set.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import numbers
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from .base import BaseDetector, NotFittedError, resolve_device
from .nets import ARCHS, build_networks, eval_mode
from .scores import EXTRA_SCORES, SCORES, auroc, compute_scores
from .selection import EPOCH_RULES, recorded_scores, select
from .trainer import OBJECTIVES, TrainConfig, train
from .validation import check_fraction, check_integer, check_X

__all__ = ["AABiGAN", "fit_stacked", "resolve_device", "NotFittedError", "ShortFitWarning",
           "DEFAULT_EPOCHS", "DEFAULT_MIN_STEPS", "SHORT_FIT_STEPS"]

SCORE_RULES = SCORES + EXTRA_SCORES + ("auto",)
FAMILIES = ("auto", "mlp", "dcgan")
_FORMAT = "aabigan-detector-v1"

#: ``epochs=None``: train at least this many epochs ...
DEFAULT_EPOCHS = 100
#: ... and, unless ``min_steps`` is given, at least this many steps (as the ``paper`` profile's ODDS schedule).
DEFAULT_MIN_STEPS = 5000
#: A fit of fewer steps warns (:class:`ShortFitWarning`): its scores mean little, and can rank below chance.
SHORT_FIT_STEPS = 1000
_MAX_SEED = 2**32 - 1          # numpy's and scikit-learn's seed range


class ShortFitWarning(UserWarning):
    """A fit trains too few steps for its scores to mean much (see ``SHORT_FIT_STEPS``)."""


# ----------------------------------------------------------------------------------- parameter checks
def _integer(value, name: str, low: int, high: int | None = None, none_ok: bool = False) -> int | None:
    """``value`` as an int in [low, high]: a Python or NumPy integer; 1.7, 2.0, NaN, bools and strings are
    errors (the package's rule for integer parameters), not 1, 2, ... silently."""
    if value is None and none_ok:
        return None
    what = f"{'None or ' if none_ok else ''}an integer of at least {low}" if high is None else \
        f"{'None or ' if none_ok else ''}an integer in [{low}, {high}]"
    return check_integer(value, name, low, high, what=what)


def _real(value, name: str, none_ok: bool = False) -> float | None:
    """``value`` as a finite float."""
    if value is None and none_ok:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number{' or None' if none_ok else ''}, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _choice(value, name: str, options) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {tuple(options)}")
    return value


def _plain(value):
    """JSON for numpy scalars and arrays among the parameters (e.g. random_state=np.int64(0))."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"cannot save a parameter of type {type(value).__name__}")


class AABiGAN(BaseDetector):
    """Anomaly-aware bidirectional GAN (Tian, Su & Yin, IJCAI 2022), a :class:`aabigan.base.BaseDetector`.

    Parameters
    ----------
    objective : "aa" (eqs. 15-16, the default), "lsgan" (eqs. 7-8) or "bigan" (eq. 4).  The last two have
        no term for collected anomalies: samples with y = 1 are left out of their training.
    epochs : training length in epochs; None (the default): at least ``DEFAULT_EPOCHS`` (100) epochs and
        at least ``DEFAULT_MIN_STEPS`` (5000) steps.  A given number is exactly that many epochs unless
        ``min_steps`` asks for more.
    min_steps : train for at least this many steps (more epochs on small data sets; 0: off).  None (the
        default): ``DEFAULT_MIN_STEPS`` when ``epochs`` is None, else 0.  A fit of fewer than
        ``SHORT_FIT_STEPS`` steps in all warns with :class:`ShortFitWarning`.
    batch_size, neg_batch_size : normals per step, collected anomalies per step (None: batch_size // 4).
    lr_ge, lr_d : Adam learning rates of G/E and of D/D' (paper: 1e-4 and 2.5e-5).
    betas : Adam's (beta1, beta2); the paper states none, (0.5, 0.999) here, (0.5, 0.9) in the authors' code.
    lr_step_every, lr_step_gamma : step decay -- both learning rates times ``lr_step_gamma`` every
        ``lr_step_every`` epochs (None, the default: constant; the authors' code: every 100 epochs, 0.98).
    a, b, c, neg_target : least-squares targets (paper: a=1, b=0, c=0.75; anomalies' target (a+b)/2).
    pair_disc : use the reconstruction discriminator D'(x, x') of Supp. D (eqs. 33-34).
    recon_weight : weight of the D' terms in the G/E loss.
    family, latent_dim, width : architecture ("auto": MLP for vectors, DCGAN for (C, 32, 32) images);
        ``width`` scales the image networks.
    hidden : the MLP's hidden layer sizes (None: the paper's 256-64); image networks ignore it.
    arch : image networks: "dcgan" (the paper's text) or "authors" (the authors' code: on 1x32x32 their
        MNIST / F-MNIST networks, on 3x32x32 their CIFAR-10 LeNet-type pair; width 64 is their channel
        counts; their discriminators have no dropout, so pass dropout=0 to train as they did).
    dropout : dropout rate in the discriminators.
    ema_decay : score with an exponential moving average of the E and G weights (None: off).
    amp : mixed precision -- bfloat16 autocast of the training forward passes (meant for GPUs; scoring
        stays in float32).  Off unless asked for; on a CPU without native bfloat16 (AVX2-only machines) it
        warns, as autocast is far slower there than float32.
    compile : run the training forward passes through ``torch.compile`` (meant for GPUs; the first steps
        pay for the compilation, and results agree with an uncompiled fit to float rounding, not bit for
        bit).  Scoring, ``save`` and ``load`` use the plain networks.
    score, epoch_rule : the selection rule (see the module docstring).  The default, the reconstruction
        score of the last epoch, needs no labels.
    contamination : share of training samples above ``threshold_`` (for ``labels_`` and ``predict``).
    device : None/"auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    random_state : int seed (0 to 2**32 - 1) or None; fixes initialisation, shuffling and latent draws (on
        the CPU).
    verbose : show a progress bar while training.

    ``fit(X, y, eval_set=None, callbacks=())`` follows the contract of :mod:`aabigan.base`: after every epoch
    the validation AUROC of each score goes into ``history_`` (``val_auroc_reconstruction``, ...), and each
    callback is called as ``callback(epoch, detector)``; there ``detector.score_samples_all(X)`` (and
    ``decision_function``, unless ``score="auto"``, which chooses only after the last epoch) score with that
    epoch's networks.  Callbacks cannot change the fit.
    """

    trains_by_epochs = True
    #: AA-BiGAN checks every parameter itself (``epochs=None`` is allowed, ``batch_size`` is at least 2, ...)
    param_checks: dict = {}
    _fit_state = BaseDetector._fit_state + ("_best", "_val_scores")

    @property
    def uses_labels(self) -> bool:
        """Only the AA objective trains on the collected anomalies; "lsgan" and "bigan" leave them out."""
        return self.objective == "aa"

    def __init__(self, objective="aa", epochs=None, min_steps=None, batch_size=128, neg_batch_size=None, lr_ge=1e-4,
                 lr_d=2.5e-5, betas=(0.5, 0.999), lr_step_every=None, lr_step_gamma=0.98, a=1.0, b=0.0, c=None, neg_target=None, pair_disc=True, recon_weight=1.0,
                 family="auto", latent_dim=None, width=64, hidden=None, arch="dcgan", dropout=0.2, ema_decay=None, amp=False,
                 compile=False, score="reconstruction", epoch_rule="last", contamination=0.1, device=None, random_state=None, verbose=False):
        self.objective = objective
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.neg_batch_size = neg_batch_size
        self.lr_ge = lr_ge
        self.lr_d = lr_d
        self.betas = betas
        self.lr_step_every = lr_step_every
        self.lr_step_gamma = lr_step_gamma
        self.a = a
        self.b = b
        self.c = c
        self.neg_target = neg_target
        self.pair_disc = pair_disc
        self.recon_weight = recon_weight
        self.family = family
        self.latent_dim = latent_dim
        self.width = width
        self.hidden = hidden
        self.arch = arch
        self.dropout = dropout
        self.ema_decay = ema_decay
        self.amp = amp
        self.compile = compile
        self.score = score
        self.epoch_rule = epoch_rule
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------------------------- helpers
    def _check_settings(self) -> None:
        """Every parameter but the selection rule (also checked when a saved detector is loaded)."""
        _choice(self.objective, "objective", OBJECTIVES)
        _integer(self.epochs, "epochs", 1, none_ok=True)
        _integer(self.min_steps, "min_steps", 0, none_ok=True)
        _integer(self.batch_size, "batch_size", 2)
        _integer(self.neg_batch_size, "neg_batch_size", 1, none_ok=True)
        for name in ("lr_ge", "lr_d"):
            if _real(getattr(self, name), name) <= 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        for name, none_ok in (("a", False), ("b", False), ("c", True), ("neg_target", True)):
            _real(getattr(self, name), name, none_ok=none_ok)
        if not (isinstance(self.betas, (tuple, list)) and len(self.betas) == 2
                and all(0 <= _real(b, "betas") < 1 for b in self.betas)):
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {self.betas!r}")
        _integer(self.lr_step_every, "lr_step_every", 1, none_ok=True)
        if not 0 < _real(self.lr_step_gamma, "lr_step_gamma") <= 1:
            raise ValueError(f"lr_step_gamma must lie in (0, 1], got {self.lr_step_gamma!r}")
        if _real(self.recon_weight, "recon_weight") < 0:
            raise ValueError(f"recon_weight must be at least 0, got {self.recon_weight!r}")
        _choice(self.family, "family", FAMILIES)
        _choice(self.arch, "arch", ARCHS)
        _integer(self.latent_dim, "latent_dim", 1, none_ok=True)
        _integer(self.width, "width", 1)
        if self.hidden is not None:
            if not isinstance(self.hidden, (tuple, list)) or not self.hidden:
                raise ValueError(f"hidden must be None or a non-empty list of layer sizes, got {self.hidden!r}")
            for u in self.hidden:
                _integer(u, "hidden", 1)
        check_fraction(self.dropout, "dropout", 0.0, 1.0, inclusive_high=False)
        if self.ema_decay is not None and not 0 < _real(self.ema_decay, "ema_decay", none_ok=True) < 1:
            raise ValueError(f"ema_decay must lie in (0, 1) or be None, got {self.ema_decay!r}")
        _integer(self.random_state, "random_state", 0, _MAX_SEED, none_ok=True)
        for name in ("pair_disc", "amp", "compile", "verbose"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _train_config(self) -> TrainConfig:
        """The training loop's hyper-parameters: every :class:`TrainConfig` field is the parameter of the same
        name (plain Python numbers; a tuple for ``betas``), except the defaults of ``epochs`` and ``min_steps``."""
        def plain(value):
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, numbers.Integral):
                return int(value)
            if isinstance(value, numbers.Real):
                return float(value)
            return tuple(plain(v) for v in value) if isinstance(value, (tuple, list)) else value

        kw = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(TrainConfig)}
        kw["epochs"] = DEFAULT_EPOCHS if self.epochs is None else int(self.epochs)
        if self.min_steps is None:
            kw["min_steps"] = DEFAULT_MIN_STEPS if self.epochs is None else 0
        return TrainConfig(**kw)

    def _check_params(self) -> None:
        """Every parameter, checked in ``fit`` (scikit-learn: ``__init__`` only stores them)."""
        self._check_settings()
        has_eval = getattr(self, "_eval_set", None) is not None
        _choice(self.score, "score", SCORE_RULES)
        _choice(self.epoch_rule, "epoch_rule", EPOCH_RULES)
        if self.score == "features" and not self.pair_disc:
            raise ValueError("score='features' reads the pair discriminator D': it needs pair_disc=True")
        if (self.score == "auto" or self.epoch_rule == "best_val") and not has_eval:
            raise ValueError(f"score={self.score!r} with epoch_rule={self.epoch_rule!r} chooses with labels: "
                             "pass a labelled validation set, fit(X, y, eval_set=(X_val, y_val))")

    def _warn_if_short(self, cfg: TrainConfig, n_normal: int, stacklevel: int = 5) -> None:
        """``stacklevel``: the frames up to the user's call (fit -> BaseDetector.fit -> _fit -> here)."""
        steps = cfg.total_steps(n_normal)
        if steps < SHORT_FIT_STEPS:
            warnings.warn(
                f"this fit trains only {steps} steps ({cfg.epochs_for(cfg.steps_per_epoch(n_normal))} epochs of "
                f"{cfg.steps_per_epoch(n_normal)} on {n_normal} normal samples); below {SHORT_FIT_STEPS} steps "
                "the scores mean little and can rank anomalies below chance. Leave epochs=None (at least "
                f"{DEFAULT_MIN_STEPS} steps) or set min_steps", ShortFitWarning, stacklevel=stacklevel)

    # ---------------------------------------------------------------------------------------- fit
    def fit(self, X, y=None, eval_set=None, callbacks=()):
        """Train on X; ``y[i] = 1`` marks a collected anomaly, 0 an unlabelled (normal) sample.

        ``eval_set=(X_val, y_val)``, with y_val = 1 for any anomaly, is scored after every epoch; it is used
        for the score/epoch choice only when ``score="auto"`` or ``epoch_rule="best_val"``, and its AUROC
        curve is kept in ``history_`` either way.  ``callbacks``: each is called after every epoch as
        ``callback(epoch, self)`` and may score with that epoch's networks (``score_samples_all``); the
        experiment runner records the test scores of each epoch so, for reporting only.  A failed fit leaves
        the detector unfitted.
        """
        return super().fit(X, y, eval_set, callbacks)

    def _fit(self, X: np.ndarray, y: np.ndarray, seed: int) -> float:
        pos, neg = X[y == 0], X[y == 1]
        cfg = self._train_config()
        self._warn_if_short(cfg, len(pos))
        gen = self._init_networks(seed)
        self.history_: list[dict] = []
        self._best: dict[str, tuple[float, int, dict]] = {}
        state = train(self.nets_, self._tensor(pos), self._tensor(neg) if len(neg) else None, cfg, gen,
                      on_epoch_end=lambda e, st: self._epoch(st.history[-1], st.scoring_encoder,
                                                             st.scoring_generator),
                      verbose=bool(self.verbose))
        self.encoder_, self.generator_ = state.scoring_encoder, state.scoring_generator
        self._select()
        return state.seconds

    def _build_networks(self):
        latent = None if self.latent_dim is None else int(self.latent_dim)
        return build_networks(self.sample_shape_, self.family, latent, int(self.width), bool(self.pair_disc),
                              float(self.dropout), arch=self.arch, hidden=self.hidden).to(self.device_)

    def _init_networks(self, seed: int) -> torch.Generator:
        """Seed the global RNG (initialisation, dropout) and return the generator of the training draws."""
        torch.manual_seed(int(seed))
        self.nets_ = self._build_networks()
        return torch.Generator().manual_seed(int(seed))

    def _recorded_scores(self) -> tuple[str, ...]:
        """The scores every epoch's record holds (:func:`aabigan.selection.recorded_scores`)."""
        return recorded_scores(self.score)

    def _epoch(self, losses: dict, encoder, generator, val_scores: dict | None = None) -> None:
        """After each training epoch: this epoch's scoring networks become ``encoder_`` / ``generator_``, its
        record joins ``history_``, then the per-epoch hook (:meth:`_end_epoch`).  ``val_scores``, {score:
        array}: the validation set's scores when a stack computed them already."""
        self.history_.append(dict(losses))
        self.encoder_, self.generator_ = encoder, generator
        self._val_scores = val_scores
        try:
            self._end_epoch(int(losses["epoch"]))
        finally:
            self._val_scores = None

    def _record_eval(self, epoch: int, X_val: np.ndarray, y_val: np.ndarray) -> None:
        """The validation AUROC of every recorded score, in this epoch's record; for ``best_val``, a copy of
        the networks of each score's best epoch so far (the latest of tied epochs)."""
        rec = self.history_[-1]
        s = self._val_scores if self._val_scores is not None else self.score_samples_all(X_val)
        for name, v in s.items():
            rec[f"val_auroc_{name}"] = auroc(y_val, v)
            if self.epoch_rule == "best_val" and rec[f"val_auroc_{name}"] >= self._best.get(name, (-1,))[0]:
                self._best[name] = (rec[f"val_auroc_{name}"], rec["epoch"], {
                    "encoder": copy.deepcopy(self.encoder_.state_dict()),
                    "generator": copy.deepcopy(self.generator_.state_dict()),
                    "pair_disc": copy.deepcopy(self.nets_.pair_disc.state_dict()) if name == "features" else None})

    def _modules(self) -> list:
        return [m for m in (*self.nets_.modules().values(), self.encoder_, self.generator_) if m is not None]

    def _select(self) -> None:
        """Apply the selection rule: ``selected_score_``, ``selected_epoch_``, and that epoch's networks."""
        chosen, self.selected_epoch_ = select(self.history_, self.score, self.epoch_rule)
        if self.epoch_rule == "best_val":
            _, epoch, snap = self._best[chosen]
            assert epoch == self.selected_epoch_, "the snapshot kept is not the epoch the rule selects"
            self.encoder_.load_state_dict(snap["encoder"])
            self.generator_.load_state_dict(snap["generator"])
            if snap["pair_disc"] is not None:
                self.nets_.pair_disc.load_state_dict(snap["pair_disc"])
        self.selected_score_ = chosen

    # ------------------------------------------------------------------------------------ scoring
    def _scoring_score(self) -> str:
        """The score ``decision_function`` gives: the selected one; during fit (in a callback) the fixed one."""
        if hasattr(self, "selected_score_"):
            return self.selected_score_
        if self.score == "auto":
            raise ValueError("score='auto' chooses its score after the last epoch; in a callback, "
                             "score_samples_all(X) gives every score of the epoch's networks")
        return self.score

    def score_samples_all(self, X) -> dict[str, np.ndarray]:
        """Every recorded score for X: {'reconstruction': ..., 'latent': ...}, and 'features' for a detector
        with ``score="features"`` (higher = more anomalous).  In a callback: those of the epoch's networks."""
        self._check_fitted()
        X = check_X(X, "X", n_features=self.sample_shape_)
        return compute_scores(self.encoder_, self.generator_, self._tensor(X), self._recorded_scores(),
                              pair_disc=self.nets_.pair_disc)

    def _score(self, X: np.ndarray) -> np.ndarray:
        score = self._scoring_score()
        return compute_scores(self.encoder_, self.generator_, self._tensor(X), (score,),
                              pair_disc=self.nets_.pair_disc)[score]

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score of each sample under the selected score; higher = more anomalous."""
        return super().decision_function(X)

    @torch.no_grad()
    def reconstruct(self, X) -> np.ndarray:
        """G(E(x)) for each sample, as a numpy array of X's shape."""
        self._check_fitted()
        X = self._tensor(check_X(X, "X", n_features=self.sample_shape_))
        with eval_mode(self.encoder_, self.generator_):
            return self.generator_(self.encoder_(X)).cpu().numpy()

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n samples G(z), z ~ N(0, I), drawn with their own seed."""
        self._check_fitted()
        z = torch.randn(int(n), self.nets_.latent_dim, generator=torch.Generator().manual_seed(seed))
        with eval_mode(self.generator_):
            return self.generator_(z.to(self.device_)).cpu().numpy()

    # --------------------------------------------------------------------------------- save/load
    def save(self, path, info: dict | None = None) -> Path:
        """Write parameters, fitted attributes and weights to one ``.npz`` file (no pickle involved).

        ``info``: a JSON-serialisable dict stored with them (e.g. the run's config and provenance); it comes
        back as ``saved_info_`` from :meth:`load`."""
        self._check_fitted()
        path = Path(path)
        arrays = {}
        mods = {"scoring_encoder": self.encoder_, "scoring_generator": self.generator_,
                "joint_disc": self.nets_.joint_disc}
        if self.nets_.pair_disc is not None:
            mods["pair_disc"] = self.nets_.pair_disc
        for name, mod in mods.items():
            for k, v in mod.state_dict().items():
                arrays[f"{name}/{k}"] = v.detach().cpu().numpy()
        meta = {"format": _FORMAT, "params": self.get_params(), "sample_shape": list(self.sample_shape_),
                "selected_score": self.selected_score_, "selected_epoch": int(self.selected_epoch_),
                "threshold": self.threshold_, "history": self.history_, "fit_seconds": self.fit_seconds_,
                "n_collected": self.n_collected_, "seed": self.seed_, "info": info or {}}
        arrays["__meta__"] = np.frombuffer(json.dumps(meta, default=_plain).encode(), dtype=np.uint8)
        arrays["__decision_scores__"] = self.decision_scores_
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path, device=None) -> "AABiGAN":
        """Rebuild a detector written by :meth:`save` (``device`` overrides the saved one).

        A file that is not one (truncated, another program's, written by a newer version of this package)
        raises ValueError naming the file and the problem; a missing file FileNotFoundError."""
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
            raise ValueError(f"{path} is not a readable AABiGAN file (truncated or damaged?): {exc}") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} is not a file written by AABiGAN.save (a bare array, not an .npz archive)")
        try:
            with data:
                if "__meta__" not in data.files:
                    raise ValueError(f"{path} is not a file written by AABiGAN.save (no detector metadata)")
                meta = json.loads(bytes(data["__meta__"]).decode())
                if not isinstance(meta, dict):
                    raise ValueError(f"{path} is not a file written by AABiGAN.save (its metadata is not a dict)")
                if meta.get("format") != _FORMAT:
                    raise ValueError(f"{path} has format {meta.get('format')!r}, expected {_FORMAT!r}: "
                                     "it was written by another (perhaps newer) version of aabigan")
                arrays = {k: data[k] for k in data.files}
        except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
            raise ValueError(f"{path} is not a readable AABiGAN file (truncated or damaged?): "
                             f"{type(exc).__name__}: {exc}") from None
        try:
            return cls._from_saved(meta, arrays, device)
        except (KeyError, TypeError, RuntimeError, ValueError, IndexError) as exc:
            raise ValueError(f"{path} does not hold a detector this version of aabigan can rebuild "
                             f"({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_saved(cls, meta: dict, arrays: dict, device) -> "AABiGAN":
        # JSON keeps a tuple parameter (betas, hidden) as a list
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}: written by a newer version of aabigan?")
        if device is not None:
            params["device"] = device
        det = cls(**params)
        det._check_settings()
        det.device_ = resolve_device(det.device)
        det.sample_shape_ = tuple(int(s) for s in meta["sample_shape"])
        det.nets_ = det._build_networks()
        det.encoder_, det.generator_ = det.nets_.encoder, det.nets_.generator
        mods = {"scoring_encoder": det.encoder_, "scoring_generator": det.generator_,
                "joint_disc": det.nets_.joint_disc, "pair_disc": det.nets_.pair_disc}
        for name, mod in mods.items():
            if mod is None:
                continue
            sd = {k.split("/", 1)[1]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith(name + "/")}
            mod.load_state_dict(sd)
        det.selected_score_ = _choice(meta["selected_score"], "selected_score", SCORES + EXTRA_SCORES)
        det.selected_epoch_ = int(meta["selected_epoch"])
        det.threshold_ = float(meta["threshold"])
        det.history_ = list(meta["history"])
        det.fit_seconds_ = float(meta["fit_seconds"])
        det.n_collected_ = int(meta["n_collected"])
        if meta.get("seed") is not None:        # files written before seed_ was saved have none
            det.seed_ = int(meta["seed"])
        det.saved_info_ = meta.get("info", {})
        det.decision_scores_ = np.asarray(arrays["__decision_scores__"], dtype=np.float64)
        det.labels_ = (det.decision_scores_ > det.threshold_).astype(int)
        return det


def _fit_args(args) -> tuple:
    """One entry of ``fit_stacked``'s data as fit's four arguments (X, y, eval_set, callbacks)."""
    args = tuple(args)
    if not 1 <= len(args) <= 4:
        raise ValueError(f"a data tuple of fit_stacked holds fit's arguments (X, y=None, eval_set=None, "
                         f"callbacks=()); got {len(args)} items")
    return args + (None, None, ())[len(args) - 1:]


def fit_stacked(detectors: list[AABiGAN], data: list[tuple]) -> list[AABiGAN]:
    """Fit several detectors (MLP or image networks, batch norm per run) as one stacked training
    (:mod:`aabigan.stacked`).

    ``data[r]`` holds the arguments of ``detectors[r].fit``: ``(X, y)``, ``(X, y, eval_set)`` or
    ``(X, y, eval_set, callbacks)``.  The detectors must share every parameter but ``random_state``, and their
    runs the numbers of normal and collected samples (the seeds of one ODDS cell do).  Each detector gets its
    own initialisation, shuffles, anomaly batches and latent codes, its own validation history and selection;
    its callbacks see its own networks of each epoch (copied out of the stack).  Two things differ from fitting
    alone: the dropout masks are drawn for the whole stack (so results equal single fits exactly only with
    ``dropout=0``, which a test checks), and the losses in each ``history_`` are the stack's mean.  Falls back
    to fitting one by one where stacking does not apply.  If any fit fails, every detector is left unfitted.
    """
    if len(detectors) != len(data):
        raise ValueError("fit_stacked needs one data tuple per detector")
    data = [_fit_args(args) for args in data]
    try:
        return _fit_stacked(detectors, data)
    except BaseException:
        for d in detectors:
            d._forget_fit()
        raise
    finally:
        for d in detectors:
            d._drop_fit_state()


def _fit_stacked(detectors: list[AABiGAN], data: list[tuple]) -> list[AABiGAN]:
    from .stacked import can_stack, stack_networks, unstack_module, unstack_networks

    params = [{k: v for k, v in d.get_params().items() if k != "random_state"} for d in detectors]
    if len(detectors) < 2 or any(p != params[0] for p in params) or params[0]["score"] in EXTRA_SCORES:
        return [d.fit(*args) for d, args in zip(detectors, data)]
    checked = [d._begin_fit(*args) for d, args in zip(detectors, data)]
    prepared = [(X_fit[y_fit == 0], X_fit[y_fit == 1]) for _, X_fit, y_fit in checked]
    if len({(p.shape, n.shape) for p, n in prepared}) != 1:
        return [d.fit(*args) for d, args in zip(detectors, data)]
    first = detectors[0]
    first._warn_if_short(first._train_config(), len(prepared[0][0]), stacklevel=4)
    with first._forked_rng():
        gens = [d._init_networks(d.seed_) for d in detectors]
        if not all(can_stack(d.nets_) for d in detectors):
            return [d.fit(*args) for d, args in zip(detectors, data)]
        for d in detectors:
            d.history_, d._best = [], {}
        nets = stack_networks([d.nets_ for d in detectors]).to(first.device_)
        pos = torch.stack([first._tensor(p) for p, _ in prepared])
        neg = torch.stack([first._tensor(n) for _, n in prepared]) if len(prepared[0][1]) else None
        scoring = [(copy.deepcopy(d.nets_.encoder), copy.deepcopy(d.nets_.generator)) for d in detectors]
        # validation sets of equal shapes are scored by the stack in one pass; others run by run, from copies
        val = [d._eval_set for d in detectors]
        stack_val = torch.stack([first._tensor(v[0]) for v in val]) \
            if all(v is not None for v in val) and len({v[0].shape for v in val}) == 1 else None
        per_run = (stack_val is None and any(v is not None for v in val)) or first.epoch_rule == "best_val"
        copies = per_run or any(d._callbacks for d in detectors)   # best_val and callbacks need each run's nets

        def on_epoch_end(epoch, st):
            if copies:
                unstack_module(st.scoring_encoder, [e for e, _ in scoring])
                unstack_module(st.scoring_generator, [g for _, g in scoring])
            s = None if per_run or stack_val is None else compute_scores(
                st.scoring_encoder, st.scoring_generator, stack_val, stacked=True)
            for r, (d, (e, g)) in enumerate(zip(detectors, scoring)):
                d._epoch(st.history[-1], e, g, None if s is None else {k: v[r] for k, v in s.items()})

        state = train(nets, pos, neg, first._train_config(), gens, on_epoch_end=on_epoch_end,
                      verbose=bool(first.verbose))
    unstack_networks(nets, [d.nets_ for d in detectors])
    unstack_module(state.scoring_encoder, [e for e, _ in scoring])
    unstack_module(state.scoring_generator, [g for _, g in scoring])
    for d, (e, g), (X, _, _) in zip(detectors, scoring, checked):
        d.encoder_, d.generator_ = e, g
        d._select()
        d._end_fit(X, state.seconds / len(detectors))
    return detectors
