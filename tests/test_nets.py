"""Shapes and checks of the architectures in :mod:`aabigan.nets` (tiny widths: CPU only)."""
from __future__ import annotations

import pytest
import torch

from aabigan.nets import Networks, build_networks, infer_family
from aabigan.nets import DCGANEncoder, MLPEncoder


@pytest.mark.parametrize("d,latent", [(6, None), (21, 16), (3, 5)])
def test_mlp_shapes(d, latent):
    torch.manual_seed(0)
    nets = build_networks((d,), family="mlp", latent_dim=latent)
    k = latent or 16
    assert nets.latent_dim == k
    x, z = torch.rand(5, d), torch.randn(5, k)
    assert nets.encoder(x).shape == (5, k)
    assert nets.generator(z).shape == (5, d)
    assert nets.joint_disc(x, z).shape == (5,)
    assert nets.pair_disc(x, x).shape == (5,)


@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(channels):
    torch.manual_seed(0)
    nets = build_networks((channels, 32, 32), family="dcgan", width=8)
    assert nets.latent_dim == 100
    x, z = torch.rand(4, channels, 32, 32), torch.randn(4, 100)
    assert nets.encoder(x).shape == (4, 100)
    assert nets.generator(z).shape == (4, channels, 32, 32)
    assert nets.joint_disc(x, z).shape == (4,)
    assert nets.pair_disc(x, x).shape == (4,)


def test_dcgan_latent_dim_and_width():
    nets = build_networks((3, 32, 32), latent_dim=12, width=8)
    assert nets.latent_dim == 12
    assert nets.encoder(torch.rand(2, 3, 32, 32)).shape == (2, 12)
    n8 = sum(p.numel() for p in nets.encoder.parameters())
    n16 = sum(p.numel() for p in build_networks((3, 32, 32), latent_dim=12, width=16).encoder.parameters())
    assert n16 > n8   # width scales the channel counts


def test_auto_family():
    assert infer_family((7,)) == "mlp"
    assert infer_family((3, 32, 32)) == "dcgan"
    assert isinstance(build_networks((7,)).encoder, MLPEncoder)
    assert isinstance(build_networks((3, 32, 32), width=8).encoder, DCGANEncoder)
    assert isinstance(build_networks((1, 32, 32), family="auto", width=8).encoder, DCGANEncoder)


@pytest.mark.parametrize("shape,match", [
    ((3, 28, 28), r"\(1 or 3, 32, 32\); got \(3, 28, 28\)"),
    ((2, 32, 32), r"\(1 or 3, 32, 32\); got \(2, 32, 32\)"),
    ((3, 32, 16), r"got \(3, 32, 16\)"),
])
def test_dcgan_rejects_wrong_images(shape, match):
    with pytest.raises(ValueError, match=match):
        build_networks(shape, width=8)
    with pytest.raises(ValueError, match=match):
        build_networks(shape, family="dcgan", width=8)


def test_bad_family_and_shapes():
    with pytest.raises(ValueError, match="cannot choose an architecture"):
        build_networks((3, 32))
    with pytest.raises(ValueError, match="cannot choose an architecture"):
        infer_family(())
    with pytest.raises(ValueError, match="flat feature vectors"):
        build_networks((3, 32, 32), family="mlp")
    with pytest.raises(ValueError, match="unknown network family 'resnet'"):
        build_networks((5,), family="resnet")


@pytest.mark.parametrize("shape", [(5,), (1, 32, 32)])
def test_pair_disc_off(shape):
    nets = build_networks(shape, width=8, pair_disc=False)
    assert nets.pair_disc is None
    assert set(nets.modules()) == {"encoder", "generator", "joint_disc"}
    assert set(build_networks(shape, width=8).modules()) == {"encoder", "generator", "joint_disc", "pair_disc"}


@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_generator_output_in_unit_interval(channels):
    torch.manual_seed(0)
    G = build_networks((channels, 32, 32), width=8).generator
    for mode in (G.train, G.eval):
        mode()
        with torch.no_grad():
            x = G(10 * torch.randn(8, 100))
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_networks_to_moves_every_module():
    nets = build_networks((4,))
    assert isinstance(nets, Networks)
    assert nets.to("cpu") is nets
    assert all(p.device.type == "cpu" for m in nets.modules().values() for p in m.parameters())


def test_discriminators_have_no_output_squashing():
    # least-squares targets (a, b, c) need an unbounded output
    torch.manual_seed(0)
    nets = build_networks((4,), dropout=0.0)
    with torch.no_grad():
        for p in nets.joint_disc.parameters():
            p.mul_(50)
        out = nets.joint_disc(torch.rand(64, 4), torch.randn(64, 16))
    assert float(out.abs().max()) > 1.0


