"""Architectures: encoder E, generator G, joint discriminator D(x, z) and pair discriminator D'(x, x').

Networks know nothing about training.  Two families:

* ``dcgan`` for 32x32 images with 1 or 3 channels (paper, Supp. E: DCGAN; the paper feeds 32x32x3);
  ``width`` scales the channel counts (64 is the DCGAN default; smaller widths serve the CPU profiles).
* ``mlp`` for tabular data: encoder and generator with hidden layers 256-64 and a 16-d latent code,
  as in the paper's "3-layer MLP 256-64-16" (``hidden`` changes the hidden sizes; ``width`` is for images).

For images, ``arch`` chooses between two sets of networks:

* ``arch="dcgan"`` (the default): the DCGAN networks above, as the paper's text describes them.
* ``arch="authors"``: the networks of the authors' public code (GitHub tbw162/AA-BiGAN, rebuilt from its
  layer list, see ``shared/paper/reference-code-notes.md``).  On 1x32x32 images (their MNIST / F-MNIST input)
  an encoder of five stride-2 3x3 convolutions and a linear map to a 100-d code, a four-layer transposed-conv
  generator, and discriminators whose image trunks are four stride-2 4x4 convolutions of 64 channels (batch
  norm from the second); D' has two such trunks, one per image.  On 3x32x32 images (CIFAR-10) Deep SAD's
  LeNet-type encoder and decoder (5x5 convolutions 32-64-128, max-pooling, batch norm without affine terms,
  a 128-d code) and discriminators with the same LeNet trunk.  ``width=64`` gives their channel counts
  exactly; another width scales every channel count and hidden size by width / 64.  Their discriminators
  have no dropout: pass ``dropout=0`` to train them as they were trained (the layers stay, as identities).
  The ``dropout`` layers sit before each linear layer of a discriminator's head, as in the DCGAN ones.

Discriminators output an unbounded real number (least-squares targets a, b, c), or a logit for the
original BiGAN objective.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Networks", "build_networks", "infer_family", "eval_mode", "ARCHS"]

#: the image architectures: the paper's text (DCGAN) and the authors' public code
ARCHS = ("dcgan", "authors")


@contextlib.contextmanager
def eval_mode(*modules: nn.Module | None):
    """Put modules (None entries are skipped) in eval mode for a block and restore their previous modes."""
    modules = [m for m in modules if m is not None]
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, w in zip(modules, was):
            m.train(w)


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

    def features(self, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The activations the last linear layer reads (ALAD's feature-matching score uses them)."""
        return self.head[:-1](self.trunk(torch.cat([x, x2], 1)))


# -------------------------------------------------------------------------- the authors' networks
def _scaled(channels: int, width: int) -> int:
    """``channels`` of the authors' networks (written for width 64) at ``width``: at least 1."""
    return max(1, channels * width // 64)


class AuthorsEncoder(nn.Module):
    """x (C, 32, 32) -> z: a convolutional trunk ``net``, flattened, then one linear map ``fc``."""

    def __init__(self, net: nn.Sequential, fc: nn.Linear):
        super().__init__()
        self.net = net
        self.fc = fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x).flatten(1))


class AuthorsGenerator(nn.Module):
    """z -> x (C, 32, 32) in [0, 1]: z reshaped to ``seed_shape`` (channels, h, w), then ``net``."""

    def __init__(self, net: nn.Sequential, seed_shape: tuple[int, int, int]):
        super().__init__()
        self.net = net
        self.seed_shape = tuple(int(s) for s in seed_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], *self.seed_shape))


class AuthorsJointDiscriminator(nn.Module):
    """D(x, z): an image trunk ``x_net`` (ending in Flatten) beside a linear map ``z_net`` of z, then ``head``."""

    def __init__(self, x_net: nn.Sequential, z_net: nn.Module, head: nn.Sequential):
        super().__init__()
        self.x_net = x_net
        self.z_net = z_net
        self.head = head

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.x_net(x), self.z_net(z)], 1)).squeeze(1)


