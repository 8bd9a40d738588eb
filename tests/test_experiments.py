"""Configs, the resumable grid runner, result tables and the command line."""
import json

import numpy as np
import pytest

from aabigan.__main__ import main
from aabigan.experiments import (BASELINE_RULES, METHODS, Method, ROW_FIELDS, RULES, RunConfig, expected_rules, grid,
                                 pending, read_rows, register_method, rows_from_epochs, rows_from_history, run_grid,
                                 run_one)
from aabigan.profiles import PROFILES, get_profile
from aabigan.tables import compare, summarise, versus_paper
from helpers import MeanDistance


@pytest.fixture(autouse=True)
def _test_method():
    register_method(Method("test-meandist", "MeanDist", lambda s: MeanDistance(**s), True, False))
    yield
    METHODS.pop("test-meandist", None)


def cfg(seed=0, **kw):
    return RunConfig("thyroid", "test-meandist", 0, (1,), 0.01, 0.0, seed, "smoke", **kw)


# ------------------------------------------------------------------------------------------ configs
@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="nope"), "unknown dataset 'nope'"),
    (dict(dataset="thyroid", method="magic"), "unknown method 'magic'"),
    (dict(dataset="thyroid", profile="huge"), "unknown profile 'huge'"),
    (dict(dataset="thyroid", gamma_l=1.5), "gamma_l must lie in"),
    (dict(dataset="thyroid", gamma_p=-0.1), "gamma_p must lie in"),
    (dict(dataset="thyroid", normal_class=1), "ODDS datasets have normal class 0"),
    (dict(dataset="mnist", known_classes=(), gamma_l=0.05), "needs at least one known"),
])
def test_bad_configs_name_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**kwargs)


def test_get_profile_unknown_and_env(monkeypatch):
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        get_profile("fast")
    monkeypatch.setenv("AABIGAN_PROFILE", "cpu")
    assert get_profile().name == "cpu"


def test_config_hash_is_stable_and_sensitive():
    a, b = cfg(), cfg()
    assert a.hash == b.hash and a == b
    assert cfg(seed=1).hash != a.hash
    assert RunConfig("thyroid", "aabigan", overrides=(("c", 0.25),)).hash != RunConfig("thyroid", "aabigan").hash
    assert RunConfig("thyroid", "aabigan", profile="cpu").hash != RunConfig("thyroid", "aabigan").hash
    # overrides are order-free
    assert (RunConfig("mnist", overrides=(("c", 0.4), ("epochs", 2))).hash
            == RunConfig("mnist", overrides=(("epochs", 2), ("c", 0.4))).hash)


def test_paper_profile_is_the_papers_protocol():
    p = PROFILES["paper"]
    assert len(p.class_pairs()) == 90 and len(set(p.class_pairs())) == 90
    s = p.method_settings("fmnist", "image")
    assert (s["epochs"], s["batch_size"], s["neg_batch_size"], s["width"]) == (200, 200, 50, 64)
    assert p.method_settings("cifar10", "image")["epochs"] == 1000
    assert p.split_image == {}                       # full data, no subsampling
    # learning rates and targets are the detector's defaults, which are the paper's
    from aabigan import AABiGAN
    d = AABiGAN()
    assert (d.lr_ge, d.lr_d, d.a, d.b) == (1e-4, 2.5e-5, 1.0, 0.0)


def test_grids_cover_the_papers_cells():
    t1 = grid("table1", "paper")
    assert len(t1) == len(set(t1)) == 3 * (4 * 90 + 10)    # at gamma_l = 0 one config per normal class, not per pair
    assert {c.gamma_l for c in t1} == {0.0, 0.01, 0.05, 0.1, 0.2}
    assert all(c.known_classes == () for c in t1 if c.gamma_l == 0)
    t7 = grid("table7", "smoke", datasets=["mnist"])
    ks = sorted({len(c.known_classes) for c in t7})
    assert ks == [0, 1, 2, 3, 5]
    assert all(c.normal_class not in c.known_classes for c in t7)
    assert all(c.gamma_p == 0.1 for c in t7)
    t5 = grid("table5", "smoke")
    assert {c.dataset for c in t5} == {"fmnist"}        # c = 0.75, the default, is set by none: Table 1's runs
    assert {dict(c.overrides).get("c") for c in t5} == {0.25, 0.4, 0.6, None}
    t2 = grid("table2", "cpu")
    assert len(t2) == 6 * 6 * 10 and {c.gamma_l for c in t2} == {0.01}
    assert {c.method for c in grid("table8", "smoke")} >= {"aabigan", "deepsad", "cae", "nda", "ssdgm"}
    with pytest.raises(ValueError, match="unknown grid"):
        grid("table9", "smoke")