def test_dropout_keeps_the_mean_and_the_rate():
    import torch

    from aabigan.nets import Dropout

    torch.manual_seed(0)
    d = Dropout(0.2)
    x = torch.ones(200_000)
    y = d(x)
    assert (y == 0).float().mean().item() == pytest.approx(0.2, abs=0.005)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    assert set(torch.unique(y).tolist()) == {0.0, 1.25}
    d.eval()
    assert torch.equal(d(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


# ------------------------------------------------------------------------------ the authors' networks
@pytest.mark.parametrize("channels, latent", [(1, 100), (3, 128)])
def test_authors_shapes_and_latent(channels, latent):
    torch.manual_seed(0)
    nets = build_networks((channels, 32, 32), arch="authors", width=8, dropout=0.0)
    assert nets.latent_dim == latent
    x, z = torch.rand(4, channels, 32, 32), torch.randn(4, latent)
    assert nets.encoder(x).shape == (4, latent)
    with torch.no_grad():
        g = nets.generator(z)
    assert g.shape == (4, channels, 32, 32) and float(g.min()) >= 0 and float(g.max()) <= 1
    assert nets.joint_disc(x, z).shape == (4,)
    assert nets.pair_disc(x, x).shape == (4,)
    assert z.shape == (4, latent)      # the generator's input is not changed in place (CIFAR: a view of z)


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_authors_mnist_networks_have_the_authors_layers():
    """Width 64: the parameter counts of the layer lists of the authors' model/arch_mnist.py (their generator's
    unused layer4 left out) -- e.g. E: five 3x3 convs 1-32-64-128-256-512 with BN from the second, Linear 512->100."""
    nets = build_networks((1, 32, 32), arch="authors")
    enc = (1 * 32 * 9 + 32) + sum(a * b * 9 + b + 2 * b for a, b in ((32, 64), (64, 128), (128, 256), (256, 512))) \
        + 512 * 100 + 100
    gen = (100 * 128 * 16 + 128 + 256) + (128 * 64 * 16 + 64 + 128) + (64 * 32 * 16 + 32 + 64) + (32 * 16 + 1)
    trunk = (16 * 64 + 64) + 3 * (64 * 64 * 16 + 64 + 128)
    joint = trunk + (100 * 512 + 512) + (768 * 1024 + 1024) + 1025
    pair = 2 * trunk + (512 * 1024 + 1024) + 1025
    assert [_n_params(m) for m in nets.modules().values()] == [enc, gen, joint, pair]
    convs = [m for m in nets.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((3, 3), (2, 2))] * 5
    slopes = {m.negative_slope for m in nets.joint_disc.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.1}


def test_authors_cifar_networks_are_the_lenet_type():
    nets = build_networks((3, 32, 32), arch="authors")
    feat = 128 * 4 * 4
    lenet = 3 * 32 * 25 + 32 * 64 * 25 + 64 * 128 * 25
    assert _n_params(nets.encoder) == lenet + feat * 128                    # no biases, BN without affine terms
    assert _n_params(nets.generator) == (8 * 128 + 128 * 64 + 64 * 32 + 32 * 3) * 25
    assert _n_params(nets.joint_disc) == lenet + (128 * 512 + 512) + ((feat + 512) * 1024 + 1024) + 1025
    assert _n_params(nets.pair_disc) == 2 * lenet + (2 * feat * 1024 + 1024) + 1025
    norms = [m for m in nets.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert [(n.affine, n.eps) for n in norms] == [(False, 1e-4)] * 3
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in nets.joint_disc.modules()) == 3


def test_authors_width_scales_the_channels():
    small = build_networks((1, 32, 32), arch="authors", width=16)
    assert [m.out_channels for m in small.encoder.modules() if isinstance(m, torch.nn.Conv2d)] == [8, 16, 32, 64, 128]
    assert small.joint_disc.head[1].out_features == 256


def test_arch_errors():
    with pytest.raises(ValueError, match="unknown arch 'resnet'"):
        build_networks((1, 32, 32), arch="resnet")
    with pytest.raises(ValueError, match="the authors' code has no tabular networks"):
        build_networks((5,), arch="authors")
    with pytest.raises(ValueError, match="multiple of 16, got 100"):
        build_networks((3, 32, 32), arch="authors", latent_dim=100)
    with pytest.raises(ValueError, match=r"\(1 or 3, 32, 32\)"):
        build_networks((3, 28, 28), arch="authors")


def test_authors_dropout_layers_are_identities_at_zero():
    torch.manual_seed(0)
    nets = build_networks((1, 32, 32), arch="authors", width=8, dropout=0.0)
    x, z = torch.rand(6, 1, 32, 32), torch.randn(6, 100)
    nets.joint_disc.train()
    torch.testing.assert_close(nets.joint_disc(x, z), nets.joint_disc(x, z), rtol=0, atol=0)   # no random mask
    with_dropout = build_networks((1, 32, 32), arch="authors", width=8, dropout=0.3)
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in with_dropout.joint_disc.modules()) == 2


def test_default_arch_builds_what_the_dcgan_classes_build():
    """arch='dcgan' (the default) is the networks of the committed results: the same classes built in the same
    order from the same seed give bit-identical weights."""
    from aabigan.nets import DCGANGenerator, DCGANJointDiscriminator, DCGANPairDiscriminator

    torch.manual_seed(0)
    a = build_networks((3, 32, 32), width=8)
    torch.manual_seed(0)
    b = [DCGANEncoder(3, 100, 8), DCGANGenerator(3, 100, 8), DCGANJointDiscriminator(3, 100, 8, 0.2),
         DCGANPairDiscriminator(3, 8, 0.2)]
    for m, n in zip(a.modules().values(), b):
        assert type(m) is type(n)
        for (k, v), w in zip(m.state_dict().items(), n.state_dict().values()):
            assert torch.equal(v, w), k
