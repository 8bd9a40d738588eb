"""The knobs of chapter 8's ablations (issue 14): the authors' training choices, the discriminator-feature
score, the MLP width, the split options, and the ablation grid built from them."""
import json
import warnings

import numpy as np
import pytest
import torch

from aabigan import AABiGAN
from aabigan.data import make_split
from aabigan.experiments import (ODDS_ABLATIONS, RunConfig, ablation_variant, expected_rules, grid, run_grid)
from aabigan.nets import build_networks
from aabigan.scores import compute_scores
from aabigan.store import read_rows
from aabigan.trainer import TrainConfig, train


def _blobs(n=200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0, 1, (n, d)), rng.normal(4, 1, (10, d))].astype(np.float32)
    return X, np.r_[np.zeros(n, int), np.ones(10, int)]


# ---------------------------------------------------------------------------------------- networks
def test_mlp_hidden_sizes_default_to_the_papers_256_64():
    def sizes(**kw):
        return [m.out_features for m in build_networks((7,), **kw).encoder.net if isinstance(m, torch.nn.Linear)]
    assert sizes() == sizes(width=8) == [256, 64, 16]
    assert sizes(hidden=(128, 32)) == [128, 32, 16]
    with pytest.raises(ValueError, match="hidden"):
        AABiGAN(hidden=(), epochs=1).fit(np.zeros((8, 3), np.float32))


@pytest.mark.parametrize("shape,kw", [((7,), {}), ((1, 32, 32), dict(width=8)), ((1, 32, 32), dict(width=8, arch="authors")),
                                      ((3, 32, 32), dict(width=8, arch="authors"))])
def test_pair_features_are_what_the_last_linear_layer_reads(shape, kw):
    torch.manual_seed(0)
    dp = build_networks(shape, **kw).pair_disc.eval()
    x, x2 = torch.rand(4, *shape), torch.rand(4, *shape)
    last = [m for m in dp.modules() if isinstance(m, torch.nn.Linear)][-1]
    torch.testing.assert_close(last(dp.features(x, x2)).squeeze(-1), dp(x, x2))


def test_features_score_is_the_l1_gap_of_the_pair_features():
    torch.manual_seed(0)
    nets = build_networks((5,))
    X = torch.rand(9, 5)
    got = compute_scores(nets.encoder, nets.generator, X, ("features",), pair_disc=nets.pair_disc)["features"]
    assert nets.pair_disc.training                       # compute_scores puts D' back in training mode
    for m in nets.modules().values():
        m.eval()
    with torch.no_grad():
        f = nets.pair_disc.features
        want = (f(X, X) - f(X, nets.generator(nets.encoder(X)))).abs().sum(1).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    with pytest.raises(ValueError, match="pair discriminator"):
        compute_scores(nets.encoder, nets.generator, X, ("features",))
    with pytest.raises(ValueError, match="unknown score"):
        compute_scores(nets.encoder, nets.generator, X, ("recon",))


# ---------------------------------------------------------------------------------------- detector
def test_features_score_is_selectable_and_saved(tmp_path):
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = AABiGAN(epochs=3, score="features", random_state=0).fit(X, y, eval_set=(X, y))
    assert det.selected_score_ == "features"
    assert "val_auroc_features" in det.history_[-1]
    s = det.decision_function(X)
    assert s[y == 1].mean() > s[y == 0].mean()       # far blobs have a larger feature gap even after 3 epochs
    back = AABiGAN.load(det.save(tmp_path / "d.npz"))
    np.testing.assert_allclose(back.decision_function(X), s, rtol=1e-5)
    with pytest.raises(ValueError, match="pair_disc=True"):
        AABiGAN(epochs=1, score="features", pair_disc=False).fit(X, y)


def test_best_val_with_the_features_score_restores_that_epochs_pair_discriminator():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = AABiGAN(epochs=4, score="features", epoch_rule="best_val", random_state=1).fit(X, y, eval_set=(X, y))
    best = max(det.history_, key=lambda h: (h["val_auroc_features"], h["epoch"]))
    assert det.selected_epoch_ == best["epoch"]
    from aabigan.scores import auroc
    assert auroc(y, det.decision_function(X)) == pytest.approx(best["val_auroc_features"], abs=1e-6)