class AuthorsPairDiscriminator(nn.Module):
    """D'(x, x'): one image trunk for each image (``x_net`` for x, ``x2_net`` for x'), then ``head``."""

    def __init__(self, x_net: nn.Sequential, x2_net: nn.Sequential, head: nn.Sequential):
        super().__init__()
        self.x_net = x_net
        self.x2_net = x2_net
        self.head = head

    def forward(self, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.x_net(x), self.x2_net(x2)], 1)).squeeze(1)

    def features(self, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The activations the last linear layer reads (ALAD's feature-matching score uses them)."""
        return self.head[:-1](torch.cat([self.x_net(x), self.x2_net(x2)], 1))


def _lrelu01() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


def _head(n_in: int, hidden: int, slope: float, dropout: float) -> nn.Sequential:
    return nn.Sequential(Dropout(dropout), nn.Linear(n_in, hidden), nn.LeakyReLU(slope, inplace=True),
                         Dropout(dropout), nn.Linear(hidden, 1))


# MNIST / F-MNIST (1x32x32, latent 100): the authors' model/arch_mnist.py
def _mnist_trunk(channels: int, width: int) -> nn.Sequential:
    """Four stride-2 4x4 convolutions of 64 channels (width 64), batch norm from the second: 32x32 -> 2x2."""
    c = _scaled(64, width)
    layers: list[nn.Module] = [nn.Conv2d(channels, c, 4, 2, 1), _lrelu01()]
    for _ in range(3):
        layers += [nn.Conv2d(c, c, 4, 2, 1), nn.BatchNorm2d(c), _lrelu01()]
    return nn.Sequential(*layers, nn.Flatten())


def _mnist_networks(channels: int, k: int, width: int, pair_disc: bool, dropout: float) -> tuple:
    enc_c = [channels] + [_scaled(c, width) for c in (32, 64, 128, 256, 512)]
    enc: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(enc_c[:-1], enc_c[1:])):       # 32 -> 16 -> 8 -> 4 -> 2 -> 1
        enc += [nn.Conv2d(a, b, 3, 2, 1)] + ([nn.BatchNorm2d(b)] if i else []) + [_lrelu01()]
    encoder = AuthorsEncoder(nn.Sequential(*enc), nn.Linear(enc_c[-1], k))
    gen_c = [k] + [_scaled(c, width) for c in (128, 64, 32)]
    gen: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(gen_c[:-1], gen_c[1:])):       # 1 -> 4 -> 8 -> 16
        gen += [nn.ConvTranspose2d(a, b, 4, 1, 0) if i == 0 else nn.ConvTranspose2d(a, b, 4, 2, 1),
                nn.BatchNorm2d(b), nn.ReLU(True)]
    gen += [nn.ConvTranspose2d(gen_c[-1], channels, 4, 2, 1), nn.Sigmoid()]   # -> 32
    generator = AuthorsGenerator(nn.Sequential(*gen), (k, 1, 1))
    feat = _scaled(64, width) * 2 * 2
    joint = AuthorsJointDiscriminator(_mnist_trunk(channels, width), nn.Linear(k, _scaled(512, width)),
                                      _head(feat + _scaled(512, width), _scaled(1024, width), 0.1, dropout))
    pair = (AuthorsPairDiscriminator(_mnist_trunk(channels, width), _mnist_trunk(channels, width),
                                     _head(2 * feat, _scaled(1024, width), 0.1, dropout)) if pair_disc else None)
    return encoder, generator, joint, pair


# CIFAR-10 (3x32x32, latent 128): Deep SAD's LeNet-type networks, the authors' model/arch_cifar.py
def _lenet_trunk(channels: int, width: int, flatten: bool) -> nn.Sequential:
    """Three 5x5 convolutions (32-64-128 at width 64), each with batch norm without affine terms, leaky ReLU
    (slope 0.01) and 2x2 max-pooling: 32x32 -> 4x4."""
    cs = [channels] + [_scaled(c, width) for c in (32, 64, 128)]
    layers: list[nn.Module] = []
    for a, b in zip(cs[:-1], cs[1:]):
        layers += [nn.Conv2d(a, b, 5, 1, 2, bias=False), nn.BatchNorm2d(b, eps=1e-4, affine=False),
                   nn.LeakyReLU(0.01, inplace=True), nn.MaxPool2d(2, 2)]
    return nn.Sequential(*layers, *([nn.Flatten()] if flatten else []))


