"""aabigan.selection: the one implementation of the selection rules (detector and runner alike)."""
import pytest

from aabigan.selection import RULES, aabigan_rules, best_epoch, recorded_scores, select

H = [{"epoch": 1, "val_auroc_reconstruction": 0.7, "val_auroc_latent": 0.9},
     {"epoch": 2, "val_auroc_reconstruction": 0.9, "val_auroc_latent": 0.6},
     {"epoch": 3, "val_auroc_reconstruction": 0.9, "val_auroc_latent": 0.8},
     {"epoch": 4, "val_auroc_reconstruction": 0.5, "val_auroc_latent": 0.7}]


def test_best_epoch_keeps_the_latest_of_tied_epochs():
    assert best_epoch(H, "val_auroc_reconstruction") == 3
    assert best_epoch([{"epoch": e, "val_auroc": 1.0} for e in (1, 2, 5)]) == 5


@pytest.mark.parametrize("score,rule,want", [
    ("auto", "best_val", ("reconstruction", 3)),     # 0.9 at epochs 1 (latent), 2, 3 (recon): the latest
    ("latent", "best_val", ("latent", 1)),
    ("auto", "last", ("latent", 4)),                # the score with the higher AUROC at the last epoch
    ("reconstruction", "last", ("reconstruction", 4)),
])
def test_select_applies_each_rule(score, rule, want):
    assert select(H, score, rule) == want


def test_tied_scores_at_one_epoch_keep_the_reconstruction_error():
    h = [{"epoch": 1, "val_auroc_reconstruction": 0.8, "val_auroc_latent": 0.8}]
    assert select(h, "auto", "best_val") == select(h, "auto", "last") == ("reconstruction", 1)


@pytest.mark.parametrize("history,kw,match", [
    ([], {}, "empty"),
    ([{"epoch": 1, "val_auroc_reconstruction": 0.5}], {}, "val_auroc_latent"),
    (H, {"epoch_rule": "first"}, "unknown epoch_rule"),
])
def test_select_names_what_is_missing(history, kw, match):
    with pytest.raises(ValueError, match=match):
        select(history, **kw)


def test_recorded_scores_and_rules_follow_the_score_setting():
    # the paper's two scores always; an extra score (ALAD's D' features) only when it is the chosen one
    assert recorded_scores("auto") == ("reconstruction", "latent") == recorded_scores("latent")
    assert recorded_scores("features") == ("reconstruction", "latent", "features")
    assert aabigan_rules("auto") == RULES == aabigan_rules(None)
    assert aabigan_rules("features") == ("last/reconstruction", "last/latent", "last/features", "val/auto")


def test_the_detector_and_the_runner_agree_on_the_rules_of_a_features_run():
    from aabigan.detector import AABiGAN
    from aabigan.experiments import RunConfig, expected_rules
    cfg = RunConfig(dataset="thyroid", method="aabigan", normal_class=0, known_classes=(1,), gamma_l=0.01,
                    seed=0, profile="smoke", overrides=(("score", "features"),))
    det = AABiGAN(score="features")
    assert expected_rules(cfg) == {f"last/{s}" for s in det._recorded_scores()} | {"val/auto"}