def test_betas_and_step_decay_reach_the_optimiser():
    X = torch.rand(64, 4)
    nets = build_networks((4,))
    seen = []

    def spy(epoch, state):
        seen.append(epoch)
    cfg = TrainConfig(objective="lsgan", epochs=3, batch_size=32, lr_step_every=1, lr_step_gamma=0.5)
    opts = []
    real_adam = torch.optim.Adam

    def adam(params, **kw):
        opts.append(real_adam(params, **kw))
        return opts[-1]
    torch.optim.Adam = adam
    try:
        train(nets, X, None, cfg, torch.Generator().manual_seed(0), on_epoch_end=spy)
    finally:
        torch.optim.Adam = real_adam
    assert [o.param_groups[0]["lr"] for o in opts] == pytest.approx([1e-4 / 8, 2.5e-5 / 8])
    assert all(o.param_groups[0]["betas"] == (0.5, 0.999) for o in opts)
    for bad in (dict(betas=(0.5,)), dict(betas=(0.5, 1.0)), dict(lr_step_every=0), dict(lr_step_gamma=0)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="betas"):
        AABiGAN(betas=(0.9, 1.5), epochs=1).fit(X.numpy())


def test_a_decay_of_one_changes_nothing_and_other_betas_change_the_fit():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {k: AABiGAN(epochs=3, random_state=0, **kw).fit(X, y).decision_function(X) for k, kw in {
            "plain": {}, "gamma1": dict(lr_step_every=1, lr_step_gamma=1.0), "betas": dict(betas=(0.5, 0.9))}.items()}
    np.testing.assert_array_equal(fits["plain"], fits["gamma1"])
    assert not np.allclose(fits["plain"], fits["betas"])


# ------------------------------------------------------------------------------------------- split
def test_deepsad_reused_rng_split_leaks_evaluation_records_into_training():
    plain = make_split("arrhythmia", 0, (1,), gamma_l=0.01, seed=3)
    leaky = make_split("arrhythmia", 0, (1,), gamma_l=0.01, seed=3, odds_split="deepsad-reused-rng")
    assert plain.info["n_eval_in_train"] == 0
    assert not np.isin(np.r_[plain.val_source, plain.test_source], plain.train_source).any()
    overlap = np.isin(np.r_[leaky.val_source, leaky.test_source], leaky.train_source)
    assert leaky.info["n_eval_in_train"] == overlap.sum() > 0.3 * len(overlap)
    assert abs(len(leaky.y_test) + len(leaky.y_val) - (len(plain.y_test) + len(plain.y_val))) <= 2
    with pytest.raises(ValueError, match="odds_split"):
        make_split("arrhythmia", odds_split="leaky")


# ------------------------------------------------------------------------------------------ runner
def test_split_options_are_part_of_the_config_not_of_the_method():
    plain = RunConfig("satellite", "aabigan", gamma_l=0.01, profile="cpu")
    same = RunConfig("satellite", "aabigan", gamma_l=0.01, profile="cpu", overrides=(("odds_split", "stratified"),))
    leaky = RunConfig("satellite", "deepsad", gamma_l=0.01, profile="cpu",
                      overrides=(("odds_split", "deepsad-reused-rng"),))
    assert same.hash == plain.hash and same.overrides == ()
    assert leaky.split_args() == {"odds_split": "deepsad-reused-rng"} and "odds_split" not in leaky.settings()
    assert leaky.hash != RunConfig("satellite", "deepsad", gamma_l=0.01, profile="cpu").hash
    with pytest.raises(ValueError, match="split option"):
        RunConfig("satellite", overrides=(("ratio_of", "all"),))
    assert RunConfig("satellite", gamma_p=0).hash == RunConfig("satellite", gamma_p=0.0).hash


