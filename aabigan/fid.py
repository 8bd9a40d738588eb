"""Fréchet Inception Distance (Heusel et al., 2017) and the Table 4 run (Supp. F, "Generation Ability").

The FID of two image sets is the Fréchet (2-Wasserstein) distance between Gaussians fitted to their
feature vectors,

    FID = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}),

lower = closer.  :func:`frechet_distance` follows the reference implementation of Heusel et al. (and
pytorch-fid): a matrix square root by ``scipy.linalg.sqrtm``, a small ridge added to both covariances when
the root comes out non-finite, and a tiny imaginary part from rounding dropped (a large one is an error).

Features: with ``feature_fn=None``, the 2048-d pool features of torchvision's Inception-v3
(:class:`InceptionFeatures`).  Its ImageNet weights are downloaded by torch on first use; offline, an
:class:`InceptionWeightsError` says where torch looked.  :class:`StandInFeatures` is a fixed random conv net
for tests: its distances are *not* comparable with any published FID.

:func:`fid_row` runs one cell of Table 4: AA-BiGAN trained on nine classes of an image dataset (the tenth
is the "anomaly" class of Lucic et al.'s protocol, left out), with no collected anomalies, and the FID of
its samples against held-out test images of those nine classes.
"""
from __future__ import annotations

import json
import platform
import time
from collections import defaultdict
from datetime import datetime, timezone
from typing import Callable

import numpy as np
import torch
from scipy import linalg
from torch import nn
from torch.nn import functional as F

__all__ = ["frechet_distance", "activation_statistics", "fid", "InceptionFeatures", "StandInFeatures",
           "InceptionWeightsError", "fid_row", "FID_FIELDS", "FID_EPOCHS", "summarise_fid", "nine_class_data"]

#: Supp. F: "We train 20 epochs for F-MNIST and MNIST and 100 epochs for CIFAR-10" (the paper profile)
FID_EPOCHS = {"paper": {"mnist": 20, "fmnist": 20, "cifar10": 100}}