def test_grids_leave_methods_that_need_collected_anomalies_out_of_gamma_0_cells():
    """The supervised classifier and SS-DGM cannot train without collected anomalies (they refuse y without a
    1): a grid leaves them out where gamma_l = 0, as the paper's tables do, instead of writing failed rows."""
    methods = ["aabigan", "deepsad", "supervised", "ssdgm"]
    t1 = grid("table1", "cpu", datasets=["mnist"], methods=methods)
    at = {g: {c.method for c in t1 if c.gamma_l == g} for g in (0.0, 0.05)}
    assert at == {0.0: {"aabigan", "deepsad"}, 0.05: set(methods)}
    sweep = grid("gamma_sweep", "cpu", datasets=["thyroid"], methods=methods)
    assert {c.method for c in sweep if c.gamma_l == 0} == {"aabigan", "deepsad"}
    assert {c.method for c in grid("table7", "cpu", datasets=["mnist"], methods=methods)
            if c.gamma_l == 0} == {"aabigan", "deepsad"}


# ------------------------------------------------------------------------------------------ one run
def test_rows_from_history_applies_the_rules():
    h = [{"epoch": 1, "val_auroc_reconstruction": .6, "val_auroc_latent": .9},
         {"epoch": 2, "val_auroc_reconstruction": .8, "val_auroc_latent": .5}]
    test = {1: {"reconstruction": (.5, .1), "latent": (.7, .2)}, 2: {"reconstruction": (.95, .3), "latent": (.4, .1)}}
    rows = {r["rule"]: r for r in rows_from_history(h, test)}
    assert rows["last/reconstruction"]["auroc"] == .95 and rows["last/latent"]["auroc"] == .4
    assert rows["last/latent"]["auprc"] == .1 and "last/features" not in rows
    # val/auto picks epoch 1, latent (val .9) even though the test AUROC is better elsewhere
    assert (rows["val/auto"]["epoch"], rows["val/auto"]["score"], rows["val/auto"]["auroc"]) == (1, "latent", .7)
    # ties in validation AUROC go to the latest epoch; at one epoch, to the score listed first
    tied = [dict(e, val_auroc_reconstruction=1.0, val_auroc_latent=1.0) for e in h]
    best = {r["rule"]: r for r in rows_from_history(tied, test)}["val/auto"]
    assert (best["epoch"], best["score"], best["auroc"]) == (2, "reconstruction", .95)
    # the extra score gets its last-epoch row when it was recorded; an epoch without a record is an error
    with_features = {e: dict(t, features=(.6, .3)) for e, t in test.items()}
    assert {r["rule"]: r for r in rows_from_history(h, with_features)}["last/features"]["auroc"] == .6
    with pytest.raises(ValueError, match=r"no test AUROC was recorded for epochs \[2\]"):
        rows_from_history(h, {1: test[1]})


def test_runner_rows_are_the_test_scores_of_the_selected_networks():
    """A run's rows read the callback's record: last/<score> is the AUROC of the final detector on the test
    split, val/auto that of the detector the paper's rule selects, refitted with the rule."""
    from aabigan.experiments import _build, _split
    from aabigan.scores import auprc, auroc

    cfg = RunConfig("thyroid", "aabigan", 0, (1,), 0.01, 0.0, 0, "smoke")
    rows = {r["rule"]: r for r in run_one(cfg)}
    split, X, y = _split(cfg)
    last = _build(cfg).fit(X, y, eval_set=(split.X_val, split.y_val))
    for s, v in last.score_samples_all(split.X_test).items():
        assert rows[f"last/{s}"]["auroc"] == auroc(split.y_test, v)
        assert rows[f"last/{s}"]["auprc"] == auprc(split.y_test, v)
    paper = _build(cfg).set_params(score="auto", epoch_rule="best_val").fit(X, y, eval_set=(split.X_val, split.y_val))
    assert (rows["val/auto"]["score"], rows["val/auto"]["epoch"]) == (paper.selected_score_, paper.selected_epoch_)
    assert rows["val/auto"]["auroc"] == auroc(split.y_test, paper.decision_function(split.X_test))


def test_rows_from_epochs_applies_the_baselines_rules():
    h = [{"epoch": 1, "loss": 3.0, "val_auroc": .7}, {"epoch": 2, "loss": 2.0, "val_auroc": .9},
         {"epoch": 3, "loss": 1.0, "val_auroc": .8}]
    test = {1: (.99, .5), 2: (.6, .2), 3: (.75, .3)}
    last, chosen = rows_from_epochs(h, test)
    assert (last["rule"], last["epoch"], last["auroc"], last["auprc"]) == ("last", 3, .75, .3)
    # val/epoch picks epoch 2 (val .9), though the test AUROC is best at epoch 1: the test never chooses
    assert (chosen["rule"], chosen["epoch"], chosen["auroc"], chosen["auprc"]) == ("val/epoch", 2, .6, .2)
    # ties in validation AUROC go to the latest epoch
    tied = [dict(e, val_auroc=1.0) for e in h]
    assert rows_from_epochs(tied, test)[1]["epoch"] == 3
    with pytest.raises(ValueError, match="val_auroc"):
        rows_from_epochs([{"epoch": 1, "loss": 1.0}], test)
    with pytest.raises(ValueError, match=r"no test AUROC was recorded for epochs \[4\]"):
        rows_from_epochs(h + [{"epoch": 4, "val_auroc": .5}], test)


