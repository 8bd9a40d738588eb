"""Fréchet Inception Distance: the closed form, its numerics, the feature networks and the Table 4 run."""
from __future__ import annotations

import dataclasses
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg

import aabigan.fid as fidmod
from aabigan import AABiGAN
from aabigan.data import load_images, to_model_input
from aabigan.fid import (FID_FIELDS, InceptionFeatures, InceptionWeightsError, StandInFeatures,
                         activation_statistics, fid, fid_row, frechet_distance, nine_class_data, summarise_fid)


def _flat(x):
    """Identity features: the pixels themselves."""
    return x.flatten(1)


@pytest.fixture(scope="module")
def mnist_test():
    """600 MNIST test images as model input (n, 3, 32, 32) in [0, 1]."""
    X, _ = load_images("mnist", False)
    return to_model_input(np.array(X[:600]))     # a copy: the parsed IDX array is read-only


@pytest.fixture(scope="module")
def features():
    return StandInFeatures()


# -------------------------------------------------------------------------------------- the formula
def test_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    by_hand = np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(by_hand, rel=1e-10)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)


def test_closed_form_for_full_covariances():
    """Tr((S1 S2)^1/2) = Tr((S1^1/2 S2 S1^1/2)^1/2), the symmetric form, for non-commuting S1, S2."""
    rng = np.random.default_rng(1)
    d = 5
    A, B = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = A @ A.T + 0.1 * np.eye(d), B @ B.T + 0.1 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    r1 = linalg.sqrtm(s1).real
    w = np.linalg.eigvalsh(r1 @ s2 @ r1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(w, 0, None)))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-8)


def test_sampled_gaussians_approach_the_closed_form():
    """fid() on samples of two Gaussians (identity features) is close to their distance."""
    rng = np.random.default_rng(2)
    n, mu1, mu2 = 20000, np.array([0.2, 0.5, 0.5, 0.8]), np.array([0.5, 0.5, 0.3, 0.6])
    a, b = np.array([0.01, 0.02, 0.04, 0.01]), np.array([0.03, 0.01, 0.01, 0.02])
    xa = (mu1 + rng.normal(size=(n, 4)) * np.sqrt(a)).reshape(n, 1, 2, 2)
    xb = (mu2 + rng.normal(size=(n, 4)) * np.sqrt(b)).reshape(n, 1, 2, 2)
    by_hand = np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    assert fid(xa, xb, _flat, batch_size=5000) == pytest.approx(by_hand, rel=0.03)


def test_singular_covariances_stay_finite():
    """Fewer samples than dimensions: a singular product; the eps ridge keeps the result finite."""
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 1
    mu_a, s_a = xa.mean(0), np.cov(xa, rowvar=False)
    mu_b, s_b = xb.mean(0), np.cov(xb, rowvar=False)
    value = frechet_distance(mu_a, s_a, mu_b, s_b)
    assert np.isfinite(value) and value > np.sum((mu_a - mu_b) ** 2) - 1e-6