def test_ablation_rows_record_their_variant_and_come_back_as_their_config(tmp_path):
    cfgs = [RunConfig("thyroid", "aabigan", 0, (1,), 0.01, 0.0, 0, "smoke",
                      (("score", "features"), ("odds_split", "deepsad-reused-rng"), ("betas", (0.5, 0.9)))),
            RunConfig("thyroid", "deepsad", 0, (1,), 0.01, 0.0, 0, "smoke", (("odds_split", "deepsad-reused-rng"),))]
    assert expected_rules(cfgs[0]) == {"last/reconstruction", "last/latent", "last/features", "val/auto"}
    run_grid(cfgs, tmp_path / "a.csv", progress=False)
    rows = read_rows(tmp_path / "a.csv")
    assert sorted(r["rule"] for r in rows) == sorted(expected_rules(cfgs[0]) | {"last", "val/epoch"})
    for r in rows:
        assert RunConfig.from_row(r).hash == r["config_hash"]
        assert json.loads(r["settings"])["odds_split"] == "deepsad-reused-rng"
    assert run_grid(cfgs, tmp_path / "a.csv", progress=False)["ran"] == 0


def test_the_ablation_grid_holds_every_variant_on_ten_seeds():
    cfgs = grid("ablations")
    variants = {ablation_variant(c) for c in cfgs}
    assert variants == set(ODDS_ABLATIONS)
    assert all(c.profile == "cpu" and c.gamma_l == 0.01 and c.dataset in ("satellite", "arrhythmia") for c in cfgs)
    for v in ("plain", "deepsad-split"):
        assert {c.method for c in cfgs if ablation_variant(c) == v} == {"aabigan", "deepsad", "supervised", "aad",
                                                                         "ssad-hybrid"}
    plain = [c for c in cfgs if ablation_variant(c) == "plain"]
    assert {c.hash for c in plain} == {c.hash for c in grid("table2", "cpu", datasets=["satellite", "arrhythmia"],
                                                             methods=[c.method for c in plain])}
    assert len(cfgs) == len(set(cfgs)) == (len(ODDS_ABLATIONS) - 2) * 20 + 2 * 5 * 20


