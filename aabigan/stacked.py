"""Several runs trained at once, as one set of stacked (batched) weights.

R runs that share an architecture and their data sizes (the seeds of an ODDS cell, the class pairs of an image
cell with one normal class) become one set of networks that holds R copies of every weight.  Adam is
element-wise and the summed loss separates over runs, so training the stack is R independent trainings in
one pass of the training loop (:func:`aabigan.trainer.train`), with R times fewer Python and kernel launches.
With dropout switched off, a stacked run reproduces the same run trained alone (tests check this to float
precision); with dropout the masks are drawn differently.

Stacked modules take and return tensors with a leading run axis: x (R, B, ...), z (R, B, k), discriminator
outputs (R, B).

* MLP family: every linear layer becomes a :class:`StackedLinear`, R weight matrices applied with one batched
  matrix product.
* Image networks (DCGAN and the authors' networks): the R runs' feature maps are *packed* on the channel axis,
  (R, B, C, H, W) -> (B, R*C, H, W), and every convolution becomes one grouped convolution with R groups
  (:class:`PackedConv2d`, :class:`PackedConvTranspose2d`), so run r's output channels see only run r's
  input channels.  A batch norm over the R*C packed channels (:class:`PackedBatchNorm2d`) is exactly R batch
  norms: each channel's batch statistics are taken over the batch and the pixels of its own run, and its
  running statistics are its own.  Max-pooling, upsampling and activations act channel by channel and need
  no change.  Where a network flattens its feature maps, the stack unpacks them to (R, B, C*H*W) and its
  linear layers are :class:`StackedLinear` layers.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .nets import (AuthorsEncoder, AuthorsGenerator, AuthorsJointDiscriminator, AuthorsPairDiscriminator,
                   DCGANEncoder, DCGANGenerator, DCGANJointDiscriminator, DCGANPairDiscriminator, Networks)

__all__ = ["StackedLinear", "PackedConv2d", "PackedConvTranspose2d", "PackedBatchNorm2d", "stack_networks",
           "unstack_networks", "unstack_module", "can_stack"]


# ------------------------------------------------------------------------------------------ layers
class StackedLinear(nn.Module):
    """R linear maps: x (R, B, in) -> (R, B, out) with weight (R, in, out) and bias (R, 1, out) or None."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias) if bias is not None else None

    @classmethod
    def from_linears(cls, linears: list[nn.Linear]) -> "StackedLinear":
        w = torch.stack([lin.weight.detach().t() for lin in linears]).contiguous()
        b = (torch.stack([lin.bias.detach()[None] for lin in linears]).contiguous()
             if linears[0].bias is not None else None)
        return cls(w, b)

    @property
    def runs(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return torch.bmm(x, self.weight)
        return torch.baddbmm(self.bias, x, self.weight)

    def copy_into(self, linears: list[nn.Linear]) -> None:
        with torch.no_grad():
            for r, lin in enumerate(linears):
                lin.weight.copy_(self.weight[r].t())
                if self.bias is not None:
                    lin.bias.copy_(self.bias[r, 0])


def _cat_into(dst: torch.Tensor, parts: list[torch.Tensor]) -> None:
    with torch.no_grad():
        dst.copy_(torch.cat([p.detach() for p in parts]))


def _split_into(src: torch.Tensor, dsts: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for piece, dst in zip(src.chunk(len(dsts)), dsts):
            dst.copy_(piece)


def _copy_conv_into(self, convs: list[nn.Module]) -> None:
    """Copy a packed (transposed) convolution's runs back into the R convolutions it was packed from."""
    _split_into(self.weight, [m.weight for m in convs])
    if self.bias is not None:
        _split_into(self.bias, [m.bias for m in convs])


def _filled(out, convs):
    """``out``, a packed (transposed) convolution of R = len(convs) runs, holding their weights and biases."""
    out.runs = len(convs)
    _cat_into(out.weight, [m.weight for m in convs])
    if convs[0].bias is not None:
        _cat_into(out.bias, [m.bias for m in convs])
    return out


class PackedConv2d(nn.Conv2d):
    """R convolutions as one grouped convolution on packed feature maps (B, R*C_in, H, W) -> (B, R*C_out, ...)."""

    @classmethod
    def from_convs(cls, convs: list[nn.Conv2d]) -> "PackedConv2d":
        c, R = convs[0], len(convs)
        out = cls(R * c.in_channels, R * c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation,
                  R * c.groups, c.bias is not None, c.padding_mode, device=c.weight.device, dtype=c.weight.dtype)
        return _filled(out, convs)   # weight (R*out, in/groups, kh, kw): runs along dim 0

    copy_into = _copy_conv_into


class PackedConvTranspose2d(nn.ConvTranspose2d):
    """R transposed convolutions as one grouped transposed convolution on packed feature maps."""

    @classmethod
    def from_convs(cls, convs: list[nn.ConvTranspose2d]) -> "PackedConvTranspose2d":
        c, R = convs[0], len(convs)
        out = cls(R * c.in_channels, R * c.out_channels, c.kernel_size, c.stride, c.padding, c.output_padding,
                  R * c.groups, c.bias is not None, c.dilation, c.padding_mode, device=c.weight.device,
                  dtype=c.weight.dtype)
        return _filled(out, convs)   # weight (R*in, out/groups, kh, kw): runs along dim 0

    copy_into = _copy_conv_into


class PackedBatchNorm2d(nn.BatchNorm2d):
    """R batch norms over packed feature maps: one per channel of every run, batch statistics over that run's
    batch and pixels, running statistics per run."""

    @classmethod
    def from_norms(cls, norms: list[nn.BatchNorm2d]) -> "PackedBatchNorm2d":
        n, R = norms[0], len(norms)
        if n.momentum is None and len({int(m.num_batches_tracked) for m in norms}) > 1:
            raise ValueError("batch norms with a cumulative average (momentum=None) stack only when they have "
                             "seen the same number of batches")
        ref = n.running_mean if n.running_mean is not None else n.weight
        out = cls(R * n.num_features, n.eps, n.momentum, n.affine, n.track_running_stats,
                  device=ref.device if ref is not None else None, dtype=ref.dtype if ref is not None else None)
        out.runs = R
        if n.affine:
            _cat_into(out.weight, [m.weight for m in norms])
            _cat_into(out.bias, [m.bias for m in norms])
        if n.track_running_stats:
            _cat_into(out.running_mean, [m.running_mean for m in norms])
            _cat_into(out.running_var, [m.running_var for m in norms])
            out.num_batches_tracked.copy_(n.num_batches_tracked)
        return out

    def copy_into(self, norms: list[nn.BatchNorm2d]) -> None:
        if self.affine:
            _split_into(self.weight, [m.weight for m in norms])
            _split_into(self.bias, [m.bias for m in norms])
        if self.track_running_stats:
            _split_into(self.running_mean, [m.running_mean for m in norms])
            _split_into(self.running_var, [m.running_var for m in norms])
            for m in norms:
                m.num_batches_tracked.copy_(self.num_batches_tracked)


class Unpack(nn.Module):
    """Packed feature maps (B, R*C, H, W) -> (R, B, C*H*W): what ``nn.Flatten`` becomes in a stack."""

    def __init__(self, runs: int):
        super().__init__()
        self.runs = runs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.runs, -1).transpose(0, 1)


def pack(x: torch.Tensor) -> torch.Tensor:
    """(R, B, C, H, W) -> (B, R*C, H, W)."""
    R, B = x.shape[:2]
    return x.transpose(0, 1).reshape(B, R * x.shape[2], *x.shape[3:])


def unpack_maps(x: torch.Tensor, runs: int) -> torch.Tensor:
    """(B, R*C, H, W) -> (R, B, C, H, W) (a view)."""
    return x.reshape(x.shape[0], runs, -1, *x.shape[2:]).transpose(0, 1)


#: layers that act on every channel (or feature) alone: the same module serves a stack
_PASSTHROUGH = (nn.LeakyReLU, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Identity, nn.Dropout, nn.MaxPool2d, nn.Upsample)
_CONV_LAYERS = _PASSTHROUGH + (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.Flatten)
_DENSE_LAYERS = (nn.LeakyReLU, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Identity, nn.Dropout, nn.Linear)


def _exact(layer: nn.Module, types) -> bool:
    """``layer`` is one of ``types`` (torch's own classes, or this package's Dropout) and holds no children."""
    return isinstance(layer, types) and not any(True for _ in layer.children())


def _is_conv_stack(seq) -> bool:
    return isinstance(seq, nn.Sequential) and all(_exact(m, _CONV_LAYERS) for m in seq)


def _is_dense_stack(seq) -> bool:
    if isinstance(seq, nn.Linear):
        return True
    return isinstance(seq, nn.Sequential) and all(_exact(m, _DENSE_LAYERS) for m in seq)


def _stack_layer(layers: list[nn.Module]) -> nn.Module:
    first = layers[0]
    if isinstance(first, nn.Linear):
        return StackedLinear.from_linears(layers)
    if isinstance(first, nn.ConvTranspose2d):
        return PackedConvTranspose2d.from_convs(layers)
    if isinstance(first, nn.Conv2d):
        return PackedConv2d.from_convs(layers)
    if isinstance(first, nn.BatchNorm2d):
        return PackedBatchNorm2d.from_norms(layers)
    if isinstance(first, nn.Flatten):
        return Unpack(len(layers))
    return copy.deepcopy(first)


def _stack_seq(seqs: list[nn.Module]) -> nn.Module:
    """A Sequential (or a single Linear) of R runs, layer by layer, at the same indices."""
    if isinstance(seqs[0], nn.Linear):
        return StackedLinear.from_linears(seqs)
    return nn.Sequential(*[_stack_layer([s[i] for s in seqs]) for i in range(len(seqs[0]))])


# ---------------------------------------------------------------------------------- image modules
class StackedConvEncoder(nn.Module):
    """R image encoders: x (R, B, C, H, W) -> z (R, B, k).  ``net`` packed; ``fc`` (or None) stacked."""

    def __init__(self, net: nn.Sequential, fc: nn.Module | None, runs: int):
        super().__init__()
        self.net = net
        self.fc = fc
        self.runs = runs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = Unpack(self.runs)(self.net(pack(x)))
        return self.fc(h) if self.fc is not None else h


class StackedConvGenerator(nn.Module):
    """R image generators: z (R, B, k) -> x (R, B, C, H, W); z is reshaped to ``seed_shape`` per run."""

    def __init__(self, net: nn.Sequential, seed_shape: tuple[int, int, int], runs: int):
        super().__init__()
        self.net = net
        self.seed_shape = tuple(seed_shape)
        self.runs = runs

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return unpack_maps(self.net(pack(z.reshape(*z.shape[:2], *self.seed_shape))), self.runs)


class StackedJointDiscriminator(nn.Module):
    """R joint discriminators D(x, z): (R, B, C, H, W), (R, B, k) -> (R, B)."""

    def __init__(self, x_net: nn.Sequential, z_net: nn.Module, head: nn.Sequential, runs: int):
        super().__init__()
        self.x_net = x_net
        self.z_net = z_net
        self.head = head
        self.runs = runs

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.x_net(pack(x)), self.z_net(z)], -1)).squeeze(-1)