def test_expected_rules_per_kind_of_method():
    assert expected_rules(RunConfig("thyroid", "aabigan", gamma_l=0.01)) == set(RULES)
    assert expected_rules(RunConfig("thyroid", "deepsad", gamma_l=0.01)) == set(BASELINE_RULES) == {"last", "val/epoch"}
    assert expected_rules(RunConfig("thyroid", "ocsvm", gamma_l=0.01)) == {"fixed"}
    assert expected_rules(RunConfig("thyroid", "ssad-hybrid", gamma_l=0.01)) == {"fixed"}
    # a baseline run written before the epoch rules (one fixed row) is not done; with both new rows it is
    sad = RunConfig("thyroid", "deepsad", gamma_l=0.01)
    old = [{"config_hash": sad.hash, "status": "ok", "rule": "fixed"}]
    assert pending([sad], old) == [sad]
    assert pending([sad], [dict(old[0], rule=r) for r in BASELINE_RULES]) == []
    assert pending([sad], [dict(old[0], rule="last")]) == [sad]


def test_a_grid_of_baselines_writes_both_rules_and_resumes(tmp_path):
    """run_grid on thyroid (smoke) with Deep SAD, the supervised classifier and OCSVM: the epoch baselines write
    last and val/epoch, OCSVM fixed; a second pass runs nothing; a run left with only its old fixed row (as the
    committed files hold) is trained again and its rows replaced."""
    out = tmp_path / "r.csv"
    configs = grid("table2", "smoke", datasets=["thyroid"], methods=["deepsad", "supervised", "ocsvm"])
    assert len(configs) == 6
    assert run_grid(configs, out, progress=False) == {"done_before": 0, "ran": 6, "failed": 0}
    rows = read_rows(out)
    assert all(r["status"] == "ok" for r in rows)
    rules = {}
    for r in rows:
        rules.setdefault((r["method"], r["seed"]), []).append(r["rule"])
    assert rules == {(m, s): (["fixed"] if m == "ocsvm" else ["last", "val/epoch"])
                     for m in ("deepsad", "supervised", "ocsvm") for s in ("0", "1")}
    for r in rows:
        if r["rule"] in BASELINE_RULES:
            assert 1 <= int(r["epoch"]) <= 5
    assert run_grid(configs, out, progress=False) == {"done_before": 6, "ran": 0, "failed": 0}
    # the file of an older version: deepsad seed 0 has only its fixed row (its last row, renamed)
    sad0 = next(c for c in configs if c.method == "deepsad" and c.seed == 0)
    old = [dict(r, rule="fixed", epoch="") for r in rows if r["config_hash"] == sad0.hash and r["rule"] == "last"]
    out.write_text("")
    from aabigan.store import RUN_SCHEMA, ResultsFile
    with ResultsFile(out, RUN_SCHEMA) as store:
        store.append([dict(r) for r in rows if r["config_hash"] != sad0.hash])
        store.append(old)
    assert [c.hash for c in pending(configs, read_rows(out))] == [sad0.hash]
    assert run_grid(configs, out, progress=False) == {"done_before": 5, "ran": 1, "failed": 0}
    again = read_rows(out)
    assert sorted(r["rule"] for r in again if r["config_hash"] == sad0.hash) == ["last", "val/epoch"]
    assert len(again) == len(rows)
    # the same run, the same numbers: the last row is what the fixed row reported
    assert next(r for r in again if r["config_hash"] == sad0.hash and r["rule"] == "last")["auroc"] == old[0]["auroc"]


def test_run_one_aabigan_rows_carry_provenance():
    rows = run_one(RunConfig("thyroid", "aabigan", gamma_l=0.01, seed=0, profile="smoke"))
    assert [r["rule"] for r in rows] == ["last/reconstruction", "last/latent", "val/auto"]
    for r in rows:
        assert r["status"] == "ok" and set(r) == set(ROW_FIELDS)
        assert 0 <= float(r["auroc"]) <= 1 and 0 <= float(r["auprc"]) <= 1
        assert r["profile"] == "smoke" and r["seed"] == 0 and r["torch_version"] and r["commit"]
        assert json.loads(r["settings"])["epochs"] == PROFILES["smoke"].tabular["epochs"]
        assert r["n_collected"] == round(0.01 * r["n_train_normal"])


def test_unsupervised_method_never_sees_the_collected_anomalies(monkeypatch):
    seen = {}

    class Spy(MeanDistance):
        def fit(self, X, y=None):
            seen["n"], seen["labels"] = len(X), int(np.sum(y))
            return super().fit(X, y)

    register_method(Method("test-spy", "Spy", lambda s: Spy(**s), False, False))
    try:
        row = run_one(RunConfig("thyroid", "test-spy", gamma_l=0.01))[0]
    finally:
        METHODS.pop("test-spy")
    assert row["status"] == "ok" and seen["labels"] == 0 and seen["n"] == row["n_train_normal"]


