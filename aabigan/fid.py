"""Fréchet Inception Distance (Heusel et al., 2017) and the Table 4 run (Supp. F, "Generation Ability").

The FID of two image sets is the Fréchet (2-Wasserstein) distance between Gaussians fitted to their
feature vectors,

    FID = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}),

lower = closer.  :func:`frechet_distance` follows the reference implementation of Heusel et al. (and
pytorch-fid): a matrix square root by ``scipy.linalg.sqrtm``, a small ridge added to both covariances when
the root comes out non-finite, and a tiny imaginary part from rounding dropped (a large one is an error).

Features: with ``feature_fn=None``, the 2048-d pool features of torchvision's Inception-v3
(:class:`InceptionFeatures`).  Its ImageNet weights are downloaded by torch on first use; offline, an
:class:`InceptionWeightsError` says where torch looked.  :class:`ClassifierFeatures` is the offline choice:
a small CNN trained here on the dataset's ten labelled classes, whose pooled features give a Fréchet
distance that ranks generators on the same data (the "domain classifier" FID used for MNIST-like data) but
is on its own scale -- *not* comparable with published Inception FIDs.  :class:`StandInFeatures` is a fixed
random conv net for tests.

:func:`fid_row` runs one cell of Table 4: AA-BiGAN trained on nine classes of an image dataset (the tenth
is the "anomaly" class of Lucic et al.'s protocol, left out), with no collected anomalies, and the FID of
its samples against held-out test images of those nine classes.  ``objective`` trains the same networks
with the BiGAN (eq. 4) or LS-BiGAN (eqs. 7-8) objective instead, the GAN and LSGAN columns of Table 4 in
this repository's architecture.  A cell is a :class:`FidConfig` (a frozen config with a stable hash of
the settings it resolves to, like :class:`aabigan.experiments.RunConfig`); :func:`run_fid` runs a grid of
them into a CSV through the one resumable runner, :func:`aabigan.experiments.run_grid` with
``report="fid"`` (``python -m aabigan fid``), and :func:`summarise_fid` renders Table 4 from the rows.
The protocol's constants (the epochs, the feature network's training) live in :mod:`aabigan.profiles`.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import platform
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np
import torch
from scipy import linalg
from torch import nn
from torch.nn import functional as F

from .nets import eval_mode
from .profiles import FID_CLASSIFIER, PROFILES, get_profile
from .store import FID_SCHEMA as _FID_SCHEMA

__all__ = ["frechet_distance", "activation_statistics", "fid", "InceptionFeatures", "StandInFeatures",
           "ClassifierFeatures", "InceptionWeightsError", "fid_row", "run_fid", "FID_FIELDS", "FID_EPOCHS",
           "FID_OBJECTIVES", "FID_FEATURES", "FidConfig", "fid_grid", "run_one_fid", "summarise_fid",
           "nine_class_data"]

#: the epochs of the FID runs per profile and dataset, as :attr:`aabigan.profiles.Profile.fid_epochs` sets them
#: (derived from them: the protocol lives in the profiles)
FID_EPOCHS = {name: dict(p.fid_epochs) for name, p in PROFILES.items() if p.fid_epochs}

#: the fields of a :func:`fid_row` result, in order (the results store's FID schema)
FID_FIELDS = list(_FID_SCHEMA.fields)

#: the detector's objectives, as Table 4 names them: (our name, the paper's nearest column)
FID_OBJECTIVES = {"aa": ("AA-BiGAN", "AA-BiGAN"), "lsgan": ("LS-BiGAN", "LSGAN"), "bigan": ("BiGAN", "GAN")}


# ------------------------------------------------------------------------------------ the distance
def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^{1/2})``, computed in float64 as in
    the reference implementation of Heusel et al.: when ``sqrtm`` of the product is not finite (a singular
    product, e.g. fewer samples than feature dimensions), ``eps * I`` is added to both covariances; an
    imaginary part of the root from rounding is dropped, and one above 1e-3 on the diagonal raises
    ``ValueError``.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,):
        raise ValueError(f"the means must be vectors of one length; got shapes {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"the covariances must be {d} x {d} like the means; got {sigma1.shape} and {sigma2.shape}")
    for name, a in (("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains non-finite values")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(d) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"the matrix square root has an imaginary component of "
                             f"{np.max(np.abs(covmean.imag)):.3g}: the covariances are not positive semi-definite")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def _as_images(images, name: str = "images") -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{name} must have shape (n, 1 or 3, H, W) with values in [0, 1]; got {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"{name}: at least 2 images are needed for a covariance, got {x.shape[0]}")
    return x


@torch.no_grad()
def activation_statistics(images, feature_fn: Callable, batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d), in float64, of ``feature_fn`` over ``images`` (n, C, H, W) in [0, 1].

    ``feature_fn`` maps a float32 CPU tensor batch (b, C, H, W) to features (b, d) (tensor or array); the
    feature modules here move the batch to their own device.
    """
    x = _as_images(images)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    feats = []
    for i in range(0, x.shape[0], int(batch_size)):
        f = feature_fn(x[i:i + int(batch_size)].float())
        f = f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f)
        feats.append(f.reshape(f.shape[0], -1).astype(np.float64))
    feats = np.concatenate(feats)
    if not np.all(np.isfinite(feats)):
        raise ValueError("the feature network returned non-finite values")
    return feats.mean(0), np.cov(feats, rowvar=False).reshape(feats.shape[1], feats.shape[1])


