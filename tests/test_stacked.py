"""Stacked training: R seeds in one pass must equal R runs trained alone."""
import copy

import numpy as np
import pytest
import torch

from aabigan import AABiGAN
from aabigan.detector import fit_stacked
from aabigan.experiments import RunConfig, read_rows, run_grid, run_one
from aabigan.nets import build_networks
from aabigan.stacked import can_stack, stack_networks, unstack_networks
from aabigan.trainer import TrainConfig, train


def _toy(r, n=160, m=12, d=5):
    g = np.random.default_rng(r)
    return (g.normal(0, 1, (n, d)).astype(np.float32), (g.normal(3, 1, (m, d))).astype(np.float32))


def test_stacked_forward_equals_each_network():
    nets = [build_networks((5,)) for _ in range(3)]
    st = stack_networks(nets)
    for m in [*nets, st]:
        for mod in m.modules().values():
            mod.eval()
    x, z = torch.randn(3, 7, 5), torch.randn(3, 7, 16)
    for name in ("encoder", "generator"):
        inp = x if name == "encoder" else z
        out = st.modules()[name](inp)
        for r in range(3):
            torch.testing.assert_close(out[r], nets[r].modules()[name](inp[r]))
    out = st.joint_disc(x, z)
    assert out.shape == (3, 7)
    for r in range(3):
        torch.testing.assert_close(out[r], nets[r].joint_disc(x[r], z[r]))


@pytest.mark.parametrize("objective, with_neg", [("aa", True), ("aa", False), ("lsgan", False), ("bigan", False)])
def test_stacked_training_reproduces_single_runs(objective, with_neg):
    R = 3
    data = [_toy(r) for r in range(R)]
    cfg = TrainConfig(objective=objective, epochs=3, batch_size=32, ema_decay=0.9)
    nets = []
    for r in range(R):
        torch.manual_seed(r)
        nets.append(build_networks((5,), dropout=0.0))
    init = copy.deepcopy(nets)
    alone = [train(nets[r], torch.tensor(p), torch.tensor(n) if with_neg else None, cfg,
                   torch.Generator().manual_seed(r)) for r, (p, n) in enumerate(data)]
    st = stack_networks(init)
    state = train(st, torch.stack([torch.tensor(p) for p, _ in data]),
                  torch.stack([torch.tensor(n) for _, n in data]) if with_neg else None, cfg,
                  [torch.Generator().manual_seed(r) for r in range(R)])
    unstack_networks(st, init)
    for r in range(R):
        for name, mod in nets[r].modules().items():
            for a, b in zip(mod.parameters(), init[r].modules()[name].parameters()):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # the mean loss of the stack is the mean of the runs' losses
    for e in range(3):
        assert state.history[e]["loss_d"] == pytest.approx(np.mean([a.history[e]["loss_d"] for a in alone]), rel=1e-4)


def test_networks_of_different_shapes_cannot_be_stacked():
    a, b = build_networks((1, 32, 32), width=8), build_networks((1, 32, 32), width=16)
    assert can_stack(a) and can_stack(b)
    with pytest.raises(ValueError, match="their encoder networks differ"):
        stack_networks([a, b])
    with pytest.raises(ValueError, match="share their architecture"):
        stack_networks([a, build_networks((1, 32, 32), width=8, pair_disc=False)])
    odd = build_networks((1, 32, 32), width=8)
    odd.encoder.net[1] = torch.nn.ELU()            # a layer the stack does not know
    assert not can_stack(odd)
    with pytest.raises(ValueError, match="can be stacked"):
        stack_networks([odd, odd])


