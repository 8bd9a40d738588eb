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


def test_dcgan_networks_cannot_be_stacked():
    nets = build_networks((1, 32, 32), width=8)
    assert not can_stack(nets)
    with pytest.raises(ValueError, match="only the MLP family"):
        stack_networks([nets, nets])


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


def test_fit_stacked_histories_match_single_fits_with_monitoring():
    data = []
    for r in range(2):
        p, n = _toy(r)
        X, y = np.r_[p, n], np.r_[np.zeros(len(p)), np.ones(len(n))]
        Xe = np.r_[_toy(30 + r, n=40, m=10)[0], _toy(40 + r, n=10, m=10)[1]]
        ev = (Xe, np.r_[np.zeros(40), np.ones(10)])
        data.append((X, y, ev, ev))
    params = dict(epochs=2, batch_size=32, dropout=0.0)
    alone = [AABiGAN(random_state=r, **params).fit(*d) for r, d in enumerate(data)]
    stacked = fit_stacked([AABiGAN(random_state=r, **params) for r in range(2)], data)
    for a, s in zip(alone, stacked):
        for ha, hs in zip(a.history_, s.history_):
            for k in ("val_auroc_reconstruction", "val_auroc_latent", "monitor_auroc_latent", "monitor_auprc_reconstruction"):
                assert hs[k] == pytest.approx(ha[k], abs=1e-6), k