@pytest.mark.parametrize("config, match", [
    (lambda: cfg(overrides=(("explode", True),)), "FloatingPointError: exploded on purpose"),
    (lambda: RunConfig("arrhythmia", "aabigan", gamma_l=0.9), "asks for .* collected anomalies"),
])
def test_failed_runs_are_recorded_not_raised(config, match):
    rows = run_one(config())
    assert len(rows) == 1 and rows[0]["status"] == "failed" and rows[0]["auroc"] == ""
    assert pytest.importorskip("re").search(match, rows[0]["error"])


def test_a_setting_no_method_has_is_an_error_before_any_run():
    with pytest.raises(ValueError, match="AABiGAN has no setting 'no_such_setting'"):
        RunConfig("thyroid", "aabigan", gamma_l=0.01, overrides=(("no_such_setting", 1),))
    with pytest.raises(ValueError, match="DeepSAD has no setting 'no_such_setting'"):
        RunConfig("thyroid", "deepsad", gamma_l=0.01, overrides=(("no_such_setting", 1),))


def test_a_setting_the_method_lacks_changes_neither_its_run_nor_its_hash():
    plain = RunConfig("thyroid", "deepsad", gamma_l=0.01, profile="cpu")
    ema = RunConfig("thyroid", "deepsad", gamma_l=0.01, profile="cpu", overrides=(("ema_decay", 0.99),))
    assert ema.overrides == () and ema.hash == plain.hash
    assert RunConfig("thyroid", "aabigan", overrides=(("ema_decay", 0.99),)).overrides == (("ema_decay", 0.99),)


def test_rows_record_what_the_baseline_ran():
    """The settings column holds the estimator's own parameters: half the width for Deep SAD's family, no
    AA-BiGAN-only setting; and from_row gives back the config (and its hash) from them."""
    c = RunConfig("mnist", "deepsad", 0, (1,), 0.05, 0.0, 0, "cpu")
    assert c.settings()["width"] == 32 and c.params() == {"batch_size": 64, "epochs": 10, "width": 16}
    wide = RunConfig("mnist", "deepsad", 0, (1,), 0.05, 0.0, 0, "cpu", overrides=(("width", 64),))
    assert wide.params()["width"] == 32
    for config in (c, wide, RunConfig("thyroid", "ssad-hybrid", gamma_l=0.01, profile="cpu")):
        row = {**run_row_fields(config), "settings": json.dumps(config.params())}
        assert RunConfig.from_row(row) == config and RunConfig.from_row(row).hash == config.hash


def run_row_fields(config):
    return {"dataset": config.dataset, "method": config.method, "normal_class": config.normal_class,
            "known_classes": " ".join(map(str, config.known_classes)), "gamma_l": config.gamma_l,
            "gamma_p": config.gamma_p, "seed": config.seed, "profile": config.profile}


def test_diverging_training_is_recorded_as_failed():
    rows = run_one(RunConfig("thyroid", "aabigan", gamma_l=0.01,
                             overrides=(("lr_ge", 1e12), ("lr_d", 1e12), ("epochs", 3))))
    assert rows[0]["status"] == "failed" and "non-finite" in rows[0]["error"]


# ------------------------------------------------------------------------------------------ runner
def test_runner_appends_and_resumes_without_duplicates(tmp_path):
    out = tmp_path / "r.csv"
    configs = [cfg(seed=s) for s in range(3)]
    assert run_grid(configs, out, progress=False) == {"done_before": 0, "ran": 3, "failed": 0}
    rows = read_rows(out)
    assert [int(r["seed"]) for r in rows] == [0, 1, 2]
    assert run_grid(configs + [cfg(seed=3)], out, progress=False) == {"done_before": 3, "ran": 1, "failed": 0}
    assert len(read_rows(out)) == 4
    with open(out, newline="") as fh:
        assert fh.readline().strip().split(",") == ROW_FIELDS


def test_runner_survives_an_interruption(tmp_path):
    out = tmp_path / "r.csv"
    configs = [cfg(seed=0), cfg(seed=1, overrides=(("interrupt", True),)), cfg(seed=2)]
    with pytest.raises(KeyboardInterrupt):
        run_grid(configs, out, progress=False)
    assert [int(r["seed"]) for r in read_rows(out)] == [0]          # the finished row is kept
    fixed = [configs[0], cfg(seed=1), configs[2]]
    assert run_grid(fixed, out, progress=False) == {"done_before": 1, "ran": 2, "failed": 0}
    rows = read_rows(out)
    assert sorted(int(r["seed"]) for r in rows) == [0, 1, 2]
    # a torn last line (the file edited or cut by something else) is an error naming it, never dropped
    with open(out, "a") as fh:
        fh.write("deadbeef,ok,fixed,thyroid")
    with pytest.raises(ValueError, match=r"r\.csv:5: 4 values for 28 columns"):
        run_grid(fixed, out, progress=False)