def test_fit_stacked_equals_fitting_one_by_one_without_dropout():
    data = []
    for r in range(3):
        p, n = _toy(r)
        X, y = np.r_[p, n], np.r_[np.zeros(len(p)), np.ones(len(n))]
        Xv, _ = _toy(10 + r, n=60, m=20)
        ev = (np.r_[Xv, _toy(20 + r, n=10, m=20)[1]], np.r_[np.zeros(60), np.ones(20)])
        data.append((X, y, ev, None))
    params = dict(epochs=3, batch_size=32, dropout=0.0, score="auto", epoch_rule="best_val")
    alone = [AABiGAN(random_state=r, **params).fit(*d) for r, d in enumerate(data)]
    stacked = fit_stacked([AABiGAN(random_state=r, **params) for r in range(3)], data)
    for a, s, d in zip(alone, stacked, data):
        assert (a.selected_score_, a.selected_epoch_) == (s.selected_score_, s.selected_epoch_)
        np.testing.assert_allclose(a.decision_function(d[0]), s.decision_function(d[0]), rtol=1e-4, atol=1e-5)
        assert [h["epoch"] for h in s.history_] == [1, 2, 3]


def test_fit_stacked_falls_back_when_runs_differ():
    p, n = _toy(0)
    X, y = np.r_[p, n], np.r_[np.zeros(len(p)), np.ones(len(n))]
    dets = fit_stacked([AABiGAN(epochs=1, random_state=0), AABiGAN(epochs=2, random_state=1)], [(X, y), (X, y)])
    assert [len(d.history_) for d in dets] == [1, 2]


def test_runner_stacks_seeds_and_writes_the_same_rows(tmp_path):
    cfgs = [RunConfig("thyroid", "aabigan", gamma_l=0.01, seed=s, profile="smoke") for s in range(3)]
    out = tmp_path / "stacked.csv"
    assert run_grid(cfgs, out, progress=False, stack=3) == {"done_before": 0, "ran": 3, "failed": 0}
    rows = read_rows(out)
    assert len(rows) == 9 and {r["status"] for r in rows} == {"ok"}
    assert sorted({int(r["seed"]) for r in rows}) == [0, 1, 2]
    single = run_one(cfgs[1])
    assert [r["rule"] for r in single] == [r["rule"] for r in rows if int(r["seed"]) == 1]
    assert run_grid(cfgs, out, progress=False, stack=3)["ran"] == 0


def test_min_steps_adds_epochs_on_small_data():
    p, n = _toy(0, n=100)
    X, y = np.r_[p, n], np.r_[np.zeros(len(p)), np.ones(len(n))]
    det = AABiGAN(epochs=2, min_steps=9, batch_size=32, random_state=0).fit(X, y)
    assert len(det.history_) == 3            # 100 // 32 = 3 steps an epoch: 3 epochs reach 9 steps
    assert len(AABiGAN(epochs=5, min_steps=9, batch_size=32, random_state=0).fit(X, y).history_) == 5


def test_stacked_scoring_equals_scoring_run_by_run():
    from aabigan.scores import compute_scores
    nets = [build_networks((5,)) for _ in range(3)]
    st = stack_networks(nets)
    X = torch.randn(3, 50, 5)
    both = compute_scores(st.encoder, st.generator, X, stacked=True, batch=16)
    assert both["latent"].shape == (3, 50)
    for r in range(3):
        one = compute_scores(nets[r].encoder, nets[r].generator, X[r])
        for k in ("reconstruction", "latent"):
            np.testing.assert_allclose(both[k][r], one[k], rtol=1e-5, atol=1e-6)


class _Recorder:
    def __init__(self, X):
        self.X, self.record = X, {}

    def __call__(self, epoch, det):
        self.record[epoch] = det.score_samples_all(self.X)


def _monitored_data(runs=2):
    data = []
    for r in range(runs):
        p, n = _toy(r)
        X, y = np.r_[p, n], np.r_[np.zeros(len(p)), np.ones(len(n))]
        Xe = np.r_[_toy(30 + r, n=40, m=10)[0], _toy(40 + r, n=10, m=10)[1]]
        data.append((X, y, (Xe, np.r_[np.zeros(40), np.ones(10)])))
    return data