def test_bad_statistics_are_rejected():
    with pytest.raises(ValueError, match="imaginary component"):
        frechet_distance([0, 0], np.diag([-1.0, 1.0]), [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="covariances must be 2 x 2"):
        frechet_distance([0, 0], np.eye(3), [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="non-finite"):
        frechet_distance([0, np.nan], np.eye(2), [0, 0], np.eye(2))
    with pytest.raises(ValueError, match="shape"):
        activation_statistics(np.zeros((4, 32, 32)), _flat)
    with pytest.raises(ValueError, match="at least 2 images"):
        activation_statistics(np.zeros((1, 1, 32, 32)), _flat)


# ---------------------------------------------------------------------------------- with image sets
def test_fid_of_a_set_with_itself_is_zero(mnist_test, features):
    assert abs(fid(mnist_test[:200], mnist_test[:200], features)) < 1e-8


def test_fid_is_symmetric(mnist_test, features):
    a, b = mnist_test[:200], mnist_test[200:400]
    assert fid(a, b, features) == pytest.approx(fid(b, a, features), rel=1e-9)
    assert fid(a, b, features) > 0


def test_fid_grows_with_a_shift(mnist_test, features):
    """Brightening one set more and more moves it away from another sample of the same digits."""
    a, b = mnist_test[:300], mnist_test[300:600]
    values = [fid(a, np.clip(b + s, 0, 1), features) for s in (0.0, 0.1, 0.2, 0.4)]
    assert all(x < y for x, y in zip(values, values[1:])), values


def test_stand_in_features_are_deterministic_and_leave_the_global_rng_alone(mnist_test):
    state = torch.get_rng_state()
    f1, f2 = StandInFeatures(seed=0), StandInFeatures(seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    x = torch.as_tensor(mnist_test[:8])
    assert torch.equal(f1(x), f2(x))
    assert f1(x).shape == (8, f1.dim)
    assert torch.allclose(f1(x[:, :1]), f1(x))                       # grey = the same image in 3 channels
    assert not torch.allclose(StandInFeatures(seed=1)(x), f1(x))


# ---------------------------------------------------------------------------------------- Inception
def test_offline_inception_raises_a_clear_error(monkeypatch, mnist_test):
    def offline():
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fidmod, "_load_inception", offline)
    with pytest.raises(InceptionWeightsError) as err:
        fid(mnist_test[:4], mnist_test[4:8])
    msg = str(err.value)
    assert "FID needs the Inception-v3 weights" in msg
    assert "could not be downloaded" in msg
    assert torch.hub.get_dir() in msg and "inception_v3_google" in msg


def test_inception_wiring_with_untrained_weights(monkeypatch):
    """The pipeline around the network (grey -> RGB, resize to 299, pool features), without a download."""
    from torchvision.models import inception_v3

    monkeypatch.setattr(fidmod, "_load_inception",
                        lambda: inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False))
    net = InceptionFeatures("cpu")
    x = torch.rand(2, 1, 32, 32)
    out = net(x)
    assert out.shape == (2, 2048) and torch.isfinite(out).all()
    assert torch.allclose(out, net(x.expand(-1, 3, -1, -1)))
    assert not net.net.training and not any(p.requires_grad for p in net.parameters())


# ------------------------------------------------------------------------------------- the Table 4 run
def test_nine_class_data_leaves_the_anomaly_class_out():
    Xtr, Xref, ytr, yref = nine_class_data("mnist", 3, seed=0, max_train=100, max_reference=50, return_labels=True)
    assert Xtr.shape == (100, 3, 32, 32) and Xref.shape == (50, 3, 32, 32)
    assert 3 not in ytr and 3 not in yref and len(np.unique(ytr)) == 9
    assert Xtr.min() >= 0 and Xtr.max() <= 1
    again = nine_class_data("mnist", 3, seed=0, max_train=100, max_reference=50)
    assert np.array_equal(again[0], Xtr) and np.array_equal(again[1], Xref)
    with pytest.raises(ValueError, match="image datasets"):
        nine_class_data("thyroid", 0)
    with pytest.raises(ValueError, match="anomaly_class"):
        nine_class_data("mnist", 10)


def test_fid_row_smoke(features):
    rows = {rule: fid_row("mnist", 3, "smoke", seed=0, feature_fn=features, rule=rule, max_train=64,
                          max_reference=64) for rule in ("best", "last")}
    for rule, row in rows.items():
        assert list(row) == FID_FIELDS
        assert row["status"] == "ok" and row["profile"] == "smoke" and row["seed"] == 0 and row["dataset"] == "mnist"
        assert row["anomaly_class"] == 3 and row["epochs"] == 1 and row["epoch"] == 1 and row["rule"] == rule
        assert row["n_train"] == 64 and row["n_reference"] == row["n_generated"] == 64
        assert np.isfinite(row["fid"]) and row["fid"] > 0 and row["fid"] == row["fid_last"]
        assert 0 <= row["fid_real"] < row["fid"]           # real images are closer than a 1-epoch generator
        assert row["feature_net"] == features.name and row["feature_dim"] == features.dim
        assert row["torch_version"] and row["torchvision_version"] and row["commit"]
    # scoring every epoch ("best") leaves the training untouched: the last epoch's FID is the same
    assert rows["best"]["fid_last"] == rows["last"]["fid_last"]


def test_fid_row_best_is_the_lowest_over_the_epochs(features):
    row = fid_row("mnist", 3, "smoke", seed=1, feature_fn=features, epochs=3, max_train=32, max_reference=48)
    assert row["epochs"] == 3 and row["epoch"] in (1, 2, 3) and row["fid"] <= row["fid_last"]
    assert '"epochs": 3' in row["settings"]


def test_fid_row_rejects_an_unknown_rule(features):
    with pytest.raises(ValueError, match="unknown rule"):
        fid_row("mnist", 3, "smoke", feature_fn=features, rule="first")


def test_generated_images_are_the_detector_samples():
    X = np.random.default_rng(0).random((32, 3, 32, 32)).astype(np.float32)
    det = AABiGAN(epochs=1, width=8, batch_size=16, random_state=0).fit(X)
    ours = fidmod._generate(det.generator_, det.nets_.latent_dim, 20, 5, det.device_, batch=7)
    np.testing.assert_allclose(ours, det.sample(20, seed=5), atol=1e-6)


def test_summarise_fid_sets_the_paper_beside_ours():
    rows = [{"status": "ok", "dataset": "mnist", "feature_net": "n", "profile": "smoke", "fid": v} for v in (1.0, 3.0)]
    rows.append({"status": "failed", "dataset": "mnist", "feature_net": "n", "profile": "smoke", "fid": ""})
    (out,) = summarise_fid(rows)
    assert out["dataset"] == "MNIST" and out["n"] == 2
    assert out["ours"] == f"2.0 ± {np.std([1.0, 3.0], ddof=1):.1f}"
    assert out["paper"] == "8.9 ± 1.0"


# ------------------------------------------------------------------ offline features and the Table 4 grid
@pytest.fixture(scope="module")
def small_classifier():
    return fidmod.ClassifierFeatures("mnist", seed=0, max_train=2048, epochs=2)


def test_classifier_features_separate_the_classes(small_classifier, mnist_test):
    """Trained on 2048 images for two epochs, it already beats chance (10 %) by far on the test split."""
    assert small_classifier.accuracy > 0.5
    f = small_classifier(torch.as_tensor(mnist_test[:50]))
    assert f.shape == (50, 128) and torch.isfinite(f).all() and (f >= 0).all()
    assert small_classifier.name == "classifier-mnist-128d-n2048-e2-seed0"
    # the same seed gives the same network, and building one leaves the global RNG alone
    state = torch.get_rng_state()
    again = fidmod.ClassifierFeatures("mnist", seed=0, max_train=2048, epochs=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(again(torch.as_tensor(mnist_test[:50])), f)


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_classifier_fid_ranks_real_above_noise(small_classifier, mnist_test):
    """Held-out MNIST images are closer to MNIST than blurred-noise images are."""
    real_a, real_b = mnist_test[:300], mnist_test[300:600]
    noise = np.random.default_rng(0).random(real_b.shape).astype(np.float32)
    assert fid(real_a, real_b, small_classifier) < 0.2 * fid(real_a, noise, small_classifier)


def test_classifier_features_reject_bad_input():
    with pytest.raises(ValueError, match="image dataset"):
        fidmod.ClassifierFeatures("thyroid")
    with pytest.raises(ValueError, match="max_train"):
        fidmod.ClassifierFeatures("mnist", max_train=10)


def test_fid_row_objectives(features):
    row = fid_row("mnist", 3, "smoke", seed=0, feature_fn=features, rule="last", max_train=64, max_reference=64,
                  objective="bigan")
    assert row["objective"] == "bigan" and '"objective": "bigan"' in row["settings"]
    with pytest.raises(ValueError, match="unknown objective"):
        fid_row("mnist", 3, "smoke", feature_fn=features, objective="wgan")


SMALL = (("max_train", 48), ("max_reference", 48))


@pytest.fixture
def trainings(monkeypatch):
    """The configs the runner trains, in order (each FID experiment, counted)."""
    calls = []
    real = fidmod._fid_experiment

    def counted(cfg, *args, **kwargs):
        calls.append(cfg)
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(fidmod, "_fid_experiment", counted)
    return calls


def test_run_fid_appends_resumes_and_summarises(tmp_path, trainings):
    out = tmp_path / "fid.csv"
    counts = fidmod.run_fid(["mnist"], [1, 2], out, objectives=("aa", "bigan"), profile="smoke",
                            features="stand-in", progress=False, overrides=SMALL)
    assert counts == {"done_before": 0, "ran": 4, "failed": 0} and len(trainings) == 4
    again = fidmod.run_fid(["mnist"], [1, 2, 3], out, objectives=("aa", "bigan"), profile="smoke",
                           features="stand-in", progress=False, overrides=SMALL)
    assert again == {"done_before": 4, "ran": 2, "failed": 0} and len(trainings) == 6
    from aabigan.experiments import read_rows
    rows = read_rows(out)
    assert len(rows) == 6 and list(rows[0]) == FID_FIELDS and all(r["status"] == "ok" for r in rows)
    assert [r["config_hash"] for r in rows] == [c.hash for c in trainings]
    assert all(fidmod.FidConfig.from_row(r).hash == r["config_hash"] for r in rows)
    table = summarise_fid(rows)
    assert [(t["method"], t["n"], t["paper_method"]) for t in table] == [("AA-BiGAN", 3, "AA-BiGAN"),
                                                                         ("BiGAN", 3, "GAN")]
    assert table[1]["paper"] == "9.8 ± 0.9"
    assert float(table[0]["real"]) == pytest.approx(np.mean([float(r["fid_real"]) for r in rows if r["objective"] == "aa"]), abs=0.06)


def test_a_second_run_over_the_same_configs_trains_nothing(tmp_path, trainings):
    out = tmp_path / "fid.csv"
    args = dict(objectives=("aa",), profile="smoke", features="stand-in", progress=False, overrides=SMALL)
    fidmod.run_fid(["mnist"], [4], out, **args)
    before = out.read_bytes()
    assert fidmod.run_fid(["mnist"], [4], out, **args) == {"done_before": 1, "ran": 0, "failed": 0}
    assert len(trainings) == 1 and out.read_bytes() == before


def test_a_changed_setting_runs_again_and_the_mixed_cell_is_refused(tmp_path, trainings, monkeypatch):
    out = tmp_path / "fid.csv"
    args = dict(profile="smoke", features="stand-in", progress=False, overrides=SMALL)
    fidmod.run_fid(["mnist"], [4], out, **args)
    real = fidmod.get_profile       # the smoke profile now trains its FID runs for 2 epochs, not 1
    monkeypatch.setattr(fidmod, "get_profile",
                        lambda name=None: dataclasses.replace(real(name), fid_epochs={"mnist": 2}))
    assert fidmod.run_fid(["mnist"], [4], out, **args) == {"done_before": 0, "ran": 1, "failed": 0}
    from aabigan.experiments import read_rows
    rows = read_rows(out)
    assert [r["epochs"] for r in rows] == ["1", "2"] and rows[0]["config_hash"] != rows[1]["config_hash"]
    with pytest.raises(ValueError, match=r"cell .*'MNIST'.*'aa'.* mixes runs with different settings"):
        summarise_fid(rows)
    assert len(summarise_fid(rows[1:])) == 1
    # an override changes the hash too; the same override given again is the same config
    a, b = fidmod.fid_grid(["mnist"], [4], overrides=SMALL), fidmod.fid_grid(["mnist"], [4], overrides=SMALL[:1])
    assert a[0].hash != b[0].hash and a[0].hash == fidmod.fid_grid(["mnist"], [4], overrides=SMALL[::-1])[0].hash


def test_summarise_fid_refuses_other_rules_or_image_counts_in_one_cell():
    base = {"status": "ok", "dataset": "mnist", "objective": "aa", "feature_net": "f", "fid": "3", "fid_real": "1",
            "profile": "cpu", "settings": "{}", "rule": "best", "n_train": "1000", "n_reference": "2000"}
    assert summarise_fid([base, {**base, "fid": "5"}])[0]["n"] == 2
    for change in ({"rule": "last"}, {"n_train": "500"}, {"n_reference": "100"}):
        with pytest.raises(ValueError, match="mixes runs with different settings"):
            summarise_fid([base, {**base, **change}])


def test_a_second_fid_runner_on_one_file_is_refused_before_it_trains(tmp_path, trainings):
    from aabigan.store import FID_SCHEMA, ResultsFile, ResultsLockedError

    out = tmp_path / "fid.csv"
    with ResultsFile(out, FID_SCHEMA):
        with pytest.raises(ResultsLockedError, match="another runner"):
            fidmod.run_fid(["mnist"], [4], out, profile="smoke", features="stand-in", progress=False)
    assert trainings == []


def test_fid_configs_go_through_the_grid_runner(tmp_path, trainings):
    from aabigan.experiments import RunConfig, pending, run_grid

    out = tmp_path / "fid.csv"
    cfgs = fidmod.fid_grid(["mnist"], [5, 5], profile="smoke", features="stand-in", overrides=SMALL)
    assert len(cfgs) == 2 and cfgs[0] == cfgs[1]                  # duplicates are one config
    assert run_grid(cfgs, out, progress=False, report="fid") == {"done_before": 0, "ran": 1, "failed": 0}
    from aabigan.experiments import read_rows
    assert pending(cfgs, read_rows(out), "fid") == []
    with pytest.raises(TypeError, match="FidConfig"):
        run_grid([RunConfig("thyroid")], out, progress=False, report="fid")
    with pytest.raises(TypeError, match="RunConfig"):
        run_grid(cfgs, tmp_path / "runs.csv", progress=False)
    assert len(trainings) == 1


def test_fid_config_checks_its_fields():
    cfg = fidmod.FidConfig("MNIST", 3, profile="cpu")
    assert cfg.dataset == "mnist" and cfg.feature_net == "classifier-mnist-128d-n10000-e2-seed0"
    assert cfg.settings() == {"batch_size": 64, "epochs": 20, "neg_batch_size": 16, "width": 16}
    assert cfg.data_args() == {"max_train": 1000, "max_reference": 2000}
    assert fidmod.FidConfig("mnist", 3, profile="paper").settings()["epochs"] == 20      # Supp. F, not 200
    assert fidmod.FidConfig("cifar10", 3, profile="paper").settings()["epochs"] == 100
    # "classifier" and the name it resolves to are one config
    assert cfg.hash == dataclasses.replace(cfg, features=cfg.feature_net).hash
    for bad, match in ((dict(anomaly_class=10), "anomaly_class"), (dict(objective="wgan"), "unknown objective"),
                       (dict(rule="first"), "unknown rule"), (dict(features=" "), "unknown features"),
                       (dict(dataset="thyroid"), "image datasets"), (dict(overrides=(("widht", 8),)), "widht"),
                       (dict(overrides=(("max_train", 1),)), "at least 2")):
        with pytest.raises(ValueError, match=match):
            dataclasses.replace(cfg, **bad)
    with pytest.raises(ValueError, match="unknown features"):
        fidmod.fid_grid(["mnist"], [3], features="vgg")
    (row,) = fidmod.run_one_fid(dataclasses.replace(cfg, features="vgg"))     # a name it cannot build: a failed row
    assert row["status"] == "failed" and "cannot build" in row["error"]


def test_the_fid_protocol_constants_live_in_the_profiles():
    from aabigan.profiles import FID_CLASSIFIER, PROFILES

    # the cpu profile's image schedule moved (issue 13); its FID runs keep 20 epochs on 1000 + 2000 images
    cpu_fid = {"mnist": 20, "fmnist": 20, "cifar10": 20}
    assert fidmod.FID_EPOCHS == {"cpu": cpu_fid, "paper": {"mnist": 20, "fmnist": 20, "cifar10": 100}}
    assert {n: p.fid_epochs for n, p in PROFILES.items()} == {"smoke": {}, **fidmod.FID_EPOCHS}
    assert {n: p.fid_data for n, p in PROFILES.items()} == {
        "smoke": {"max_train": 128, "max_reference": 250}, "cpu": {"max_train": 1000, "max_reference": 2000},
        "paper": {}}
    assert dict(FID_CLASSIFIER) == {"max_train": 10000, "epochs": 2, "seed": 0}


def test_committed_fid_rows_are_their_configs_and_all_done():
    """Every committed FID row's hash is what its config gives now, and the grid that wrote them finds every
    cell done (checked without training: :func:`pending`)."""
    from aabigan.experiments import pending, read_rows
    from aabigan.migrations import fid_config_hash

    path = Path(__file__).resolve().parents[1] / "results" / "fid-cpu.csv"
    rows = read_rows(path)
    assert len(rows) == 30 and all(r["status"] == "ok" for r in rows)
    assert all(fidmod.FidConfig.from_row(r).hash == r["config_hash"] for r in rows)
    configs = fidmod.fid_grid(["mnist"], range(10), ("aa", "lsgan", "bigan"), "cpu", features="classifier")
    assert sorted(c.hash for c in configs) == sorted(r["config_hash"] for r in rows)
    assert pending(configs, rows, "fid") == []
    before = path.read_bytes()
    assert fid_config_hash(path) == 0 and path.read_bytes() == before     # the migration checks and keeps them
    assert len(summarise_fid(rows)) == 3


def test_the_fid_config_hash_migration(tmp_path):
    import csv

    from aabigan.experiments import read_rows
    from aabigan.migrations import FID_SCHEMA_BEFORE_HASH, fid_config_hash

    committed = read_rows(Path(__file__).resolve().parents[1] / "results" / "fid-cpu.csv")
    old = tmp_path / "fid.csv"

    def write(rows):
        with open(old, "w", newline="") as fh:
            w = csv.DictWriter(fh, FID_SCHEMA_BEFORE_HASH.fields, lineterminator="\n", extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    write(committed[:3] + committed[-2:])
    assert fid_config_hash(old) == 5
    assert [dict(r) for r in read_rows(old)] == [dict(r) for r in committed[:3] + committed[-2:]]
    assert fid_config_hash(old) == 0
    write([{**committed[0], "epochs": "7"}])                # a row its config does not give back
    before = old.read_bytes()
    with pytest.raises(ValueError, match="epochs, n_train, n_reference"):
        fid_config_hash(old)
    assert old.read_bytes() == before


def test_run_fid_records_a_failure_and_rejects_bad_names(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("diverged")

    monkeypatch.setattr(fidmod, "_fid_experiment", broken)
    out = tmp_path / "fid.csv"
    counts = fidmod.run_fid(["mnist"], [1], out, profile="smoke", features="stand-in", progress=False)
    assert counts["failed"] == 1
    from aabigan.experiments import read_rows
    (row,) = read_rows(out)
    assert row["status"] == "failed" and "diverged" in row["error"] and row["fid"] == ""
    assert row["config_hash"] == fidmod.fid_grid(["mnist"], [1], profile="smoke", features="stand-in")[0].hash
    assert summarise_fid([row]) == []
    monkeypatch.undo()
    assert fidmod.run_fid(["mnist"], [1], out, profile="smoke", features="stand-in", progress=False,
                          overrides=()) == {"done_before": 0, "ran": 1, "failed": 0}   # a failed cell runs again
    with pytest.raises(ValueError, match="unknown features"):
        fidmod.run_fid(["mnist"], [1], out, features="vgg")
    with pytest.raises(ValueError, match="unknown objective"):
        fidmod.run_fid(["mnist"], [1], out, objectives=("wgan",), features="stand-in")


def test_fid_command_line(tmp_path, monkeypatch, capsys):
    from aabigan.__main__ import main

    monkeypatch.setattr(fidmod, "nine_class_data", lambda *a, **k: real_nine(*a[:3], 40, 40))
    real_nine = nine_class_data
    out = tmp_path / "fid.csv"
    assert main(["fid", "--dataset", "mnist", "--classes", "4", "--features", "stand-in", "--profile", "smoke",
                 "--objectives", "aa,lsgan", "--out", str(out)]) == 0
    assert "2 cells (0 failed)" in capsys.readouterr().out
    assert main(["table", "table4", str(out)]) == 0
    text = capsys.readouterr().out
    assert "LS-BiGAN" in text and "AA-BiGAN" in text and "7.8 ± 0.6" in text   # the paper's MNIST LSGAN


def test_fid_dry_run_finds_the_committed_cells_done(capsys):
    from aabigan.__main__ import main

    path = Path(__file__).resolve().parents[1] / "results" / "fid-cpu.csv"
    assert main(["fid", "--dataset", "mnist", "--objectives", "aa,lsgan,bigan", "--features", "classifier",
                 "--profile", "cpu", "--out", str(path), "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == "30 cells, 30 done, 0 to run"
    assert main(["fid", "--dataset", "mnist,fmnist", "--classes", "0", "--features", "classifier", "--profile", "cpu",
                 "--rule", "last", "--out", str(path), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("2 cells, 0 done, 2 to run")


def test_fid_cells_run_in_worker_processes(tmp_path):
    out = tmp_path / "fid.csv"
    args = dict(profile="smoke", features="stand-in", progress=False, overrides=SMALL, workers=2)
    assert fidmod.run_fid(["mnist"], [1, 2], out, **args) == {"done_before": 0, "ran": 2, "failed": 0}
    assert fidmod.run_fid(["mnist"], [1, 2], out, **args) == {"done_before": 2, "ran": 0, "failed": 0}
    from aabigan.experiments import read_rows
    assert sorted(r["config_hash"] for r in read_rows(out)) == sorted(
        c.hash for c in fidmod.fid_grid(["mnist"], [1, 2], profile="smoke", features="stand-in", overrides=SMALL))
