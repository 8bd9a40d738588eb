"""The one training loop (Algorithm 1) serving the BiGAN, LS-BiGAN and AA-BiGAN objectives.

Each step: a D and D' step on a minibatch of normal samples, a minibatch of collected anomalies (when
there are any) and fresh latent codes; then a G and E step on the same minibatch.  E(x), G(z) and
G(E(x)) are computed once per step and reused by both updates (the D step sees them detached).

The losses come from :mod:`aabigan.losses`; the networks from :mod:`aabigan.nets`.
"""
from __future__ import annotations

import contextlib
import copy
import math
import numbers
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import losses as L
from .errors import TrainingDivergedError
from .nets import Networks

__all__ = ["TrainConfig", "TrainState", "train", "OBJECTIVES", "cpu_has_native_bf16"]

OBJECTIVES = ("bigan", "lsgan", "aa")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of the training loop.  Defaults are the paper's (Supp. E, Sec. 3.3)."""

    objective: str = "aa"
    epochs: int = 100
    min_steps: int = 0                  # at least this many steps: small data sets get more epochs
    batch_size: int = 128
    neg_batch_size: int | None = None   # collected anomalies per step; default batch_size // 4
    lr_ge: float = 1e-4
    lr_d: float = 2.5e-5
    betas: tuple[float, float] = (0.5, 0.999)   # Adam's (beta1, beta2); the authors' code: (0.5, 0.9)
    lr_step_every: int | None = None    # multiply both learning rates by lr_step_gamma every so many epochs
    lr_step_gamma: float = 0.98         # (the authors' code: StepLR every 100 epochs, gamma 0.98)
    a: float = 1.0
    b: float = 0.0
    c: float | None = None              # None: 0.75 for 'aa' (paper), 0.5 for 'lsgan' (eq. 8)
    neg_target: float | None = None     # None: (a+b)/2 (eq. 15); 0 with a=1, b=0 is eq. (9)
    recon_weight: float = 1.0           # weight of the D' terms in the G/E loss (authors' code: 1/3)
    ema_decay: float | None = None      # exponential moving average of E and G weights for scoring
    amp: bool = False                   # bfloat16 autocast of the forward passes (for GPUs; losses in fp32)
    compile: bool = False               # torch.compile the four networks' training forward passes

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose one of {OBJECTIVES}")
        for name, low in (("epochs", 1), ("min_steps", 0), ("batch_size", 2)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name} must be at least {low} and a whole number, got {v!r}")
        if self.neg_batch_size is not None and (not isinstance(self.neg_batch_size, numbers.Integral)
                                                or self.neg_batch_size < 1):
            raise ValueError(f"neg_batch_size must be None or at least 1 and a whole number, "
                             f"got {self.neg_batch_size!r}")
        for name in ("lr_ge", "lr_d"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v}")
        if (len(self.betas) != 2 or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in self.betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.lr_step_every is not None and (isinstance(self.lr_step_every, bool)
                                               or not isinstance(self.lr_step_every, numbers.Integral)
                                               or self.lr_step_every < 1):
            raise ValueError(f"lr_step_every must be None or a whole number of epochs >= 1, got {self.lr_step_every!r}")
        if not (isinstance(self.lr_step_gamma, numbers.Real) and 0 < self.lr_step_gamma <= 1):
            raise ValueError(f"lr_step_gamma must lie in (0, 1], got {self.lr_step_gamma!r}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in (0, 1), got {self.ema_decay}")
        for name in ("amp", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def epochs_for(self, steps_per_epoch: int) -> int:
        """``epochs``, or more when that many epochs would take fewer than ``min_steps`` steps."""
        return max(int(self.epochs), math.ceil(int(self.min_steps) / max(1, steps_per_epoch)))

    def steps_per_epoch(self, n_normal: int) -> int:
        """Steps of one epoch over ``n_normal`` normal samples (the last incomplete batch is dropped)."""
        return max(1, int(n_normal) // min(int(self.batch_size), max(1, int(n_normal))))

    def total_steps(self, n_normal: int) -> int:
        """Steps of the whole training on ``n_normal`` normal samples."""
        spe = self.steps_per_epoch(n_normal)
        return spe * self.epochs_for(spe)

    @property
    def target_c(self) -> float:
        if self.c is not None:
            return float(self.c)
        return 0.5 if self.objective == "lsgan" else 0.75

    @property
    def uses_anomalies(self) -> bool:
        return self.objective == "aa"


@dataclass
class TrainState:
    """What training leaves behind: the networks to score with and the loss history."""

    nets: Networks
    scoring_encoder: torch.nn.Module
    scoring_generator: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX, as oneDNN reports it).

    Without it -- an AVX2-only machine, say -- bfloat16 autocast falls back to emulated kernels that were
    measured about 30x slower than float32.  False when torch cannot tell."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):   # a torch without the private query
        return False


def _check_amp(cfg: "TrainConfig", device: torch.device) -> None:
    """Autocast is opt-in only (``cfg.amp``); on a CPU without native bfloat16 it warns that it is slow."""
    if cfg.amp and device.type == "cpu" and not cpu_has_native_bf16():
        warnings.warn("amp=True on a CPU without native bfloat16 (no AVX512-BF16 or AMX): autocast falls back "
                      "to emulated kernels, measured about 30x slower than float32 on such a machine; amp is "
                      "meant for GPUs -- leave it off here", RuntimeWarning, stacklevel=3)


def _compiled(mod: torch.nn.Module | None, on: bool):
    """``torch.compile(mod)`` for the training step (it shares ``mod``'s parameters and buffers), else ``mod``."""
    if mod is None or not on:
        return mod
    return torch.compile(mod)


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm, 1 - decay)
        for be, bm in zip(ema.buffers(), model.buffers()):
            be.copy_(bm)


def _d_losses(cfg: TrainConfig, d_pos, d_neg, d_gen, dp_self, dp_neg, dp_rec):
    """Loss of the D/D' step for the chosen objective."""
    if cfg.objective == "bigan":
        loss = L.bigan_d_loss(d_pos, d_gen)
        if dp_self is not None:
            loss = loss + L.bigan_d_loss(dp_self, dp_rec)
        return loss
    loss = L.aa_d_loss(d_pos, d_neg, d_gen, a=cfg.a, b=cfg.b, neg_target=cfg.neg_target)
    if dp_self is not None:
        loss = loss + L.recon_d_loss(dp_self, dp_neg, dp_rec, a=cfg.a, b=cfg.b)
    return loss


def _ge_losses(cfg: TrainConfig, d_pos, d_neg, d_gen, dp_self, dp_neg, dp_rec):
    """Loss of the G/E step.  dp_self and dp_neg are constants for G and E (see losses.recon_ge_loss)."""
    if cfg.objective == "bigan":
        loss = L.bigan_ge_loss(d_pos, d_gen)
        if dp_rec is not None:
            loss = loss + cfg.recon_weight * L.bigan_ge_loss(dp_self, dp_rec)
        return loss
    c = cfg.target_c
    loss = L.aa_ge_loss(d_pos, d_neg, d_gen, c=c)
    if dp_rec is not None:
        loss = loss + cfg.recon_weight * L.recon_ge_loss(dp_self, dp_neg, dp_rec, c=c)
    return loss


class _Draws:
    """The random draws of training -- shuffles, anomaly minibatches, latent codes -- for one run or a stack.

    A stack of R runs draws for each run from that run's own generator, in the same order as a run trained
    alone, so stacking does not change what any run sees.
    """

    def __init__(self, generator, device):
        self.stacked = isinstance(generator, (list, tuple))
        self.gens = list(generator) if self.stacked else [generator]
        self.device = device

    def _each(self, fn) -> torch.Tensor:
        out = [fn(g) for g in self.gens]
        return (torch.stack(out) if self.stacked else out[0]).to(self.device)

    def perm(self, n: int) -> torch.Tensor:
        return self._each(lambda g: torch.randperm(n, generator=g))

    def normal(self, *shape: int) -> torch.Tensor:
        return self._each(lambda g: torch.randn(*shape, generator=g))

    def take(self, X: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if not self.stacked:
            return X[idx]
        return X[torch.arange(len(self.gens), device=X.device)[:, None], idx]


def train(nets: Networks, X_pos: torch.Tensor, X_neg: torch.Tensor | None, cfg: TrainConfig,
          generator, on_epoch_end: Callable[[int, TrainState], None] | None = None,
          verbose: bool = False) -> TrainState:
    """Train ``nets`` on normal samples ``X_pos`` and collected anomalies ``X_neg`` (may be None/empty).

    ``X_pos``/``X_neg`` are tensors already on the training device.  ``generator`` is a CPU
    ``torch.Generator`` that drives shuffling, anomaly batches and latent codes, so a seed fixes the run
    (on the CPU; cuDNN kernels may add nondeterminism on a GPU).  ``on_epoch_end(epoch, state)`` is called
    after every epoch, e.g. to score a validation set.  Raises :class:`TrainingDivergedError` when a loss
    turns non-finite.

    Stacked runs (:mod:`aabigan.stacked`): pass stacked networks, ``X_pos`` of shape (R, n, d), ``X_neg`` of
    shape (R, m, d) and a list of R generators.  The loss is the sum of the R runs' losses, so every run's
    weights get exactly the gradient they would get alone.

    GPU switches, both off by default and never switched on by themselves: ``cfg.amp`` runs the forward
    passes under bfloat16 autocast (warning on a CPU without native bfloat16, where it is slow);
    ``cfg.compile`` runs them through ``torch.compile`` versions of the four networks, which share the
    networks' weights, so the networks returned (and scored, saved, EMA-averaged) are the plain modules.
    """
    device = X_pos.device
    draws = _Draws(generator, device)
    runs = len(draws.gens)
    bdim = 1 if draws.stacked else 0           # the batch axis of the data tensors
    n = X_pos.shape[bdim]
    if n < 2:
        raise ValueError(f"training needs at least 2 normal samples, got {n}")
    if X_neg is not None and X_neg.shape[bdim] == 0:
        X_neg = None
    if X_neg is not None and not cfg.uses_anomalies:
        raise ValueError(f"objective {cfg.objective!r} has no term for collected anomalies; "
                         "use objective='aa' or train on the normal samples only")
    _check_amp(cfg, device)
    E, G, D, Dp = nets.encoder, nets.generator, nets.joint_disc, nets.pair_disc
    opt_ge = torch.optim.Adam(list(E.parameters()) + list(G.parameters()), lr=cfg.lr_ge, betas=cfg.betas)
    d_params = list(D.parameters()) + (list(Dp.parameters()) if Dp is not None else [])
    opt_d = torch.optim.Adam(d_params, lr=cfg.lr_d, betas=cfg.betas)
    schedulers = ([torch.optim.lr_scheduler.StepLR(o, cfg.lr_step_every, cfg.lr_step_gamma) for o in (opt_ge, opt_d)]
                  if cfg.lr_step_every else [])
    ema_E = copy.deepcopy(E) if cfg.ema_decay else None
    ema_G = copy.deepcopy(G) if cfg.ema_decay else None
    state = TrainState(nets, ema_E or E, ema_G or G)
    # the training forward passes: compiled versions of the same modules (same parameters) when asked for
    E, G, D, Dp = (_compiled(mod, cfg.compile) for mod in (E, G, D, Dp))

    batch = min(int(cfg.batch_size), n)
    steps = cfg.steps_per_epoch(n)      # drop the last incomplete batch (BatchNorm needs > 1 sample)
    m = 0 if X_neg is None else X_neg.shape[bdim]
    neg_batch = min(cfg.neg_batch_size or max(1, batch // 4), m) if m else 0
    latent = nets.latent_dim

    def amp():                           # mixed precision: bfloat16 forward passes, fp32 losses and weights
        return torch.autocast(device.type, dtype=torch.bfloat16) if cfg.amp else contextlib.nullcontext()

    def cut(t, start, length):           # a slice along the batch axis (discriminator outputs: the last)
        return t.narrow(t.dim() - 1 if t.dim() == bdim + 1 else bdim, start, length)

    epochs = cfg.epochs_for(steps)
    bar = None
    if verbose:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc=f"{cfg.objective} training", unit="epoch")
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for mod in nets.modules().values():
            mod.train()
        perm = draws.perm(n)
        sum_d = torch.zeros((), device=device)
        sum_ge = torch.zeros((), device=device)
        for s in range(steps):
            x = draws.take(X_pos, perm[..., s * batch:(s + 1) * batch])
            bsz = x.shape[bdim]
            xn = draws.take(X_neg, draws.perm(m)[..., :neg_batch]) if neg_batch else None
            z = draws.normal(bsz, latent)

            # shared forward passes: one encoder pass over normals and anomalies together
            x_all = x if xn is None else torch.cat([x, xn], bdim)
            with amp():
                z_all = E(x_all)
                x_fake = G(z)
                x_rec = G(cut(z_all, 0, bsz)) if Dp is not None else None

            def split(out):              # discriminator outputs -> (normals, anomalies or None), in fp32
                out = out.float()
                return cut(out, 0, bsz), (cut(out, bsz, neg_batch) if xn is not None else None)

            # ---- D and D' step (E and G outputs detached)
            for p in d_params:
                p.requires_grad_(True)
            with amp():
                d_pos, d_neg = split(D(x_all, z_all.detach()))
                d_gen = D(x_fake.detach(), z).float()
                if Dp is not None:
                    dp_self, dp_neg = split(Dp(x_all, x_all))
                    dp_rec = Dp(x, x_rec.detach()).float()
                else:
                    dp_self = dp_neg = dp_rec = None
            loss_d = runs * _d_losses(cfg, d_pos, d_neg, d_gen, dp_self, dp_neg, dp_rec)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            # ---- G and E step against the updated discriminators
            for p in d_params:
                p.requires_grad_(False)
            with amp():
                d_pos, d_neg = split(D(x_all, z_all))
                d_gen = D(x_fake, z).float()
                dp_rec_ge = Dp(x, x_rec).float() if Dp is not None else None
            loss_ge = runs * _ge_losses(cfg, d_pos, d_neg, d_gen,
                                        dp_self.detach() if dp_self is not None else None,
                                        dp_neg.detach() if dp_neg is not None else None, dp_rec_ge)
            opt_ge.zero_grad(set_to_none=True)
            loss_ge.backward()
            opt_ge.step()
            if ema_E is not None:
                _ema_update(ema_E, nets.encoder, cfg.ema_decay)
                _ema_update(ema_G, nets.generator, cfg.ema_decay)
            sum_d += loss_d.detach()
            sum_ge += loss_ge.detach()
        for p in d_params:
            p.requires_grad_(True)
        for sched in schedulers:
            sched.step()
        ld, lge = (sum_d / steps / runs).item(), (sum_ge / steps / runs).item()
        if not (math.isfinite(ld) and math.isfinite(lge)):
            raise TrainingDivergedError(f"losses became non-finite in epoch {epoch + 1} "
                                        f"(D loss {ld}, G/E loss {lge}); lower the learning rates or check "
                                        "the input scaling")
        state.history.append({"epoch": epoch + 1, "loss_d": ld, "loss_ge": lge})
        state.seconds = time.perf_counter() - t0
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, state)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss_d=f"{ld:.3f}", loss_ge=f"{lge:.3f}")
    if bar is not None:
        bar.close()
    state.seconds = time.perf_counter() - t0
    return state