@pytest.mark.parametrize("epoch_rule", ["last", "best_val"])
def test_fit_stacked_histories_and_callbacks_match_single_fits(epoch_rule):
    """Each detector's callbacks see its own networks of each epoch, as when it is fitted alone."""
    data = _monitored_data()
    params = dict(epochs=2, batch_size=32, dropout=0.0, epoch_rule=epoch_rule, score="auto")
    recs_alone = [_Recorder(d[2][0]) for d in data]
    alone = [AABiGAN(random_state=r, **params).fit(*d, callbacks=(rec,))
             for r, (d, rec) in enumerate(zip(data, recs_alone))]
    recs = [_Recorder(d[2][0]) for d in data]
    stacked = fit_stacked([AABiGAN(random_state=r, **params) for r in range(2)],
                          [d + ((rec,),) for d, rec in zip(data, recs)])
    for a, s, ra, rs in zip(alone, stacked, recs_alone, recs):
        for ha, hs in zip(a.history_, s.history_):
            for k in ("val_auroc_reconstruction", "val_auroc_latent"):
                assert hs[k] == pytest.approx(ha[k], abs=1e-6), k
        assert sorted(rs.record) == sorted(ra.record) == [1, 2]
        for e in (1, 2):
            for k in ("reconstruction", "latent"):
                np.testing.assert_allclose(rs.record[e][k], ra.record[e][k], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(rs.record[s.selected_epoch_][s.selected_score_], s.decision_function(rs.X))


def test_a_failed_stacked_fit_leaves_every_detector_unfitted():
    from aabigan.detector import NotFittedError

    data = _monitored_data()
    params = dict(epochs=2, batch_size=32)
    dets = fit_stacked([AABiGAN(random_state=r, **params) for r in range(2)], data)   # fitted once ...

    def boom(epoch, det):
        if epoch == 2:
            raise KeyError("boom in epoch 2")

    with pytest.raises(KeyError, match="boom"):                                      # ... then a refit fails
        fit_stacked(dets, [data[0], data[1] + ((boom,),)])
    for d in dets:
        assert not [k for k in vars(d) if k.endswith("_") or k.startswith("_")]
        with pytest.raises(NotFittedError, match="not fitted"):
            d.decision_function(data[0][0])
    # a bad input of one run fails before training, and leaves the others unfitted as well
    fresh = [AABiGAN(random_state=r, **params) for r in range(2)]
    with pytest.raises(ValueError, match="eval_set must be a pair"):
        fit_stacked(fresh, [data[0], (data[1][0], data[1][1], "bad")])
    assert not any(hasattr(d, "fit_seconds_") for d in fresh)


def test_fit_stacked_checks_its_data_tuples():
    with pytest.raises(ValueError, match="holds fit's arguments"):
        fit_stacked([AABiGAN(), AABiGAN()], [(), ()])


# ------------------------------------------------------------------------------------- image networks
IMAGE_CASES = [("dcgan", 1), ("dcgan", 3), ("authors", 1), ("authors", 3)]


def _image_nets(arch, channels, runs, width=8, seed0=0):
    out = []
    for r in range(runs):
        torch.manual_seed(seed0 + r)
        out.append(build_networks((channels, 32, 32), arch=arch, width=width, dropout=0.0))
    return out


def _outputs(nets, x, z, stacked=False):
    """E(x), G(z), D(x, z), D'(x, x') of one set of networks (x' = x flipped left-right)."""
    x2 = x.flip(-1)
    return [nets.encoder(x), nets.generator(z), nets.joint_disc(x, z), nets.pair_disc(x, x2)]


@pytest.mark.parametrize("arch, channels", IMAGE_CASES)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_stacked_image_forward_equals_each_network(arch, channels, mode):
    R = 3
    nets = _image_nets(arch, channels, R)
    st = stack_networks(nets)
    for m in [*nets, st]:
        for mod in m.modules().values():
            mod.train(mode == "train")
    k = nets[0].latent_dim
    x, z = torch.rand(R, 6, channels, 32, 32), torch.randn(R, 6, k)
    out = _outputs(st, x, z)
    assert [tuple(o.shape) for o in out] == [(R, 6, k), (R, 6, channels, 32, 32), (R, 6), (R, 6)]
    for r in range(R):
        for a, b in zip(out, _outputs(nets[r], x[r], z[r])):
            torch.testing.assert_close(a[r], b, atol=1e-5, rtol=1e-4)


def _silence_cancelled_biases(nets):
    """Give a zero gradient to every bias that batch norm cancels (a convolution's bias right before a batch
    norm; the authors' MNIST networks have them).  Its exact gradient is zero, but backpropagation leaves
    float noise there, which Adam's normalised step turns into moves of about lr -- different noise in a stack
    and in a single run, so those biases (and, through them, the running means) would drift apart without
    changing anything the training computes.  With the exact zero, the comparison is exact."""
    for mod in nets.modules().values():
        for seq in mod.modules():
            if isinstance(seq, torch.nn.Sequential):
                for a, b in zip(seq[:-1], seq[1:]):
                    if isinstance(a, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and a.bias is not None \
                            and isinstance(b, torch.nn.BatchNorm2d):
                        a.bias.register_hook(torch.zeros_like)


def _assert_same_networks(a, b, channels, atol=1e-5, rtol=1e-4):
    """Every weight and batch-norm statistic equal, and the networks compute the same on fresh inputs in eval
    mode (which uses the running statistics)."""
    for name, mod in a.modules().items():
        other = b.modules()[name]
        for (k, v), w in zip(mod.state_dict().items(), other.state_dict().values()):
            torch.testing.assert_close(v, w, atol=atol, rtol=rtol, msg=lambda m: f"{name}.{k}: {m}")
        mod.eval()
        other.eval()
    g = torch.Generator().manual_seed(99)
    x, z = torch.rand(5, channels, 32, 32, generator=g), torch.randn(5, a.latent_dim, generator=g)
    with torch.no_grad():
        for u, v in zip(_outputs(a, x, z), _outputs(b, x, z)):
            torch.testing.assert_close(u, v, atol=atol, rtol=rtol)


@pytest.mark.parametrize("arch, channels", IMAGE_CASES)
def test_stacked_image_training_reproduces_single_runs(arch, channels):
    """R image runs trained as one stack end where each run trained alone ends (dropout off): same weights,
    same batch-norm running statistics, same per-run losses on average."""
    R = 2
    g = torch.Generator().manual_seed(0)
    data = [(torch.rand(40, channels, 32, 32, generator=g), torch.rand(8, channels, 32, 32, generator=g))
            for _ in range(R)]
    cfg = TrainConfig(objective="aa", epochs=2, batch_size=16, neg_batch_size=4, ema_decay=0.9)
    nets = _image_nets(arch, channels, R)
    init = copy.deepcopy(nets)
    for n in nets:
        _silence_cancelled_biases(n)
    alone = [train(nets[r], p, n, cfg, torch.Generator().manual_seed(r)) for r, (p, n) in enumerate(data)]
    st = stack_networks(init)
    _silence_cancelled_biases(st)
    state = train(st, torch.stack([p for p, _ in data]), torch.stack([n for _, n in data]), cfg,
                  [torch.Generator().manual_seed(r) for r in range(R)])
    unstack_networks(st, init)
    for r in range(R):
        _assert_same_networks(nets[r], init[r], channels)
    for e in range(2):
        assert state.history[e]["loss_d"] == pytest.approx(np.mean([a.history[e]["loss_d"] for a in alone]), rel=1e-4)
        assert state.history[e]["loss_ge"] == pytest.approx(np.mean([a.history[e]["loss_ge"] for a in alone]), rel=1e-4)


@pytest.mark.parametrize("arch, channels", [("dcgan", 1), ("authors", 1), ("authors", 3)])
def test_batch_norm_statistics_stay_per_run(arch, channels):
    """A run's batch statistics and running statistics are its own: changing another run's batch changes
    nothing of this run's output or running statistics, and each run's running statistics are the ones it
    gets alone."""
    R = 3
    nets = _image_nets(arch, channels, R)
    x = torch.rand(R, 8, channels, 32, 32)
    y = x.clone()
    y[1] = 10 * y[1] + 3                                  # run 1 sees a very different batch
    outs = []
    for inp in (x, y):
        st = stack_networks(nets)
        for mod in st.modules().values():
            mod.train()
        with torch.no_grad():
            outs.append((st.encoder(inp), st.joint_disc(inp, torch.zeros(R, 8, nets[0].latent_dim)), st))
    (e_x, d_x, st_x), (e_y, d_y, st_y) = outs
    for r in (0, 2):
        torch.testing.assert_close(e_x[r], e_y[r], rtol=0, atol=1e-6)
        torch.testing.assert_close(d_x[r], d_y[r], rtol=0, atol=1e-6)
    assert not torch.allclose(e_x[1], e_y[1])
    targets = copy.deepcopy(nets)
    unstack_networks(st_y, targets)
    for r in range(R):
        single = copy.deepcopy(nets[r])
        single.encoder.train()
        with torch.no_grad():
            single.encoder(y[r])
        means = [m.running_mean for m in single.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        got = [m.running_mean for m in targets[r].encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert len(means) >= 2
        for a, b in zip(means, got):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    moved = [m.running_mean for m in targets[1].encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    kept = [m.running_mean for m in targets[0].encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not torch.allclose(moved[0], kept[0])


def test_stack_unstack_round_trip_keeps_every_tensor():
    nets = _image_nets("authors", 3, 2)
    st = stack_networks(nets)
    back = _image_nets("authors", 3, 2, seed0=7)
    unstack_networks(st, back)
    for a, b in zip(nets, back):
        for name, mod in a.modules().items():
            for (k, v), w in zip(mod.state_dict().items(), b.modules()[name].state_dict().values()):
                assert torch.equal(v, w), (name, k)


def _image_data(r, n=48, m=8, channels=1):
    g = np.random.default_rng(r)
    normal = g.uniform(0, 0.5, (n, channels, 32, 32)).astype(np.float32)
    anomal = g.uniform(0.4, 1, (m, channels, 32, 32)).astype(np.float32)
    return np.r_[normal, anomal], np.r_[np.zeros(n), np.ones(m)]


@pytest.mark.parametrize("arch", ["dcgan", "authors"])
def test_fit_stacked_images_equals_fitting_one_by_one(arch, monkeypatch):
    """fit_stacked trains image detectors as one stack; with dropout off each detector scores as it does
    fitted alone, and picks the same score and epoch on its validation set."""
    import functools
    import warnings

    import aabigan.detector
    import aabigan.stacked

    params = dict(epochs=2, batch_size=16, neg_batch_size=4, dropout=0.0, width=8, score="auto",
                  epoch_rule="best_val")
    build = build_networks
    if arch != "dcgan":
        if "arch" in AABiGAN().get_params():
            params["arch"] = arch
        else:   # the detector has no arch parameter yet: build its networks with the authors' architecture
            build = functools.partial(build_networks, arch=arch)
    calls = []

    def built(*args, **kwargs):        # the biases batch norm cancels get their exact zero gradient
        nets = build(*args, **kwargs)
        _silence_cancelled_biases(nets)
        return nets

    def stacked_nets(nets):
        calls.append(len(nets))
        out = real(nets)
        _silence_cancelled_biases(out)
        return out

    real = aabigan.stacked.stack_networks
    monkeypatch.setattr(aabigan.detector, "build_networks", built)
    monkeypatch.setattr(aabigan.stacked, "stack_networks", stacked_nets)
    data = []
    for r in range(2):
        X, y = _image_data(r)
        Xv, yv = _image_data(10 + r, n=20, m=10)
        data.append((X, y, (Xv, yv), None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = [AABiGAN(random_state=r, **params).fit(*d) for r, d in enumerate(data)]
        stacked = fit_stacked([AABiGAN(random_state=r, **params) for r in range(2)], data)
    assert calls == [2]                                   # trained as one stack, not one by one
    assert type(alone[0].nets_.encoder).__name__ == ("DCGANEncoder" if arch == "dcgan" else "AuthorsEncoder")
    for a, s, d in zip(alone, stacked, data):
        assert (a.selected_score_, a.selected_epoch_) == (s.selected_score_, s.selected_epoch_)
        np.testing.assert_allclose(a.decision_function(d[0]), s.decision_function(d[0]), rtol=1e-4, atol=1e-5)
        for ha, hs in zip(a.history_, s.history_):
            for k in ("val_auroc_latent", "val_auroc_reconstruction"):
                assert hs[k] == pytest.approx(ha[k], abs=1e-6)
