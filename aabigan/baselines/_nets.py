"""Networks of the baselines: Deep SAD's encoders and autoencoders, classifiers and a GAN discriminator.

Two families, chosen from the sample shape as in :mod:`aabigan.nets`:

* tables, ``(n_features,)``: Deep SAD's MLPs (Linear -> BatchNorm -> LeakyReLU blocks).  Deep SAD uses
  hidden layers 32-16 and an 8-d code on every ODDS table but Arrhythmia, where it uses 128-64 and a 32-d
  code; ``hidden=None`` reproduces that choice from the number of features (> 100: the wide one).
* images, ``(C, 32, 32)``: Deep SAD's LeNet-type CIFAR-10 network -- three 5x5 convolutions with
  ``width``, ``2 width``, ``4 width`` channels, each followed by BatchNorm, LeakyReLU and 2x2 max-pooling,
  then a linear map to the code.  Deep SAD's CIFAR-10 net is ``width=32``, ``rep_dim=128``; its MNIST net
  (on 28x28 inputs) has a 32-d code, the default here.  The decoder mirrors it with nearest-neighbour
  upsampling and ends in a sigmoid (the inputs lie in [0, 1]).

``bias=False`` gives the bias-free networks of Deep SVDD / Deep SAD: no bias in any layer and BatchNorm
without affine parameters, so that the network cannot map every input onto the centre c by a constant
output (Ruff et al. 2018, Prop. 2).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["default_hidden", "default_rep_dim", "build_encoder", "build_decoder", "AutoEncoder",
           "build_autoencoder", "Discriminator"]


def _image_shape(shape: tuple[int, ...]) -> int:
    if len(shape) != 3 or tuple(shape[1:]) != (32, 32) or shape[0] not in (1, 3):
        raise ValueError(f"the image networks take samples of shape (1 or 3, 32, 32); got {tuple(shape)}")
    return int(shape[0])


def _is_table(shape: tuple[int, ...]) -> bool:
    if len(shape) == 1:
        return True
    _image_shape(shape)
    return False


def default_hidden(n_features: int) -> tuple[int, ...]:
    """Deep SAD's hidden layers for an ODDS table: 128-64 for wide tables (Arrhythmia), else 32-16."""
    return (128, 64) if n_features > 100 else (32, 16)


def default_rep_dim(shape: tuple[int, ...]) -> int:
    """Deep SAD's code size: 32 for wide tables and for images, 8 for the other tables."""
    if _is_table(shape):
        return 32 if shape[0] > 100 else 8
    return 32


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.01)   # F.leaky_relu's default slope, as in Deep SAD


def _mlp_block(n_in: int, n_out: int, bias: bool) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out, bias=bias), nn.BatchNorm1d(n_out, eps=1e-4, affine=bias), _lrelu()]


def _conv_block(c_in: int, c_out: int, bias: bool) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 5, padding=2, bias=bias), nn.BatchNorm2d(c_out, eps=1e-4, affine=bias),
            _lrelu()]


def build_encoder(shape: tuple[int, ...], rep_dim: int, width: int = 32, hidden=None, bias: bool = True) -> nn.Module:
    """x -> a ``rep_dim`` vector (a code, a logit vector, ...) with Deep SAD's architecture."""
    shape = tuple(int(s) for s in shape)
    if _is_table(shape):
        sizes = [shape[0], *(hidden or default_hidden(shape[0]))]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += _mlp_block(a, b, bias)
        return nn.Sequential(*layers, nn.Linear(sizes[-1], rep_dim, bias=bias))
    c, w = _image_shape(shape), int(width)
    return nn.Sequential(
        *_conv_block(c, w, bias), nn.MaxPool2d(2),            # 16x16
        *_conv_block(w, 2 * w, bias), nn.MaxPool2d(2),        # 8x8
        *_conv_block(2 * w, 4 * w, bias), nn.MaxPool2d(2),    # 4x4
        nn.Flatten(), nn.Linear(4 * w * 4 * 4, rep_dim, bias=bias))


def build_decoder(shape: tuple[int, ...], rep_dim: int, width: int = 32, hidden=None, bias: bool = True) -> nn.Module:
    """A ``rep_dim`` vector -> a sample of ``shape`` (linear output for tables, sigmoid for images)."""
    shape = tuple(int(s) for s in shape)
    if _is_table(shape):
        sizes = [rep_dim, *reversed(hidden or default_hidden(shape[0]))]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += _mlp_block(a, b, bias)
        return nn.Sequential(*layers, nn.Linear(sizes[-1], shape[0], bias=bias))
    c, w = _image_shape(shape), int(width)
    return nn.Sequential(
        nn.Linear(rep_dim, 4 * w * 4 * 4, bias=bias), nn.Unflatten(1, (4 * w, 4, 4)),
        nn.BatchNorm2d(4 * w, eps=1e-4, affine=bias), _lrelu(),
        nn.Upsample(scale_factor=2), *_conv_block(4 * w, 2 * w, bias),      # 8x8
        nn.Upsample(scale_factor=2), *_conv_block(2 * w, w, bias),          # 16x16
        nn.Upsample(scale_factor=2), nn.Conv2d(w, c, 5, padding=2, bias=bias), nn.Sigmoid())  # 32x32


class AutoEncoder(nn.Module):
    """encoder + decoder; ``forward`` returns the reconstruction."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def build_autoencoder(shape, rep_dim=None, width: int = 32, hidden=None, bias: bool = False) -> AutoEncoder:
    """Deep SAD's autoencoder (bias-free by default, as Deep SAD pretrains and as its CAE baseline uses)."""
    shape = tuple(int(s) for s in shape)
    k = int(rep_dim or default_rep_dim(shape))
    return AutoEncoder(build_encoder(shape, k, width, hidden, bias), build_decoder(shape, k, width, hidden, bias))


class Discriminator(nn.Module):
    """D(x) -> one logit: AA-BiGAN's discriminator trunk without the latent input.

    Tables: MLP 256-64 with LeakyReLU(0.2) and dropout; images: four stride-2 4x4 convolutions
    (``width``, 2, 4, 4 x ``width`` channels), no batch norm (it sees mixed real / fake / negative batches).
    """

    def __init__(self, shape: tuple[int, ...], width: int = 64, dropout: float = 0.2):
        super().__init__()
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1) (1 would drop every unit), got {dropout!r}")
        shape = tuple(int(s) for s in shape)
        lrelu = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        if _is_table(shape):
            self.net = nn.Sequential(nn.Linear(shape[0], 256), lrelu(), nn.Dropout(dropout),
                                     nn.Linear(256, 64), lrelu(), nn.Dropout(dropout), nn.Linear(64, 1))
        else:
            c, w = _image_shape(shape), int(width)
            self.net = nn.Sequential(
                nn.Conv2d(c, w, 4, 2, 1), lrelu(), nn.Conv2d(w, 2 * w, 4, 2, 1), lrelu(),
                nn.Conv2d(2 * w, 4 * w, 4, 2, 1), lrelu(), nn.Conv2d(4 * w, 4 * w, 4, 2, 1), lrelu(),
                nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * w * 2 * 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