#: the fields of a :func:`fid_row` result, in order
FID_FIELDS = ["status", "dataset", "anomaly_class", "profile", "seed", "fid", "rule", "epoch", "fid_last",
              "epochs", "n_train", "n_reference", "n_generated", "feature_net", "feature_dim", "settings",
              "fit_seconds", "seconds", "device", "aabigan_version", "torch_version", "torchvision_version",
              "python_version", "commit", "finished_at"]


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
        self.name = f"stand-in-random-conv-{channels}ch-seed{seed}"
        self.dim = 2 * channels

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(_module_device(self), torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (32, 32):
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
        h = torch.tanh(self.conv2(torch.tanh(self.conv1(2 * x - 1))))
        return torch.cat([h.mean((2, 3)), h.std((2, 3))], 1)


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
    was = generator.training
    generator.eval()
    try:
        return np.concatenate([generator(z[i:i + batch].to(device)).cpu().numpy() for i in range(0, n, batch)])
    finally:
        generator.train(was)


def fid_row(dataset: str, anomaly_class: int, profile: str | None = None, seed: int = 0,
            feature_fn: Callable | None = None, rule: str = "best", epochs: int | None = None,
            max_train: int | None = None, max_reference: int | None = None, batch_size: int = 50) -> dict:
    """One cell of Table 4 (Supp. F, "Generation Ability Assessment"), as a result row (:data:`FID_FIELDS`).

    AA-BiGAN is trained on the nine classes other than ``anomaly_class``, all treated as normal (no
    collected anomalies), with the profile's image settings.  Epochs: 20 for MNIST / F-MNIST and 100 for
    CIFAR-10 under the ``paper`` profile (:data:`FID_EPOCHS`), the profile's epochs otherwise, or ``epochs``.
    The generator then draws as many images as the reference set holds, and their FID against the held-out
    test images of the nine classes is computed with ``feature_fn`` (None: :class:`InceptionFeatures`).

    ``rule="best"`` computes the FID after every epoch and reports the lowest with its epoch ("the best
    observed FID", as the paper does -- a choice made on the reference set, so optimistic);
    ``rule="last"`` only scores the networks after the last epoch.  ``fid_last`` is in the row either way.
    ``max_train`` / ``max_reference`` cap the image counts (default: the profile's ``max_train_normal`` /
    ``max_eval``; none under ``paper``: all 54000 / 9000 MNIST images).
    """
    import torchvision

    from . import __version__
    from .data import canonical_name
    from .detector import AABiGAN
    from .experiments import _commit, _device_name
    from .profiles import get_profile

    if rule not in ("best", "last"):
        raise ValueError(f"unknown rule {rule!r}; choose 'best' (lowest FID over the epochs) or 'last'")
    t0 = time.perf_counter()
    prof = get_profile(profile)
    name = canonical_name(dataset)
    caps = prof.split_image
    X_train, X_ref = nine_class_data(name, anomaly_class, seed,
                                     max_train if max_train is not None else caps.get("max_train_normal"),
                                     max_reference if max_reference is not None else caps.get("max_eval"))
    settings = prof.method_settings(name, "image")
    settings["epochs"] = int(epochs if epochs is not None else FID_EPOCHS.get(prof.name, {}).get(name, settings["epochs"]))
    if feature_fn is None:
        feature_fn = InceptionFeatures(settings.get("device"))
    mu_ref, s_ref = activation_statistics(X_ref, feature_fn, batch_size)
    n_gen = len(X_ref)

    def score(generator, latent_dim, device) -> float:
        gen = _generate(generator, latent_dim, n_gen, seed, device)
        mu, s = activation_statistics(gen, feature_fn, batch_size)
        return frechet_distance(mu, s, mu_ref, s_ref)

    per_epoch: list[tuple[float, int]] = []

    class _Tracked(AABiGAN):   # scores every epoch's generator; the training itself is untouched
        def _record_epoch(self, losses, encoder, generator):
            super()._record_epoch(losses, encoder, generator)
            if rule == "best":
                per_epoch.append((score(generator, self.nets_.latent_dim, self.device_), int(losses["epoch"])))

    det = _Tracked(**settings, random_state=seed).fit(X_train)
    last = per_epoch[-1][0] if per_epoch else score(det.generator_, det.nets_.latent_dim, det.device_)
    best, best_epoch = min(per_epoch, key=lambda t: (t[0], t[1])) if per_epoch else (last, det.selected_epoch_)
    return {
        "status": "ok", "dataset": name, "anomaly_class": int(anomaly_class), "profile": prof.name,
        "seed": int(seed), "fid": round(best, 4), "rule": rule, "epoch": int(best_epoch),
        "fid_last": round(last, 4), "epochs": settings["epochs"], "n_train": int(len(X_train)),
        "n_reference": int(len(X_ref)), "n_generated": int(n_gen),
        "feature_net": getattr(feature_fn, "name", type(feature_fn).__name__),
        "feature_dim": int(len(mu_ref)), "settings": json.dumps(settings, sort_keys=True),
        "fit_seconds": round(float(det.fit_seconds_), 3), "seconds": round(time.perf_counter() - t0, 3),
        "device": _device_name(det.device_), "aabigan_version": __version__, "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__, "python_version": platform.python_version(),
        "commit": _commit(), "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def summarise_fid(rows: list[dict], directory=None) -> list[dict]:
    """Table 4 from :func:`fid_row` rows: mean ± std of the FID per (dataset, feature network), over the
    anomaly classes and seeds, with the paper's AA-BiGAN value beside it."""
    from .data import DISPLAY_NAMES
    from .tables import paper_table

    paper = {p["dataset"]: f"{p['mean']} ± {p['std']}" for p in paper_table("table4", directory)
             if p["method"] == "AA-BiGAN"}
    groups: dict[tuple, list[float]] = defaultdict(list)
    profiles: dict[tuple, set] = defaultdict(set)
    for r in rows:
        if r.get("status", "ok") != "ok":
            continue
        k = (DISPLAY_NAMES.get(r["dataset"], r["dataset"]), r["feature_net"])
        groups[k].append(float(r["fid"]))
        profiles[k].add(str(r["profile"]))
    out = []
    for (ds, net), vals in sorted(groups.items()):
        v = np.asarray(vals)
        std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        out.append({"dataset": ds, "feature_net": net, "ours": f"{v.mean():.1f} ± {std:.1f}", "n": len(v),
                    "paper": paper.get(ds, "—"), "profile": ",".join(sorted(profiles[(ds, net)]))})
    return out