class StackedPairDiscriminator(nn.Module):
    """R pair discriminators D'(x, x'): (R, B, C, H, W) twice -> (R, B).  One trunk on the two images stacked
    on the channel axis (DCGAN, ``trunk``) or one trunk per image (the authors', ``x_net`` and ``x2_net``)."""

    def __init__(self, head: nn.Sequential, runs: int, trunk: nn.Sequential | None = None,
                 x_net: nn.Sequential | None = None, x2_net: nn.Sequential | None = None):
        super().__init__()
        if trunk is not None:
            self.trunk = trunk
        else:
            self.x_net = x_net
            self.x2_net = x2_net
        self.head = head
        self.runs = runs

    def forward(self, x: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "trunk"):
            h = self.trunk(pack(torch.cat([x, x2], 2)))
        else:
            h = torch.cat([self.x_net(pack(x)), self.x2_net(pack(x2))], -1)
        return self.head(h).squeeze(-1)


def _dcgan_generator_seed(m: DCGANGenerator) -> tuple[int, int, int]:
    return (m.net[0].in_channels, 1, 1)


#: image module class -> (its parts: (attribute, kind) with kind "conv" (packed) or "dense" (stacked), a
#: function building the stacked module from the stacked parts)
_IMAGE_MODULES = {
    DCGANEncoder: ((("net", "conv"),), lambda ms, p, R: StackedConvEncoder(p["net"], None, R)),
    AuthorsEncoder: ((("net", "conv"), ("fc", "dense")),
                     lambda ms, p, R: StackedConvEncoder(p["net"], p["fc"], R)),
    DCGANGenerator: ((("net", "conv"),),
                     lambda ms, p, R: StackedConvGenerator(p["net"], _dcgan_generator_seed(ms[0]), R)),
    AuthorsGenerator: ((("net", "conv"),), lambda ms, p, R: StackedConvGenerator(p["net"], ms[0].seed_shape, R)),
    DCGANJointDiscriminator: ((("x_net", "conv"), ("z_net", "dense"), ("head", "dense")),
                              lambda ms, p, R: StackedJointDiscriminator(p["x_net"], p["z_net"], p["head"], R)),
    AuthorsJointDiscriminator: ((("x_net", "conv"), ("z_net", "dense"), ("head", "dense")),
                                lambda ms, p, R: StackedJointDiscriminator(p["x_net"], p["z_net"], p["head"], R)),
    DCGANPairDiscriminator: ((("trunk", "conv"), ("head", "dense")),
                             lambda ms, p, R: StackedPairDiscriminator(p["head"], R, trunk=p["trunk"])),
    AuthorsPairDiscriminator: ((("x_net", "conv"), ("x2_net", "conv"), ("head", "dense")),
                               lambda ms, p, R: StackedPairDiscriminator(p["head"], R, x_net=p["x_net"],
                                                                         x2_net=p["x2_net"])),
}
_STACKED_IMAGE = (StackedConvEncoder, StackedConvGenerator, StackedJointDiscriminator, StackedPairDiscriminator)