def test_failed_runs_are_retried_on_the_next_pass(tmp_path):
    out = tmp_path / "r.csv"
    bad = cfg(overrides=(("explode", True),))
    assert run_grid([bad], out, progress=False)["failed"] == 1
    assert run_grid([bad], out, progress=False) == {"done_before": 0, "ran": 1, "failed": 1}
    assert [r["status"] for r in read_rows(out)] == ["failed", "failed"]


# ------------------------------------------------------------------------------------------ tables
def _row(dataset, method, auroc, seed, rule="val/auto", status="ok", gamma_l=0.01):
    return {"status": status, "rule": rule, "dataset": dataset, "method": method, "auroc": auroc, "seed": seed,
            "profile": "cpu", "gamma_l": gamma_l, "gamma_p": 0.0, "k_l": 1, "settings": "{}"}


def test_summary_and_comparison_with_the_paper():
    rows = [_row("thyroid", "aabigan", a, s) for s, a in enumerate([0.9, 0.95, 1.0])]
    rows += [_row("thyroid", "aabigan", 0.1, 9, rule="last/latent"),        # another rule: left out
             _row("thyroid", "aabigan", "", 8, status="failed")]            # a failed run: left out
    (cell,) = compare("table2", rows)
    assert (cell["dataset"], cell["method"], cell["n"]) == ("Thyroid", "AA-BiGAN", 3)
    assert cell["mean"] == 95.0 and cell["std"] == pytest.approx(5.0)
    assert cell["paper"] == "98.9 ± 0.1"
    (cell,) = summarise(rows, ("dataset",), rule="last/latent")
    assert (cell["mean"], cell["std"], cell["n"]) == (10.0, 0.0, 1)


def test_wide_layout_puts_methods_in_columns():
    from aabigan.tables import to_wide
    rows = [_row("thyroid", "aabigan", 0.9, 0), _row("cardio", "aabigan", 0.97, 0),
            {**_row("thyroid", "deepsad", 0.8, 0), "rule": "fixed"}]
    wide, cols = to_wide(compare("table2", rows), "table2")
    assert cols == ["dataset", "AA-BiGAN", "Deep SAD"]
    thy = next(w for w in wide if w["dataset"] == "Thyroid")
    assert thy["AA-BiGAN"] == "90.0 ± 0.0 (98.9 ± 0.1)" and thy["Deep SAD"] == "80.0 ± 0.0 (98.6 ± 0.9)"


def test_ratios_the_paper_does_not_print_keep_their_own_cell():
    rows = [_row("thyroid", "aabigan", 0.9, 0, gamma_l=0.005), _row("thyroid", "aabigan", 0.7, 0, gamma_l=0.01)]
    cells = {c["gamma_l"]: c["mean"] for c in summarise(rows, ("dataset", "gamma_l"))}
    assert cells == {"0.005": 90.0, "0.01": 70.0}


def test_a_cell_never_mixes_settings():
    rows = [_row("thyroid", "aabigan", 0.9, 0), {**_row("thyroid", "aabigan", 0.8, 1), "settings": '{"epochs": 3}'}]
    with pytest.raises(ValueError, match="mixes runs with different settings"):
        summarise(rows, ("dataset", "method"))


def test_cli_run_then_table(tmp_path, capsys):
    out = tmp_path / "cli.csv"
    assert main(["run", "--dataset", "thyroid", "--methods", "test-meandist", "--gamma-l", "0.01",
                 "--seeds", "0-1", "--profile", "smoke", "--out", str(out)]) == 0
    assert len(read_rows(out)) == 2
    assert main(["run", "--dataset", "thyroid", "--methods", "test-meandist", "--gamma-l", "0.01",
                 "--seeds", "0-1", "--profile", "smoke", "--out", str(out), "--dry-run"]) == 0
    assert "2 done, 0 to run" in capsys.readouterr().out
    assert main(["table", "table2", str(out), "--rule", "fixed", "--long"]) == 0
    text = capsys.readouterr().out
    assert "Thyroid" in text and "MeanDist" in text
    assert main(["table", "table2", str(out), "--rule", "fixed"]) == 0      # the paper's layout
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| dataset | MeanDist |" and lines[4].startswith("| Thyroid | ")


def test_cli_rejects_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        main(["run", "--dataset", "thyroid", "--gamma-l", "0.01", "--profile", "nope", "--out", str(tmp_path / "x.csv")])


