"""Architectures: encoder E, generator G, joint discriminator D(x, z) and pair discriminator D'(x, x').

Networks know nothing about training.  Two families:

* ``dcgan`` for 32x32 images with 1 or 3 channels (paper, Supp. E: DCGAN; the paper feeds 32x32x3);
  ``width`` scales the channel counts (64 is the DCGAN default; smaller widths serve the CPU profiles).
* ``mlp`` for tabular data: encoder and generator with hidden layers 256-64 and a 16-d latent code,
  as in the paper's "3-layer MLP 256-64-16".

Discriminators output an unbounded real number (least-squares targets a, b, c), or a logit for the
original BiGAN objective.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Networks", "build_networks", "infer_family"]


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class Dropout(nn.Dropout):
    """Inverted dropout with its mask drawn by ``torch.rand`` -- the same distribution as ``nn.Dropout``,
    about twice as fast on the CPU as torch's Bernoulli kernel, which dominated small MLP steps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p >= 1:
            return torch.zeros_like(x)
        keep = (torch.rand_like(x) >= self.p).to(x.dtype)
        return x * keep.mul_(1.0 / (1.0 - self.p))


# ------------------------------------------------------------------------------------------ DCGAN
def _check_image_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3 or shape[1:] != (32, 32) or shape[0] not in (1, 3):
        raise ValueError(f"the DCGAN networks take images of shape (1 or 3, 32, 32); got {tuple(shape)}")
    return shape  # type: ignore[return-value]


class DCGANEncoder(nn.Module):
    """x (C, 32, 32) -> z (latent_dim): three stride-2 4x4 convolutions then a 4x4 valid convolution."""

    def __init__(self, channels: int, latent_dim: int, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1), _lrelu(),                                   # 16x16
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), _lrelu(),   # 8x8
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * w), _lrelu(),  # 4x4
            nn.Conv2d(4 * w, latent_dim, 4, 1, 0),                                         # 1x1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class DCGANGenerator(nn.Module):
    """z (latent_dim) -> x (C, 32, 32) in [0, 1] (sigmoid output, as the inputs are ToTensor images)."""

    def __init__(self, channels: int, latent_dim: int, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 4 * w, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(True),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, channels, 4, 2, 1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


def _image_trunk(channels: int, width: int) -> nn.Sequential:
    """Four stride-2 convolutions, 32x32 -> 2x2, no batch norm (discriminators see mixed batches)."""
    w = width
    return nn.Sequential(
        nn.Conv2d(channels, w, 4, 2, 1), _lrelu(),
        nn.Conv2d(w, 2 * w, 4, 2, 1), _lrelu(),
        nn.Conv2d(2 * w, 4 * w, 4, 2, 1), _lrelu(),
        nn.Conv2d(4 * w, 4 * w, 4, 2, 1), _lrelu(),
        nn.Flatten(),
    )


class DCGANJointDiscriminator(nn.Module):
    """D(x, z): a conv trunk on x and a linear map of z, joined by a two-layer head."""

    def __init__(self, channels: int, latent_dim: int, width: int = 64, dropout: float = 0.2):
        super().__init__()
        feat = 4 * width * 2 * 2
        self.x_net = _image_trunk(channels, width)
        self.z_net = nn.Sequential(nn.Linear(latent_dim, 4 * width), _lrelu())
        self.head = nn.Sequential(Dropout(dropout), nn.Linear(feat + 4 * width, 8 * width), _lrelu(),
                                  Dropout(dropout), nn.Linear(8 * width, 1))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.x_net(x), self.z_net(z)], 1)).squeeze(1)


class DCGANPairDiscriminator(nn.Module):
    """D'(x, x'): the two images stacked on the channel axis, one conv trunk, a linear head."""

    def __init__(self, channels: int, width: int = 64, dropout: float = 0.2):
        super().__init__()
        self.trunk = _image_trunk(2 * channels, width)
        self.head = nn.Sequential(Dropout(dropout), nn.Linear(4 * width * 2 * 2, 1))

    def forward(self, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(torch.cat([x, x2], 1))).squeeze(1)


# -------------------------------------------------------------------------------------------- MLP
def _mlp(sizes: list[int], out_act: nn.Module | None = None, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(_lrelu())
            if dropout:
                layers.append(Dropout(dropout))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, n_features: int, latent_dim: int = 16, hidden=(256, 64)):
        super().__init__()
        self.net = _mlp([n_features, *hidden, latent_dim])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPGenerator(nn.Module):
    def __init__(self, n_features: int, latent_dim: int = 16, hidden=(256, 64)):
        super().__init__()
        self.net = _mlp([latent_dim, *reversed(hidden), n_features])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPJointDiscriminator(nn.Module):
    def __init__(self, n_features: int, latent_dim: int = 16, hidden=(256, 64), dropout: float = 0.2):
        super().__init__()
        self.net = _mlp([n_features + latent_dim, *hidden, 1], dropout=dropout)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, z], -1)).squeeze(-1)


class MLPPairDiscriminator(nn.Module):
    def __init__(self, n_features: int, hidden=(256, 64), dropout: float = 0.2):
        super().__init__()
        self.net = _mlp([2 * n_features, *hidden, 1], dropout=dropout)

    def forward(self, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, x2], -1)).squeeze(-1)


# ------------------------------------------------------------------------------------------ build
@dataclass
class Networks:
    """The four networks of AA-BiGAN.  ``pair_disc`` is None when D' is switched off."""

    encoder: nn.Module
    generator: nn.Module
    joint_disc: nn.Module
    pair_disc: nn.Module | None
    latent_dim: int

    def modules(self) -> dict[str, nn.Module]:
        out = {"encoder": self.encoder, "generator": self.generator, "joint_disc": self.joint_disc}
        if self.pair_disc is not None:
            out["pair_disc"] = self.pair_disc
        return out

    def to(self, device) -> "Networks":
        for m in self.modules().values():
            m.to(device)
        return self


def infer_family(sample_shape: tuple[int, ...]) -> str:
    """'mlp' for feature vectors, 'dcgan' for (C, 32, 32) images."""
    if len(sample_shape) == 1:
        return "mlp"
    if len(sample_shape) == 3:
        return "dcgan"
    raise ValueError(f"cannot choose an architecture for samples of shape {tuple(sample_shape)}: "
                     "expected (n_features,) or (channels, 32, 32)")


def build_networks(sample_shape: tuple[int, ...], family: str = "auto", latent_dim: int | None = None,
                   width: int = 64, pair_disc: bool = True, dropout: float = 0.2) -> Networks:
    """Build E, G, D and (optionally) D' for samples of ``sample_shape``."""
    sample_shape = tuple(int(s) for s in sample_shape)
    if family == "auto":
        family = infer_family(sample_shape)
    if family == "mlp":
        if len(sample_shape) != 1:
            raise ValueError(f"the MLP networks take flat feature vectors; got samples of shape {sample_shape}")
        d, k = sample_shape[0], latent_dim or 16
        return Networks(MLPEncoder(d, k), MLPGenerator(d, k), MLPJointDiscriminator(d, k, dropout=dropout),
                        MLPPairDiscriminator(d, dropout=dropout) if pair_disc else None, k)
    if family == "dcgan":
        c = _check_image_shape(sample_shape)[0]
        k = latent_dim or 100
        return Networks(DCGANEncoder(c, k, width), DCGANGenerator(c, k, width),
                        DCGANJointDiscriminator(c, k, width, dropout),
                        DCGANPairDiscriminator(c, width, dropout) if pair_disc else None, k)
    raise ValueError(f"unknown network family {family!r}; choose 'auto', 'mlp' or 'dcgan'")
