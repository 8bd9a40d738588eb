"""Several runs of the MLP family trained at once, as one set of stacked (batched) weights.

R runs that share an architecture and their data sizes (e.g. the seeds of one ODDS cell) become one set of
networks whose linear layers hold R weight matrices, applied with one batched matrix product.  Adam is
element-wise and the summed loss separates over runs, so training the stack is R independent trainings
in one pass of the training loop (:func:`aabigan.trainer.train`), with R times fewer Python and kernel
launches.  With dropout switched off, a stacked run reproduces the same run trained alone (a test checks
this to float precision); with dropout the masks are drawn differently.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .nets import Networks

__all__ = ["StackedLinear", "stack_networks", "unstack_networks", "can_stack"]


class StackedLinear(nn.Module):
    """R linear maps: x (R, B, in) -> (R, B, out) with weight (R, in, out) and bias (R, 1, out)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)

    @classmethod
    def from_linears(cls, linears: list[nn.Linear]) -> "StackedLinear":
        w = torch.stack([lin.weight.detach().t() for lin in linears]).contiguous()
        b = torch.stack([lin.bias.detach()[None] for lin in linears]).contiguous()
        return cls(w, b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    def copy_into(self, linears: list[nn.Linear]) -> None:
        with torch.no_grad():
            for r, lin in enumerate(linears):
                lin.weight.copy_(self.weight[r].t())
                lin.bias.copy_(self.bias[r, 0])


def _is_plain_mlp(module: nn.Module) -> bool:
    return isinstance(getattr(module, "net", None), nn.Sequential) and all(
        isinstance(m, (nn.Linear, nn.LeakyReLU, nn.Dropout, nn.ReLU, nn.Identity)) for m in module.net)


def can_stack(nets: Networks) -> bool:
    """Whether these networks can be stacked (the MLP family: no batch norm, no convolutions)."""
    return all(_is_plain_mlp(m) for m in nets.modules().values())


def _stack_module(modules: list[nn.Module]) -> nn.Module:
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
    """One :class:`Networks` whose modules take (R, B, ...) inputs, from R networks of the same shape."""
    if not nets:
        raise ValueError("stack_networks needs at least one set of networks")
    if not all(can_stack(n) for n in nets):
        raise ValueError("only the MLP family can be stacked (batch norm and convolutions cannot)")
    if len({n.pair_disc is None for n in nets}) != 1 or len({n.latent_dim for n in nets}) != 1:
        raise ValueError("stacked runs must share their architecture")
    mods = {name: _stack_module([n.modules()[name] for n in nets]) for name in nets[0].modules()}
    return Networks(mods["encoder"], mods["generator"], mods["joint_disc"], mods.get("pair_disc"),
                    nets[0].latent_dim)


def unstack_module(stacked: nn.Module, targets: list[nn.Module]) -> None:
    """Copy the weights of a stacked module back into R ordinary modules."""
    for i, layer in enumerate(stacked.net):
        if isinstance(layer, StackedLinear):
            layer.copy_into([t.net[i] for t in targets])


def unstack_networks(stacked: Networks, targets: list[Networks]) -> None:
    for name, mod in stacked.modules().items():
        unstack_module(mod, [t.modules()[name] for t in targets])


def n_runs(module: nn.Module) -> int:
    first = next(m for m in module.net if isinstance(m, StackedLinear))
    return first.weight.shape[0]