def test_load_or_train_trains_once_then_loads_with_provenance(tmp_path):
    from aabigan.experiments import load_or_train

    cfg = RunConfig("thyroid", "aabigan", 0, (1,), 0.01, 0.0, 3, "smoke")
    path = tmp_path / "models" / "thyroid.npz"
    trained = load_or_train(cfg, path)
    assert path.is_file() and trained.saved_info_["config_hash"] == cfg.hash
    loaded = load_or_train(cfg, path)           # the second call reads the file, it does not train
    info = loaded.saved_info_
    assert info["profile"] == "smoke" and info["seed"] == 3 and info["commit"] and info["device"].startswith("cpu")
    X = np.random.default_rng(0).random((20, trained.sample_shape_[0])).astype(np.float32)
    np.testing.assert_allclose(loaded.decision_function(X), trained.decision_function(X), rtol=1e-5)
    other = RunConfig("thyroid", "aabigan", 0, (1,), 0.01, 0.0, 4, "smoke")
    with pytest.raises(ValueError, match="delete the file to retrain"):
        load_or_train(other, path)
    with pytest.raises(ValueError, match="not one"):
        load_or_train(RunConfig("thyroid", "ocsvm", 0, (1,), 0.01, 0.0, 0, "smoke"), tmp_path / "o.npz")


def test_run_command_overrides_settings(tmp_path, capsys):
    out = tmp_path / "rows.csv"
    argv = ["run", "--dataset", "thyroid", "--gamma-l", "0.01", "--profile", "smoke", "--seeds", "0",
            "--set", "ema_decay=0.99", "--set", "score=latent", "--out", str(out)]
    assert main(argv + ["--dry-run"]) == 0
    assert "overrides=(('ema_decay', 0.99), ('score', 'latent'))" in capsys.readouterr().out
    assert main(argv) == 0
    rows = read_rows(out)
    assert rows and all(json.loads(r["settings"])["ema_decay"] == 0.99 for r in rows)
    plain = RunConfig("thyroid", "aabigan", 0, (1,), 0.01, 0.0, 0, "smoke")
    assert rows[0]["config_hash"] != plain.hash                 # an override is a different config
    with pytest.raises(SystemExit):
        main(["run", "--dataset", "thyroid", "--gamma-l", "0.01", "--set", "ema_decay", "--out", str(out)])


def test_grid_with_worker_processes_gives_the_rows_of_one_at_a_time(tmp_path):
    """Two worker processes, one thread each: the same rows (numbers included) as the runs one by one."""
    from aabigan.experiments import run_grid

    cfgs = [RunConfig("thyroid", m, 0, (1,), 0.01, 0.0, s, "smoke") for m in ("aabigan", "ocsvm") for s in (0, 1)]
    serial, parallel = tmp_path / "serial.csv", tmp_path / "parallel.csv"
    assert run_grid(cfgs, serial, progress=False)["ran"] == 4
    counts = run_grid(cfgs, parallel, progress=False, workers=2, threads=1)
    assert counts == {"done_before": 0, "ran": 4, "failed": 0}
    key = lambda r: (r["config_hash"], r["rule"])   # noqa: E731
    a, b = sorted(read_rows(serial), key=key), sorted(read_rows(parallel), key=key)
    assert [key(r) for r in a] == [key(r) for r in b]
    np.testing.assert_allclose([float(r["auroc"]) for r in a], [float(r["auroc"]) for r in b], atol=1e-6)
    assert run_grid(cfgs, parallel, progress=False, workers=2)["done_before"] == 4    # resumes as ever
    with pytest.raises(ValueError, match="workers"):
        run_grid(cfgs, parallel, workers=0)


def test_grid_workers_refuse_methods_registered_at_run_time(tmp_path):
    from aabigan.experiments import run_grid

    register_method(Method("mine", "Mine", lambda s: None, uses_labels=False, per_epoch=False))
    try:
        with pytest.raises(ValueError, match="registered at run time"):
            run_grid([RunConfig("thyroid", "mine", 0, (1,), 0.01, 0.0, 0, "smoke")], tmp_path / "x.csv",
                     progress=False, workers=2)
    finally:
        METHODS.pop("mine")


def test_figure_models_read_committed_files_and_train_the_rest(tmp_path):
    from pathlib import Path

    from aabigan.experiments import FIGURE_MODELS, figure_models

    import shutil

    committed = Path(__file__).resolve().parents[1] / "results" / "models"
    models = figure_models(committed, "smoke")
    assert list(models) == list(FIGURE_MODELS)
    assert all(m.saved_info_["profile"] == "cpu" for m in models.values())          # read, not trained
    assert len({m.saved_info_["protocol"] for m in models.values()}) == 1           # one protocol for all
    assert [m.saved_info_["gamma_l"] for m in models.values()] == [0.1, 0.0]
    old = tmp_path / "old"                   # the cpu@1 files, and one file of today's definition only
    old.mkdir()
    for f in committed.glob("*-cpu@1.npz"):
        shutil.copy(f, old / f.name)
    shutil.copy(old / "fmnist-normal0-collected1-gamma0.1-cpu@1.npz", old / "fmnist-normal0-collected1-gamma0.1-cpu.npz")
    assert {m.saved_info_["protocol"] for m in figure_models(old, "smoke").values()} == {"cpu@1"}   # not mixed
    shutil.rmtree(old)
    trained = figure_models(tmp_path, "smoke")                   # nothing there: trained in the smoke profile
    assert all(m.saved_info_["profile"] == "smoke" for m in trained.values())
    assert not list(tmp_path.iterdir())                          # and never saved beside committed files