def _is_image_module(module: nn.Module) -> bool:
    parts = _IMAGE_MODULES.get(type(module))
    if parts is None:
        return False
    return all((_is_conv_stack if kind == "conv" else _is_dense_stack)(getattr(module, name, None))
               for name, kind in parts[0])


def _is_plain_mlp(module: nn.Module) -> bool:
    return isinstance(getattr(module, "net", None), nn.Sequential) and all(
        isinstance(m, (nn.Linear, nn.LeakyReLU, nn.Dropout, nn.ReLU, nn.Identity)) for m in module.net)


# ----------------------------------------------------------------------------------------- public
def can_stack(nets: Networks) -> bool:
    """Whether these networks can be stacked: the MLP family, and the DCGAN and the authors' image networks."""
    mods = list(nets.modules().values())
    return all(_is_plain_mlp(m) for m in mods) or all(_is_image_module(m) for m in mods)


def _signature(module: nn.Module) -> list:
    """What must agree between stacked modules: every submodule's type and every tensor's shape."""
    return ([(name, type(m).__name__, getattr(m, "seed_shape", None)) for name, m in module.named_modules()]
            + [(k, tuple(v.shape)) for k, v in module.state_dict().items()])


def _stack_module(modules: list[nn.Module]) -> nn.Module:
    if type(modules[0]) in _IMAGE_MODULES:
        parts, build = _IMAGE_MODULES[type(modules[0])]
        stacked = {name: _stack_seq([getattr(m, name) for m in modules]) for name, _ in parts}
        return build(modules, stacked, len(modules))
    out = copy.deepcopy(modules[0])
    layers = []
    for i, layer in enumerate(modules[0].net):
        if isinstance(layer, nn.Linear):
            layers.append(StackedLinear.from_linears([m.net[i] for m in modules]))
        else:
            layers.append(copy.deepcopy(layer))
    out.net = nn.Sequential(*layers)
    return out