def _cifar_networks(channels: int, k: int, width: int, pair_disc: bool, dropout: float) -> tuple:
    if k % 16:
        raise ValueError(f"the authors' CIFAR-10 generator reshapes the code to (latent_dim / 16, 4, 4): "
                         f"latent_dim must be a multiple of 16, got {k}")
    feat = _scaled(128, width) * 4 * 4
    encoder = AuthorsEncoder(_lenet_trunk(channels, width, flatten=False), nn.Linear(feat, k, bias=False))
    cs = [k // 16] + [_scaled(c, width) for c in (128, 64, 32)]
    gen: list[nn.Module] = [nn.LeakyReLU(0.01)]          # not in place: its input is a view of z
    for a, b in zip(cs[:-1], cs[1:]):                      # 4 -> 8 -> 16 -> 32
        gen += [nn.ConvTranspose2d(a, b, 5, 1, 2, bias=False), nn.BatchNorm2d(b, eps=1e-4, affine=False),
                nn.LeakyReLU(0.01, inplace=True), nn.Upsample(scale_factor=2)]
    gen += [nn.ConvTranspose2d(cs[-1], channels, 5, 1, 2, bias=False), nn.Sigmoid()]
    for m in gen:
        if isinstance(m, nn.ConvTranspose2d):              # the decoder's initialisation in the authors' code
            nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("leaky_relu"))
    generator = AuthorsGenerator(nn.Sequential(*gen), (k // 16, 4, 4))
    joint = AuthorsJointDiscriminator(_lenet_trunk(channels, width, flatten=True), nn.Linear(k, _scaled(512, width)),
                                      _head(feat + _scaled(512, width), _scaled(1024, width), 0.2, dropout))
    pair = (AuthorsPairDiscriminator(_lenet_trunk(channels, width, flatten=True),
                                     _lenet_trunk(channels, width, flatten=True),
                                     _head(2 * feat, _scaled(1024, width), 0.1, dropout)) if pair_disc else None)
    return encoder, generator, joint, pair


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

    def features(self, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The activations the last linear layer reads (ALAD's feature-matching score uses them)."""
        return self.net[:-1](torch.cat([x, x2], -1))


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
                   width: int = 64, pair_disc: bool = True, dropout: float = 0.2, arch: str = "dcgan",
                   hidden: tuple[int, ...] | None = None) -> Networks:
    """Build E, G, D and (optionally) D' for samples of ``sample_shape``.

    ``arch`` (images only): ``"dcgan"``, the paper's text, or ``"authors"``, the networks of the authors'
    code -- their MNIST / F-MNIST networks on 1x32x32 images (latent 100), their CIFAR-10 LeNet-type ones on
    3x32x32 (latent 128); see the module docstring.  ``hidden`` (MLP only): the hidden layer sizes of every
    network, None for the paper's 256-64."""
    sample_shape = tuple(int(s) for s in sample_shape)
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {ARCHS}")
    if family == "auto":
        family = infer_family(sample_shape)
    if family == "mlp":
        if len(sample_shape) != 1:
            raise ValueError(f"the MLP networks take flat feature vectors; got samples of shape {sample_shape}")
        if arch != "dcgan":
            raise ValueError(f"arch={arch!r} is an image architecture; the authors' code has no tabular networks "
                             "(the MLP family has one architecture)")
        d, k = sample_shape[0], latent_dim or 16
        h = (256, 64) if hidden is None else tuple(int(u) for u in hidden)
        if not h or min(h) < 1:
            raise ValueError(f"hidden must list at least one layer size of at least 1, got {hidden!r}")
        return Networks(MLPEncoder(d, k, h), MLPGenerator(d, k, h), MLPJointDiscriminator(d, k, h, dropout),
                        MLPPairDiscriminator(d, h, dropout) if pair_disc else None, k)
    if family == "dcgan":
        c = _check_image_shape(sample_shape)[0]
        if arch == "authors":
            k = latent_dim or (100 if c == 1 else 128)
            build = _mnist_networks if c == 1 else _cifar_networks
            return Networks(*build(c, k, int(width), pair_disc, dropout), k)
        k = latent_dim or 100
        return Networks(DCGANEncoder(c, k, width), DCGANGenerator(c, k, width),
                        DCGANJointDiscriminator(c, k, width, dropout),
                        DCGANPairDiscriminator(c, width, dropout) if pair_disc else None, k)
    raise ValueError(f"unknown network family {family!r}; choose 'auto', 'mlp' or 'dcgan'")