@pytest.mark.parametrize("mean, expected", [(99.0, "above"), (98.9, "within ± std"), (98.8, "within ± std"),
                                            (98.84, "within ± std"), (98.75, "within ± std"), (98.74, "below"),
                                            (77.3, "below")])
def test_versus_paper_compares_at_one_decimal(mean, expected):
    assert versus_paper(mean, {"mean": "98.9", "std": "0.1"}) == expected


def test_read_rows_of_a_missing_file_is_empty(tmp_path):
    assert read_rows(tmp_path / "not-yet-written.csv") == []


def test_a_learning_curve_run_writes_one_row_per_epoch_and_resumes(tmp_path):
    from aabigan.store import CURVE_FIELDS

    out = tmp_path / "curves.csv"
    c = RunConfig("thyroid", "aabigan", gamma_l=0.01, profile="smoke", overrides=(("epochs", 3),))
    assert run_grid([c], out, progress=False, report="curve") == {"done_before": 0, "ran": 1, "failed": 0}
    rows = read_rows(out)
    assert list(rows[0]) == CURVE_FIELDS and [int(r["epoch"]) for r in rows] == [1, 2, 3]
    steps = [int(r["steps"]) for r in rows]
    assert steps[0] > 0 and steps == [steps[0] * e for e in (1, 2, 3)]
    assert all(0 <= float(r[f"{p}_auroc_{s}"]) <= 1 for r in rows for p in ("val", "test")
               for s in ("reconstruction", "latent"))
    assert run_grid([c], out, progress=False, report="curve")["done_before"] == 1
    with pytest.raises(ValueError, match="header"):                 # a curve file is not a file of rule rows
        run_grid([c], out, progress=False)


def test_the_convergence_grid_uses_the_full_data_and_the_studied_schedule():
    g = grid("convergence")
    assert {c.profile for c in g} == {"paper"} and {c.gamma_l for c in g} == {0.05}
    assert [dict(c.overrides)["width"] for c in g] == [16] * 7 + [32] * 7      # the cheaper width first
    assert sum(c.dataset == "cifar10" for c in g) == 2
    assert all(c.settings()["min_steps"] == 6000 and c.settings()["batch_size"] == 64 for c in g)