def fid(images_a, images_b, feature_fn: Callable | None = None, batch_size: int = 50) -> float:
    """FID between two image sets (n, C, H, W) in [0, 1], C = 1 or 3; lower = more alike.

    ``feature_fn=None`` uses :class:`InceptionFeatures` (torchvision's Inception-v3, downloaded on first
    use; offline it raises :class:`InceptionWeightsError`).  Published FIDs use the TF-FID Inception graph,
    whose weights and resizing differ slightly from torchvision's: values are close, not identical.
    """
    if feature_fn is None:
        feature_fn = InceptionFeatures()
    mu_a, s_a = activation_statistics(images_a, feature_fn, batch_size)
    mu_b, s_b = activation_statistics(images_b, feature_fn, batch_size)
    return frechet_distance(mu_a, s_a, mu_b, s_b)


# ---------------------------------------------------------------------------------- feature networks
class InceptionWeightsError(RuntimeError):
    """The Inception-v3 weights FID needs are not cached and could not be downloaded."""


def _load_inception() -> nn.Module:
    """torchvision's Inception-v3 with its ImageNet weights (downloaded into torch.hub's cache if missing)."""
    from torchvision.models import Inception_V3_Weights, inception_v3

    return inception_v3(weights=Inception_V3_Weights.IMAGENET1K_V1, progress=False)