def test_the_ablation_grid_takes_some_variants_on_other_tables(capsys):
    cfgs = grid("ablations", datasets=["cardio", "thyroid"], variants=["plain", "features-score"])
    assert {(c.dataset, ablation_variant(c)) for c in cfgs} == {(d, v) for d in ("cardio", "thyroid")
                                                                for v in ("plain", "features-score")}
    assert len(cfgs) == 2 * (5 + 1) * 10          # plain: AA-BiGAN and the four baselines; features: AA-BiGAN
    with pytest.raises(ValueError, match=r"unknown ablation variant\(s\) 'nope'; choose from plain, deepsad-split"):
        grid("ablations", variants=["plain", "nope"])
    with pytest.raises(ValueError, match="variants choose among the ablations"):
        grid("table2", "cpu", variants=["plain"])
    from aabigan.__main__ import main
    assert main(["run", "--grid", "ablations", "--dataset", "cardio", "--variants", "plain,ema-0.99",
                 "--out", "unused.csv", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("60 configs, 0 done, 60 to run")
    with pytest.raises(SystemExit):
        main(["run", "--grid", "ablations", "--variants", "nope", "--out", "unused.csv", "--dry-run"])
    assert "unknown ablation variant(s) 'nope'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------- diagnosis
def _rows_for(variant, method, rule, values, dataset="satellite"):
    from aabigan.experiments import ODDS_ABLATIONS
    out = []
    for seed, v in enumerate(values):
        c = RunConfig(dataset, method, 0, (1,), 0.01, 0.0, seed, "cpu", ODDS_ABLATIONS[variant][1])
        out.append({"config_hash": c.hash, "status": "ok", "rule": rule, "dataset": dataset, "method": method,
                    "normal_class": "0", "known_classes": "1", "gamma_l": "0.01", "gamma_p": "0.0", "seed": str(seed),
                    "profile": "cpu", "auroc": str(v / 100),
                    "settings": json.dumps({**c.params(), **c.split_options()}, sort_keys=True)})
    return out


def test_ablation_effects_are_paired_by_seed_and_named_by_their_size():
    from aabigan.diagnosis import ablation_effects
    plain = [80, 70, 90, 60, 75]
    rows = (_rows_for("plain", "aabigan", "last/reconstruction", plain)
            + _rows_for("plain", "aabigan", "val/auto", plain)
            + _rows_for("d-prime-1/3", "aabigan", "last/reconstruction", [p + 2 + 0.1 * i for i, p in enumerate(plain)])
            + _rows_for("d-prime-1/3", "aabigan", "val/auto", [p + (-1) ** i for i, p in enumerate(plain)])
            + _rows_for("features-score", "aabigan", "last/features", [p - 5 for p in plain])
            + _rows_for("plain", "deepsad", "last", plain) + _rows_for("deepsad-split", "deepsad", "last", [p + 9 for p in plain]))
    effects = {(e["variant"], e["method"]): e for e in ablation_effects(rows)}
    assert set(effects) == {("d-prime-1/3", "aabigan"), ("features-score", "aabigan"), ("deepsad-split", "deepsad")}
    lf = effects[("d-prime-1/3", "aabigan")]["label_free"]
    assert lf["delta"] == pytest.approx(2.2) and lf["n"] == 5 and lf["effect"] == "lifts"
    assert effects[("d-prime-1/3", "aabigan")]["val/auto"]["effect"] == "no clear effect"
    assert effects[("features-score", "aabigan")]["label_free"]["effect"] == "lowers"   # last/features vs plain recon
    assert effects[("deepsad-split", "deepsad")]["label_free"]["delta"] == pytest.approx(9)
    with pytest.raises(ValueError, match="appears twice"):
        ablation_effects(rows + rows[:1])


def test_versus_each_baseline_pairs_the_runs_of_one_cell_under_each_rule():
    from aabigan.diagnosis import versus_each_baseline

    def row(method, rule, normal, auroc, gamma_l=0.05, profile="cpu"):
        return {"status": "ok", "profile": profile, "dataset": "mnist", "method": method, "rule": rule,
                "normal_class": str(normal), "known_classes": str((normal + 1) % 10), "seed": "0",
                "gamma_l": str(gamma_l), "gamma_p": "0.0", "k_l": "1", "settings": "{}", "auroc": str(auroc)}
    ours = [.90, .80, .85, .95]
    rows = [row("aabigan", "last/reconstruction", n, a) for n, a in enumerate(ours)]
    rows += [row("aabigan", "val/auto", n, a + .05) for n, a in enumerate(ours)]
    rows += [row("deepsad", "last", n, a - .10 + .01 * n) for n, a in enumerate(ours)]     # behind by 8.5 pts
    rows += [row("deepsad", "val/epoch", n, a + .05 + (.01 if n % 2 else -.01)) for n, a in enumerate(ours)]
    rows += [row("supervised", "fixed", n, a) for n, a in enumerate(ours[:3])]             # written before epochs
    rows += [row("deepsad", "last", 0, .99, profile="paper"), row("aabigan-unsup", "val/auto", 0, .5)]
    got = {(v["selection"], v["baseline"]): v for v in versus_each_baseline(rows, "cpu")}
    assert set(got) == {("label_free", "Deep SAD"), ("validation", "Deep SAD"), ("label_free", "Supervised Classifier")}
    lf = got[("label_free", "Deep SAD")]
    assert lf["delta"] == pytest.approx(8.5) and lf["n"] == 4 and lf["verdict"] == "ahead"
    assert lf["aabigan"] == pytest.approx(87.5) and lf["baseline_mean"] == pytest.approx(79.0)
    assert got[("validation", "Deep SAD")]["delta"] == pytest.approx(0) and \
        got[("validation", "Deep SAD")]["verdict"] == "no clear difference"
    sup = got[("label_free", "Supervised Classifier")]
    assert sup["n"] == 3 and sup["delta"] == pytest.approx(0) and sup["gamma_l"] == 0.05 and sup["dataset"] == "mnist"


def test_without_collected_anomalies_is_the_gamma_0_run_of_the_same_class_and_seed():
    from aabigan.diagnosis import versus_without_collected

    def row(rule, normal, auroc, gamma_l, seed=0):
        return {"status": "ok", "profile": "cpu", "dataset": "fmnist", "method": "aabigan", "rule": rule,
                "normal_class": str(normal), "known_classes": str((normal + 1) % 10) if gamma_l else "",
                "seed": str(seed), "gamma_l": str(gamma_l), "gamma_p": "0.0", "k_l": "1" if gamma_l else "0",
                "settings": "{}", "auroc": str(auroc)}
    zero = [.70, .80, .75]
    rows = [row("val/auto", n, a, 0.0) for n, a in enumerate(zero)]
    rows += [row("val/auto", n, a + .10 + .01 * n, 0.05) for n, a in enumerate(zero)]   # +11 points on average
    rows += [row("val/auto", 0, .90, 0.05, seed=1)]                                     # no gamma_l = 0 twin
    rows += [row("last/reconstruction", n, a, g) for g in (0.0, 0.1) for n, a in enumerate(zero)]
    got = {(v["gamma_l"], v["selection"]): v for v in versus_without_collected(rows, "cpu")}
    assert set(got) == {(0.05, "validation"), (0.1, "label_free")}
    v = got[(0.05, "validation")]
    assert v["delta"] == pytest.approx(11) and v["n"] == 3 and v["verdict"] == "ahead"
    assert v["baseline"] == "AA-BiGAN without collected anomalies" and v["baseline_mean"] == pytest.approx(75)
    assert got[(0.1, "label_free")]["delta"] == pytest.approx(0) and \
        got[(0.1, "label_free")]["verdict"] == "no clear difference"


def test_runs_by_cell_pairs_steps_across_cells_and_refuses_two_runs_of_one_class():
    from aabigan.diagnosis import paired_difference, runs_by_cell

    def row(normal, auroc, gamma_p=0.0, c=None, known=None, rule="val/auto", seed=0):
        known = str((normal + 1) % 10) if known is None else known
        return {"status": "ok", "profile": "cpu", "dataset": "fmnist", "method": "aabigan", "rule": rule,
                "normal_class": str(normal), "known_classes": known, "seed": str(seed), "gamma_l": "0.05",
                "gamma_p": str(gamma_p), "k_l": "1", "settings": json.dumps({} if c is None else {"c": c}),
                "auroc": str(auroc)}
    rows = [row(n, .80 + .01 * n, c=0.75) for n in range(4)]
    rows += [dict(r, dataset="mnist", settings="{}") for r in rows]    # Table 1's MNIST cell: not in Table 5
    rows += [row(n, .70 + .02 * n, c=0.25) for n in range(4)]
    rows += [row(n, .90, c=0.25, rule="last/reconstruction") for n in range(4)]   # another selection
    rows += [row(n, .60, gamma_p=0.1, c=0.25) for n in range(3)]
    got = runs_by_cell(rows, "cpu", "table5", ("gamma_p", "c"))
    assert set(got) == {(0.0, 0.75), (0.0, 0.25), (0.1, 0.25)}
    assert got[(0.0, 0.25)] == {(n, 0): pytest.approx(70 + 2 * n) for n in range(4)}
    delta, se, n = paired_difference(got[(0.0, 0.75)], got[(0.0, 0.25)])   # c 0.75 -> 0.25: -10, -9, -8, -7
    assert (delta, n) == (pytest.approx(-8.5), 4) and se == pytest.approx(np.std([10, 9, 8, 7], ddof=1) / 2)
    label_free = runs_by_cell(rows, "cpu", "table5", ("gamma_p", "c"), selection="label_free")
    assert label_free == {(0.0, 0.25): {(n, 0): pytest.approx(90) for n in range(4)}}
    assert runs_by_cell(rows, "paper", "table5", ("gamma_p", "c")) == {}
    with pytest.raises(ValueError, match="unknown selection"):
        runs_by_cell(rows, "cpu", "table5", ("gamma_p", "c"), selection="val/auto")
    with pytest.raises(ValueError, match="two aabigan rows of run"):   # normal class 0 with two collected classes
        runs_by_cell(rows + [row(0, .5, c=0.25, known="2")], "cpu", "table5", ("gamma_p", "c"))