def test_grid_on_a_dask_local_cluster_gives_the_rows_of_one_at_a_time(tmp_path):
    """Two one-thread Dask workers (a LocalCluster) train the runs; this process writes the rows: the same
    rows, numbers included, as one at a time, and the grid resumes as ever."""
    pytest.importorskip("distributed")
    from aabigan.experiments import dask_executor

    cfgs = [RunConfig("thyroid", m, 0, (1,), 0.01, 0.0, s, "smoke") for m in ("aabigan", "ocsvm") for s in (0, 1)]
    serial, remote = tmp_path / "serial.csv", tmp_path / "dask.csv"
    run_grid(cfgs, serial, progress=False)
    executor, client = dask_executor("local", workers=2)
    try:
        assert run_grid(cfgs, remote, progress=False, executor=executor, threads=1)["ran"] == 4
        assert run_grid(cfgs, remote, progress=False, executor=executor)["done_before"] == 4
    finally:
        client.close()
        client.cluster.close()
    key = lambda r: (r["config_hash"], r["rule"])   # noqa: E731
    a, b = sorted(read_rows(serial), key=key), sorted(read_rows(remote), key=key)
    assert [key(r) for r in a] == [key(r) for r in b]
    np.testing.assert_allclose([float(r["auroc"]) for r in a], [float(r["auroc"]) for r in b], atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(known_classes=("3",)), "known_classes must be"),
    (dict(known_classes=(1.5,)), "known_classes must be"),
    (dict(normal_class=0.5), "normal_class must be"),
    (dict(seed=-1), "seed must be"),
])
def test_config_classes_and_seeds_are_integers_not_coerced(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        RunConfig(**{"dataset": "mnist", "gamma_l": 0.05, **kwargs})


@pytest.mark.parametrize("width", [0, 1.7, "8"])
def test_a_bad_width_is_an_error_before_it_is_halved(width):
    with pytest.raises((TypeError, ValueError), match="width must be a positive integer"):
        RunConfig("mnist", "deepsad", 0, (1,), 0.05, 0.0, 0, "cpu", overrides=(("width", width),))


def test_cli_runs_a_grid_on_a_local_dask_cluster_and_lists_pending_curves(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "d.csv"
    args = ["run", "--dataset", "thyroid", "--gamma-l", "0.01", "--methods", "ocsvm", "--seeds", "0-1",
            "--profile", "smoke", "--out", str(out)]
    assert main(args + ["--dask", "local", "--workers", "1"]) == 0
    assert sorted(r["seed"] for r in read_rows(out)) == ["0", "1"]
    assert main(args + ["--dry-run"]) == 0 and "2 configs, 2 done, 0 to run" in capsys.readouterr().out
    curves = tmp_path / "c.csv"
    assert main(["run", "--dataset", "thyroid", "--gamma-l", "0.01", "--report", "curve", "--dry-run",
                 "--out", str(curves)]) == 0
    assert "1 configs, 0 done, 1 to run" in capsys.readouterr().out


def test_image_grid_stacks_the_pairs_of_a_cell_and_gives_the_rows_of_one_at_a_time(tmp_path):
    """--stack on an image grid: the class pairs of one cell train as one stack (aabigan.stacked) with
    dropout off, and give the rows, numbers included, of the runs one by one."""
    cfgs = [RunConfig("mnist", "aabigan", n, (k,), 0.05, 0.0, 0, "smoke", (("dropout", 0.0), ("width", 4)))
            for n, k in ((0, 1), (1, 2), (2, 3))]
    serial, stacked = tmp_path / "serial.csv", tmp_path / "stacked.csv"
    run_grid(cfgs, serial, progress=False)
    assert run_grid(cfgs, stacked, progress=False, stack=3)["ran"] == 3
    key = lambda r: (r["config_hash"], r["rule"])   # noqa: E731
    a, b = sorted(read_rows(serial), key=key), sorted(read_rows(stacked), key=key)
    assert [key(r) for r in a] == [key(r) for r in b] and all(r["status"] == "ok" for r in b)
    # grouped convolutions sum in another order: the weights agree to float noise (tests/test_stacked.py checks
    # them), which can swap the rank of a close pair of test images -- an AUROC step far below 1e-3
    np.testing.assert_allclose([float(r["auroc"]) for r in a], [float(r["auroc"]) for r in b], atol=1e-3)


def test_cli_table_shows_tables_2_and_8_under_both_rules(capsys):
    from aabigan.paths import results_dir

    files = [str(results_dir() / n) for n in ("odds-cpu.csv", "odds-baselines-cpu.csv")]
    assert main(["table", "table2", *files, "--profile", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "label-free / validation" in out and "Deep SAD" in out and any(m in out for m in "▲≈▼")
    assert main(["table", "table2", *files, "--profile", "cpu", "--long"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| Thyroid | AA-BiGAN |")]
    assert len(lines) == 1 and lines[0].count("±") == 3          # label-free, validation, paper


def test_without_its_labels_aabigan_trains_on_the_gamma_l_zero_data():
    """AA-BiGAN without the collected anomalies (aabigan-unsup) at gamma_l > 0 leaves them out of training: it
    trains on exactly the normal images of the gamma_l = 0 run of its normal class, so that run, paired by
    normal class and seed, is its reading (no separate grid needed); only the evaluation split is drawn anew."""
    from aabigan.experiments import _split

    zero = _split(RunConfig("mnist", "aabigan", 3, (), 0.0, 0.0, 0, "smoke"))
    for gamma_l in (0.01, 0.05, 0.2):
        unsup = _split(RunConfig("mnist", "aabigan-unsup", 3, (4,), gamma_l, 0.0, 0, "smoke"))
        aware = _split(RunConfig("mnist", "aabigan", 3, (4,), gamma_l, 0.0, 0, "smoke"))
        np.testing.assert_array_equal(unsup[1], zero[1])
        assert not np.any(unsup[2]) and np.any(aware[2])                # no collected anomaly left in training
        np.testing.assert_array_equal(aware[1][aware[2] == 0], zero[1])  # the normals are the same images


@pytest.mark.parametrize("profile, overrides, dataset, warns", [
    ("cpu", (), "fmnist", False),                    # the schedule the learning-curve study measured
    ("cpu", (("epochs", 1),), "fmnist", True),       # a schedule nobody measured
    ("cpu@1", (), "fmnist", True),                   # the superseded one, measured to be too short
    ("cpu", (), "thyroid", True),                    # ODDS: no study of its own
    ("smoke", (("epochs", 1),), "mnist", False)])    # short on purpose, always
def test_only_runs_short_on_purpose_do_not_warn_that_they_are(profile, overrides, dataset, warns):
    import warnings

    from aabigan.detector import ShortFitWarning
    from aabigan.experiments import _fit

    class Short:                                     # an estimator whose fit is short
        def fit(self, X, y):
            warnings.warn("this fit trains only 1 step", ShortFitWarning)

    cfg = RunConfig(dataset, "aabigan", 0, (1,), 0.05, 0.0, 0, profile, overrides)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(Short(), None, None, None, per_epoch=False, cfg=cfg)
    assert any(issubclass(w.category, ShortFitWarning) for w in caught) == warns