def stack_networks(nets: list[Networks]) -> Networks:
    """One :class:`Networks` whose modules take (R, B, ...) inputs, from R networks of the same shape.

    The stacked modules hold copies of the weights (and batch-norm statistics); :func:`unstack_networks`
    copies them back."""
    if not nets:
        raise ValueError("stack_networks needs at least one set of networks")
    if not all(can_stack(n) for n in nets):
        raise ValueError("only the MLP family and the DCGAN and authors' image networks can be stacked")
    if len({n.pair_disc is None for n in nets}) != 1 or len({n.latent_dim for n in nets}) != 1:
        raise ValueError("stacked runs must share their architecture")
    for name in nets[0].modules():
        sig = _signature(nets[0].modules()[name])
        if any(_signature(n.modules()[name]) != sig for n in nets[1:]):
            raise ValueError(f"stacked runs must share their architecture; their {name} networks differ")
    mods = {name: _stack_module([n.modules()[name] for n in nets]) for name in nets[0].modules()}
    return Networks(mods["encoder"], mods["generator"], mods["joint_disc"], mods.get("pair_disc"),
                    nets[0].latent_dim)


def unstack_module(stacked: nn.Module, targets: list[nn.Module]) -> None:
    """Copy the weights (and batch-norm statistics) of a stacked module back into R ordinary modules."""
    for name, layer in stacked.named_modules():
        if isinstance(layer, (StackedLinear, PackedConv2d, PackedConvTranspose2d, PackedBatchNorm2d)):
            layer.copy_into([t.get_submodule(name) for t in targets])


def unstack_networks(stacked: Networks, targets: list[Networks]) -> None:
    for name, mod in stacked.modules().items():
        unstack_module(mod, [t.modules()[name] for t in targets])

