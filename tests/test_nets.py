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