def _module_device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def _rgb(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """A batch as float32 on the module's device, grey images repeated to three channels."""
    x = x.to(_module_device(module), torch.float32)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class InceptionFeatures(nn.Module):
    """2048-d pool features of torchvision's Inception-v3 (``Inception_V3_Weights.IMAGENET1K_V1``).

    Input: a batch (b, 1 or 3, H, W) in [0, 1].  Grey images are repeated to three channels, every image is
    resized to 299 x 299 (bilinear) and normalised with the weights' ImageNet mean and std (the model then
    maps them to its own [-1, 1] input, ``transform_input=True``); ``fc`` is replaced by the identity, so the
    output is the average-pooled last block.

    This is *not* the TF-FID Inception of Heusel et al. (pytorch-fid's ``FIDInceptionA``..``E`` blocks and
    ``pt_inception-2015-12-05`` weights): its weights and some pooling layers differ, so FIDs computed with it
    are close to, but not the same as, published numbers.  The weights are downloaded by torch into
    ``torch.hub.get_dir()/checkpoints``; when they are missing and cannot be downloaded,
    :class:`InceptionWeightsError` is raised.
    """

    name = "torchvision-inception-v3-imagenet1k-v1-pool"
    dim = 2048

    def __init__(self, device=None):
        super().__init__()
        from torchvision.models import Inception_V3_Weights

        weights = Inception_V3_Weights.IMAGENET1K_V1
        try:
            net = _load_inception()
        except Exception as exc:  # offline, a proxy, a corrupt cache file ...
            cache = f"{torch.hub.get_dir()}/checkpoints"
            raise InceptionWeightsError(
                f"FID needs the Inception-v3 weights (torchvision Inception_V3_Weights.IMAGENET1K_V1, file "
                f"{weights.url.rsplit('/', 1)[-1]}), and they could not be downloaded from {weights.url} "
                f"({type(exc).__name__}: {exc}). torch looks for them in {cache} (torch.hub.get_dir() is "
                f"{torch.hub.get_dir()}; set TORCH_HOME to move it): download the file on a machine that is "
                "online and copy it there, or pass another feature_fn.") from exc
        net.fc = nn.Identity()
        self.net = net.eval().requires_grad_(False)
        t = weights.transforms()
        self.register_buffer("mean", torch.tensor(t.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(t.std).view(1, 3, 1, 1))
        from .detector import resolve_device

        self.to(resolve_device(device))

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.mean.device, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.net((x - self.mean) / self.std)


class StandInFeatures(nn.Module):
    """A fixed, seeded random conv net as a cheap stand-in feature network (tests, offline smoke runs).

    Two random 3x3 convolutions with tanh, then per-channel mean and standard deviation over the image:
    ``2 * channels`` features that respond to brightness, contrast and texture.  Deterministic for a seed
    (its own ``torch.Generator``; the global RNG is untouched).  Its FIDs are on their own scale and are
    not comparable with Inception FIDs.
    """

    def __init__(self, channels: int = 16, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(int(seed))
        with torch.random.fork_rng(devices=[]):     # the default initialisation draws from the global RNG
            self.conv1 = nn.Conv2d(3, channels, 3, stride=2, padding=1)
            self.conv2 = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        with torch.no_grad():
            for conv in (self.conv1, self.conv2):
                fan_in = conv.weight[0].numel()
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                conv.bias.copy_(torch.randn(conv.bias.shape, generator=g) * 0.1)
        self.requires_grad_(False).eval()
        self.name = self.name_for(channels, seed)
        self.dim = 2 * channels

    @staticmethod
    def name_for(channels: int = 16, seed: int = 0) -> str:
        """The ``name`` of the network these arguments build."""
        return f"stand-in-random-conv-{channels}ch-seed{seed}"

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _rgb(x, self)
        if x.shape[-2:] != (32, 32):
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
        h = torch.tanh(self.conv2(torch.tanh(self.conv1(2 * x - 1))))
        return torch.cat([h.mean((2, 3)), h.std((2, 3))], 1)


class ClassifierFeatures(nn.Module):
    """Offline FID features: the 128-d penultimate layer of a small CNN trained on the dataset's ten classes.

    Three 3x3 convolutions (32, 64, 64 channels, each with ReLU and 2x2 max-pooling), a linear layer to 128
    units with ReLU -- the features -- and a linear layer to the ten class logits.  Trained in the constructor
    on ``max_train`` images of the official training split (all ten classes, cross-entropy, Adam 1e-3,
    batch 128, ``epochs`` passes), from ``seed`` alone (its own generators; the global RNG is untouched),
    on one thread it takes well under a minute.  ``accuracy`` is its accuracy on 2000 images of the official
    test split: a check that the features separate the classes (with the defaults, about 0.96 on MNIST
    and 0.8 on Fashion-MNIST).

    Its Fréchet distances rank generators trained on the same data; they are on their own scale, *not*
    comparable with Inception FIDs.  Input: a batch (b, 1 or 3, 32, 32) in [0, 1].
    """

    dim = 128

    # the defaults are Table 4's network, aabigan.profiles.FID_CLASSIFIER (chapter 14 prints the docstring)
    def __init__(self, dataset: str, seed: int = FID_CLASSIFIER["seed"], max_train: int = FID_CLASSIFIER["max_train"],
                 epochs: int = FID_CLASSIFIER["epochs"], device=None):
        super().__init__()
        from .data import IMAGE_DATASETS, canonical_name, load_images, to_model_input
        from .detector import resolve_device

        name = canonical_name(dataset)
        if name not in IMAGE_DATASETS:
            raise ValueError(f"ClassifierFeatures is trained on an image dataset {IMAGE_DATASETS}; got {dataset!r}")
        if int(max_train) < 128 or int(epochs) < 1:
            raise ValueError(f"max_train must be at least 128 and epochs at least 1, got {max_train}, {epochs}")
        self.name = self.name_for(name, seed, max_train, epochs)
        rng = np.random.default_rng(int(seed))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.body = nn.Sequential(
                nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(64 * 4 * 4, self.dim), nn.ReLU())
            self.head = nn.Linear(self.dim, 10)
        self.to(resolve_device(device))
        dev = _module_device(self)
        X, y = load_images(name, True)
        idx = np.sort(rng.choice(len(y), min(int(max_train), len(y)), replace=False))
        X, y = torch.as_tensor(to_model_input(X[idx])), torch.as_tensor(y[idx])
        opt = torch.optim.Adam(self.parameters(), lr=1e-3)
        for _ in range(int(epochs)):
            for batch in torch.as_tensor(rng.permutation(len(y))).split(128):
                loss = F.cross_entropy(self.head(self.body(X[batch].to(dev))), y[batch].to(dev))
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.requires_grad_(False).eval()
        Xt, yt = load_images(name, False)
        pred = np.concatenate([self.head(self(torch.as_tensor(to_model_input(Xt[i:i + 500])))).argmax(1).cpu().numpy()
                               for i in range(0, 2000, 500)])
        self.accuracy = float(np.mean(pred == yt[:2000]))

    @classmethod
    def name_for(cls, dataset: str, seed: int = FID_CLASSIFIER["seed"], max_train: int = FID_CLASSIFIER["max_train"],
                 epochs: int = FID_CLASSIFIER["epochs"]) -> str:
        """The ``name`` of the network these arguments train (known before it is trained)."""
        return f"classifier-{dataset}-{cls.dim}d-n{int(max_train)}-e{int(epochs)}-seed{int(seed)}"

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _rgb(x, self)
        if x.shape[-2:] != (32, 32):
            raise ValueError(f"ClassifierFeatures takes 32 x 32 images, got {tuple(x.shape[-2:])}")
        return self.body(x)


# --------------------------------------------------------------------------------- Table 4: one cell
def nine_class_data(dataset: str, anomaly_class: int, seed: int = 0, max_train: int | None = None,
                    max_reference: int | None = None, channels: int = 3, return_labels: bool = False) -> tuple:
    """Training images and reference (held-out test) images of the nine classes other than ``anomaly_class``.

    Built from :func:`aabigan.data.load_images` / :func:`~aabigan.data.to_model_input`, (n, channels, 32, 32)
    in [0, 1]: the training images from the official training split, the reference images from the official
    test split, each subsampled uniformly at random (one ``np.random.Generator`` from ``seed``) to
    ``max_train`` / ``max_reference`` when given.  ``return_labels=True`` adds the two label arrays:
    ``(X_train, X_ref, y_train, y_ref)``.
    """
    from .data import IMAGE_DATASETS, canonical_name, load_images, to_model_input

    name = canonical_name(dataset)
    if name not in IMAGE_DATASETS:
        raise ValueError(f"FID is computed on image datasets {IMAGE_DATASETS}; got {dataset!r}")
    if int(anomaly_class) not in range(10):
        raise ValueError(f"anomaly_class must be one of the classes 0-9, got {anomaly_class!r}")
    rng = np.random.default_rng(int(seed))
    out, labels = [], []
    for train, cap in ((True, max_train), (False, max_reference)):
        X, y = load_images(name, train)
        idx = np.flatnonzero(y != int(anomaly_class))
        if cap is not None:
            if int(cap) < 2:
                raise ValueError(f"max_train and max_reference must be at least 2, got {cap}")
            idx = np.sort(rng.choice(idx, min(int(cap), len(idx)), replace=False))
        out.append(to_model_input(X[idx], channels))
        labels.append(y[idx])
    return (out[0], out[1], labels[0], labels[1]) if return_labels else (out[0], out[1])


@torch.no_grad()
def _generate(generator: nn.Module, latent_dim: int, n: int, seed: int, device, batch: int = 500) -> np.ndarray:
    """n images G(z), z ~ N(0, I) drawn on the CPU from ``seed`` (the draws of ``AABiGAN.sample(n, seed)``)."""
    z = torch.randn(int(n), latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    with eval_mode(generator):
        return np.concatenate([generator(z[i:i + batch].to(device)).cpu().numpy() for i in range(0, n, batch)])


#: the feature networks a :class:`FidConfig` names: "classifier" (:class:`ClassifierFeatures` trained as
#: :data:`aabigan.profiles.FID_CLASSIFIER` says, one network per dataset; works offline), "inception"
#: (:class:`InceptionFeatures`; needs its weights), "stand-in" (:class:`StandInFeatures`, for smoke runs)
FID_FEATURES = ("classifier", "inception", "stand-in")
#: the overrides of a :class:`FidConfig` that cap the data rather than set AA-BiGAN (default: the profile's
#: ``fid_data``)
DATA_OPTIONS = ("max_train", "max_reference")


def _feature_net_name(features: str, dataset: str) -> str:
    if features == "classifier":
        return ClassifierFeatures.name_for(dataset, **FID_CLASSIFIER)
    if features == "inception":
        return InceptionFeatures.name
    if features == "stand-in":
        return StandInFeatures.name_for()
    return features          # a feature network's own name (fid_row with a feature_fn of its own)


def _name_of(feature_fn) -> str:
    """A feature network's ``name`` (a plain function: its own name)."""
    return str(getattr(feature_fn, "name", None) or getattr(feature_fn, "__name__", type(feature_fn).__name__))


@dataclass(frozen=True)
class FidConfig:
    """Everything that determines one Table 4 cell (:func:`run_one_fid`).

    ``features``: one of :data:`FID_FEATURES`, or the ``name`` of a feature network passed to :func:`fid_row`
    by hand (such a config cannot build its network).  ``overrides``: (name, value) pairs of AA-BiGAN settings
    (``epochs``, ``width``, ...) and of :data:`DATA_OPTIONS`.  :attr:`hash` is of the config *and* of what it
    resolves to -- the AA-BiGAN settings, the data caps and the feature network's name -- so a changed profile
    or feature protocol trains again, while "classifier" and the name it gives are one config."""

    dataset: str
    anomaly_class: int
    objective: str = "aa"
    features: str = "classifier"
    seed: int = 0
    profile: str = "smoke"
    rule: str = "best"
    overrides: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        from .data import IMAGE_DATASETS, canonical_name
        from .methods import METHODS
        from .validation import check_integer

        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        if self.dataset not in IMAGE_DATASETS:
            raise ValueError(f"FID is computed on image datasets {IMAGE_DATASETS}; got {self.dataset!r}")
        if isinstance(self.anomaly_class, bool) or int(self.anomaly_class) not in range(10):
            raise ValueError(f"anomaly_class must be one of the classes 0-9, got {self.anomaly_class!r}")
        object.__setattr__(self, "anomaly_class", int(self.anomaly_class))
        object.__setattr__(self, "seed", int(check_integer(self.seed, "seed", 0)))
        if self.objective not in FID_OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose one of {', '.join(FID_OBJECTIVES)}")
        if self.rule not in ("best", "last"):
            raise ValueError(f"unknown rule {self.rule!r}; choose 'best' (lowest FID over the epochs) or 'last'")
        if not isinstance(self.features, str) or not self.features.strip():
            raise ValueError(f"unknown features {self.features!r}; choose one of {', '.join(FID_FEATURES)} (or "
                             "name the feature network passed to fid_row)")
        get_profile(self.profile)
        overrides = {str(k): tuple(v) if isinstance(v, list) else v for k, v in dict(self.overrides).items()}
        for k in DATA_OPTIONS:
            if k in overrides and (overrides[k] is None or int(overrides[k]) < 2):
                raise ValueError(f"max_train and max_reference must be at least 2, got {overrides[k]}")
        METHODS["aabigan"].params({k: v for k, v in overrides.items() if k not in DATA_OPTIONS})  # unknown names
        object.__setattr__(self, "overrides", tuple(sorted(overrides.items())))

    family = "image"

    def settings(self) -> dict:
        """AA-BiGAN's settings: the profile's for FID (:meth:`~aabigan.profiles.Profile.fid_settings`), the
        objective, then the overrides -- what a row records as ``settings``."""
        out = get_profile(self.profile).fid_settings(self.dataset)
        if self.objective != "aa":
            out["objective"] = self.objective
        out.update({k: v for k, v in self.overrides if k not in DATA_OPTIONS})
        out["epochs"] = int(out["epochs"])
        return out

    def data_args(self) -> dict:
        """:func:`nine_class_data`'s caps: the profile's ``fid_data``, or the overrides."""
        caps = get_profile(self.profile).fid_data
        out = {"max_train": caps.get("max_train"), "max_reference": caps.get("max_reference")}
        out.update({k: int(v) for k, v in self.overrides if k in DATA_OPTIONS})
        return out

    @property
    def feature_net(self) -> str:
        """The name of the feature network the run measures with."""
        return _feature_net_name(self.features, self.dataset)

    @classmethod
    def from_row(cls, row: dict) -> "FidConfig":
        """The config an FID row was written for: its fields, the feature network it names, and as overrides
        the settings and image counts in which the row differs from its profile's.  ``from_row(row).hash ==
        row["config_hash"]`` unless the profile changed since (then the runner trains that cell again); a row
        whose counts fell short of the profile's caps (fewer images than the cap) gives the counts as caps."""
        dataset, prof = row["dataset"], row["profile"]
        features = next((f for f in FID_FEATURES if _feature_net_name(f, dataset) == row["feature_net"]),
                        row["feature_net"])
        cfg = cls(dataset, int(row["anomaly_class"]), row["objective"] or "aa", features, int(row["seed"]), prof,
                  row["rule"])
        recorded = json.loads(row["settings"]) if row.get("settings") else {}
        base = cfg.settings()
        overrides = {k: v for k, v in recorded.items() if k != "objective" and base.get(k) != v}
        missing = sorted(set(base) - set(recorded))
        if missing:
            raise ValueError(f"{getattr(row, 'source', 'a row')}: its settings lack {missing} of profile {prof!r}")
        caps = cfg.data_args()
        for k, col in (("max_train", "n_train"), ("max_reference", "n_reference")):
            if str(row.get(col, "")).strip() and int(row[col]) != caps[k]:
                overrides[k] = int(row[col])
        return dataclasses.replace(cfg, overrides=tuple(overrides.items()))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["overrides"] = dict(self.overrides)
        return d

    @property
    def hash(self) -> str:
        """Stable hash of the config and what it resolves to (settings, data caps, feature network)."""
        config = {k: v for k, v in self.to_dict().items() if k != "features"}
        blob = json.dumps({"config": config, "settings": self.settings(), "data": self.data_args(),
                           "feature_net": self.feature_net}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def _feature_network(features: str, dataset: str) -> nn.Module:
    """The feature network of a :class:`FidConfig`, built once per process (the classifier trains ~a minute)."""
    if features == "classifier":
        return ClassifierFeatures(dataset, **FID_CLASSIFIER)
    if features == "inception":
        return InceptionFeatures()
    if features == "stand-in":
        return StandInFeatures()
    raise ValueError(f"a config naming the feature network {features!r} cannot build it; pass feature_fn to fid_row")


def fid_row(dataset: str, anomaly_class: int, profile: str | None = None, seed: int = 0,
            feature_fn: Callable | None = None, rule: str = "best", epochs: int | None = None,
            max_train: int | None = None, max_reference: int | None = None, batch_size: int = 50,
            objective: str = "aa") -> dict:
    """One cell of Table 4 (Supp. F, "Generation Ability Assessment"), as a result row (:data:`FID_FIELDS`).

    AA-BiGAN is trained on the nine classes other than ``anomaly_class``, all treated as normal (no
    collected anomalies), with the profile's image settings and ``objective`` (:data:`FID_OBJECTIVES`).
    Epochs: the profile's FID epochs (:attr:`aabigan.profiles.Profile.fid_epochs`: 20 for MNIST / F-MNIST
    and 100 for CIFAR-10 under ``paper``), the profile's image epochs otherwise, or ``epochs``.
    The generator then draws as many images as the reference set holds, and their FID against the held-out
    test images of the nine classes is computed with ``feature_fn`` (None: :class:`InceptionFeatures`).
    ``fid_real`` is the FID of the training images themselves against the same reference: the value a
    perfect generator would get with these sample sizes and features.

    ``rule="best"`` computes the FID after every epoch and reports the lowest with its epoch ("the best
    observed FID", as the paper does -- a choice made on the reference set, so optimistic);
    ``rule="last"`` only scores the networks after the last epoch.  ``fid_last`` is in the row either way.
    ``max_train`` / ``max_reference`` cap the image counts (default: the profile's ``fid_data``; none under
    ``paper``: all 54000 / 9000 MNIST images).  The row's ``config_hash`` is of the
    :class:`FidConfig` these arguments make (its ``features``: the feature network's name).
    """
    overrides = tuple((k, v) for k, v in (("epochs", epochs), ("max_train", max_train),
                                          ("max_reference", max_reference)) if v is not None)
    name = "inception" if feature_fn is None else _name_of(feature_fn)
    cfg = FidConfig(dataset, anomaly_class, objective, name, seed, get_profile(profile).name, rule, overrides)
    return _fid_experiment(cfg, feature_fn, batch_size)


def _fid_experiment(cfg: FidConfig, feature_fn: Callable | None = None, batch_size: int = 50) -> dict:
    """The row of one config, measured with ``feature_fn`` (None: the config's own network)."""
    import torchvision

    from . import __version__
    from .detector import AABiGAN
    from .provenance import commit as _commit, device_name as _device_name
    from .profiles import RUNNER_BASE_SETTINGS

    t0 = time.perf_counter()
    settings = cfg.settings()
    if feature_fn is None:
        feature_fn = InceptionFeatures(settings.get("device")) if cfg.features == "inception" else \
            _feature_network(cfg.features, cfg.dataset)
    net_name = _name_of(feature_fn)
    if net_name != cfg.feature_net:
        raise ValueError(f"the feature network is {net_name!r}, not the config's {cfg.feature_net!r}")
    X_train, X_ref = nine_class_data(cfg.dataset, cfg.anomaly_class, cfg.seed, **cfg.data_args())
    seed = cfg.seed
    mu_ref, s_ref = activation_statistics(X_ref, feature_fn, batch_size)
    n_gen = len(X_ref)
    # the same distance for real images: the training images themselves (at most n_gen of them) -- the
    # floor this protocol's sample sizes and features allow
    fid_real = frechet_distance(*activation_statistics(X_train[:n_gen], feature_fn, batch_size), mu_ref, s_ref)

    def score(generator, latent_dim, device) -> float:
        gen = _generate(generator, latent_dim, n_gen, seed, device)
        mu, s = activation_statistics(gen, feature_fn, batch_size)
        return frechet_distance(mu, s, mu_ref, s_ref)

    per_epoch: list[tuple[float, int]] = []

    def track(epoch, det) -> None:   # scores every epoch's generator (a callback: the training is untouched)
        per_epoch.append((score(det.generator_, det.nets_.latent_dim, det.device_), int(epoch)))

    from .experiments import _quiet_short_fits

    with _quiet_short_fits(cfg.profile):
        det = AABiGAN(**{**RUNNER_BASE_SETTINGS, **settings}, random_state=seed).fit(
            X_train, callbacks=(track,) if cfg.rule == "best" else ())
    last = per_epoch[-1][0] if per_epoch else score(det.generator_, det.nets_.latent_dim, det.device_)
    best, best_epoch = min(per_epoch, key=lambda t: (t[0], t[1])) if per_epoch else (last, det.selected_epoch_)
    return {
        "config_hash": cfg.hash, "status": "ok", "dataset": cfg.dataset, "objective": cfg.objective,
        "anomaly_class": cfg.anomaly_class, "profile": cfg.profile,
        "seed": seed, "fid": round(best, 4), "rule": cfg.rule, "epoch": int(best_epoch),
        "fid_last": round(last, 4), "fid_real": round(fid_real, 4), "epochs": settings["epochs"], "n_train": int(len(X_train)),
        "n_reference": int(len(X_ref)), "n_generated": int(n_gen),
        "feature_net": net_name,
        "feature_dim": int(len(mu_ref)), "feature_accuracy": getattr(feature_fn, "accuracy", ""),
        "settings": json.dumps(settings, sort_keys=True),
        "fit_seconds": round(float(det.fit_seconds_), 3), "seconds": round(time.perf_counter() - t0, 3),
        "device": _device_name(det.device_), "aabigan_version": __version__, "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__, "python_version": platform.python_version(),
        "commit": _commit(), "error": "", "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def run_one_fid(cfg: FidConfig) -> list[dict]:
    """The result rows of one config (one row; a single failed row on error), as the grid runner takes them
    (:func:`aabigan.experiments.run_grid` with ``report="fid"``)."""
    try:
        return [_fid_experiment(cfg)]
    except Exception as exc:   # recorded as failed, never as a number
        return [{f: "" for f in FID_FIELDS} | {
            "config_hash": cfg.hash, "status": "failed", "dataset": cfg.dataset, "objective": cfg.objective,
            "anomaly_class": cfg.anomaly_class, "profile": cfg.profile, "seed": cfg.seed, "rule": cfg.rule,
            "feature_net": cfg.feature_net, "settings": json.dumps(cfg.settings(), sort_keys=True),
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}]


def fid_grid(datasets, anomaly_classes, objectives=("aa",), profile: str | None = None, seeds=(0,),
             features: str = "classifier", rule: str = "best", overrides=()) -> list[FidConfig]:
    """The configs of every dataset x objective x anomaly class x seed (in that order)."""
    if features not in FID_FEATURES:
        raise ValueError(f"unknown features {features!r}; choose one of {', '.join(FID_FEATURES)}")
    prof = get_profile(profile).name
    return [FidConfig(d, k, o, features, s, prof, rule, tuple(overrides)) for d in datasets for o in objectives
            for k in anomaly_classes for s in seeds]


def run_fid(datasets, anomaly_classes, out, objectives=("aa",), profile: str | None = None, seeds=(0,),
            features: str = "classifier", rule: str = "best", progress: bool = True, overrides=(),
            workers: int = 1, executor=None) -> dict:
    """Table 4 cells (:func:`fid_grid`) for every dataset x objective x anomaly class x seed, run by the one
    grid runner (:func:`aabigan.experiments.run_grid`, ``report="fid"``) into the CSV ``out``: locked against a
    second runner, one row per cell written as it finishes, cells already there (an ok row of the same config
    hash) skipped, so an interrupted grid resumes and a changed setting runs again.  ``features``: one of
    :data:`FID_FEATURES`.  A cell that raises is recorded as a failed row.  Returns counts {"done_before",
    "ran", "failed"}."""
    from .experiments import run_grid

    configs = fid_grid(datasets, anomaly_classes, objectives, profile, seeds, features, rule, overrides)
    return run_grid(configs, out, progress=progress, workers=workers, report="fid", executor=executor)


def summarise_fid(rows: list[dict], directory=None) -> list[dict]:
    """Table 4 from :func:`fid_row` rows: mean ± std of the FID per (dataset, objective, feature network),
    over the anomaly classes and seeds (``real``: the mean ``fid_real``, the floor), with the paper's value
    for its nearest model beside it
    (:data:`FID_OBJECTIVES`: AA-BiGAN -> AA-BiGAN, LS-BiGAN -> LSGAN, BiGAN -> GAN).  Failed rows are left
    out.  A cell whose rows differ in their settings, selection rule or image counts is refused
    (ValueError), as :func:`aabigan.tables.summarise` refuses one: its mean would be of different experiments.
    The paper's FIDs use Inception features: with any other feature network the two columns are on
    different scales, and only the ranking of the models can be set side by side."""
    from .data import DISPLAY_NAMES
    from .tables import paper_table

    paper = {(p["dataset"], p["method"]): f"{p['mean']} ± {p['std']}" for p in paper_table("table4", directory)}
    groups: dict[tuple, list[float]] = defaultdict(list)
    real: dict[tuple, list[float]] = defaultdict(list)
    profiles: dict[tuple, set] = defaultdict(set)
    protocol: dict[tuple, set] = defaultdict(set)
    for r in rows:
        if r.get("status", "ok") != "ok":
            continue
        k = (DISPLAY_NAMES.get(r["dataset"], r["dataset"]), r.get("objective") or "aa", r["feature_net"])
        groups[k].append(float(r["fid"]))
        if r.get("fid_real") not in (None, ""):
            real[k].append(float(r["fid_real"]))
        profiles[k].add(str(r["profile"]))
        protocol[k].add((f"settings {r.get('settings', '')}", f"rule {r.get('rule', '')}",
                         f"n_train {r.get('n_train', '')}", f"n_reference {r.get('n_reference', '')}"))
    mixed = {k: v for k, v in protocol.items() if len(v) > 1}
    if mixed:
        (ds, obj, net), v = next(iter(mixed.items()))
        raise ValueError(f"cell {{'dataset': {ds!r}, 'objective': {obj!r}, 'feature_net': {net!r}}} mixes runs "
                         f"with different settings ({' vs '.join(', '.join(p) for p in sorted(v))}); select one "
                         "profile or keep such runs in separate result files")
    order = list(FID_OBJECTIVES)
    out = []
    for (ds, obj, net), vals in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2], order.index(kv[0][1]))):
        v = np.asarray(vals)
        std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        ours, theirs = FID_OBJECTIVES[obj]
        out.append({"dataset": ds, "method": ours, "feature_net": net, "ours": f"{v.mean():.1f} ± {std:.1f}",
                    "mean": float(v.mean()), "n": len(v), "paper_method": theirs,
                    "real": f"{np.mean(real[(ds, obj, net)]):.1f}" if real[(ds, obj, net)] else "—",
                    "paper": paper.get((ds, theirs), "—"), "profile": ",".join(sorted(profiles[(ds, obj, net)]))})
    return out
