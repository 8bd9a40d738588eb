"""The paper's image figures (Figs. 2-6) from synthetic result rows, a stub and tiny trained detectors."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from aabigan import AABiGAN
from aabigan.data import make_split
from aabigan.figures import (KINDS, fig_auroc_vs, fig_error_boxplots, fig_reconstructions, fig_samples,
                             image_grid, reconstruction_errors_by_kind)
from aabigan.tables import paper_table, summarise

GAMMA_P = (0.0, 0.01, 0.05, 0.1, 0.2)
K_L = (0, 1, 2, 3, 5)


def _rows(x: str, values, datasets=("fmnist", "cifar10"), methods=("aabigan", "deepsad"), pairs=3, seed=0):
    """Result rows as read_rows returns them (strings), plus rows that must be ignored."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in datasets:
        for v in values:
            for m in methods:
                for p in range(pairs):
                    gamma_l = 0.05 if x == "gamma_p" or v else 0.0
                    base = {"status": "ok", "dataset": d, "method": m, "profile": "smoke", "normal_class": str(p),
                            "gamma_l": f"{gamma_l}", "gamma_p": f"{v if x == 'gamma_p' else 0.1}",
                            "k_l": str(v if x == "k_l" else 1), "settings": "{}"}
                    for rule in ("val/auto", "last/reconstruction"):
                        rows.append({**base, "rule": rule, "auroc": f"{rng.uniform(0.6, 0.99):.6f}"})
    # ignored: a failed run, and (for Fig. 2) a Table 1 run at gamma_l = 0 off the figure's fixed setting
    rows.append({**rows[0], "status": "failed", "rule": "", "auroc": ""})
    rows.append({**rows[0], "gamma_l": "0.0", "k_l": "0", "gamma_p": "0.0", "auroc": "0.01"})
    return rows


def _line(ax, label):
    (line,) = [ln for ln in ax.lines if ln.get_label() == label]
    return line


@pytest.mark.parametrize("x, values", [("gamma_p", GAMMA_P), ("k_l", K_L)])
def test_auroc_vs_plots_the_summarised_means(x, values):
    rows = _rows(x, values)
    fig = fig_auroc_vs(rows, x=x)
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes] == ["F-MNIST", "CIFAR-10"]
    fixed_key, fixed_value = ("gamma_l", 0.05) if x == "gamma_p" else ("gamma_p", 0.1)
    kept = [r for r in rows if float(r[fixed_key]) == fixed_value]        # the figure's fixed setting
    summary = summarise(kept, keys=("dataset", x, "method"))
    for ax in fig.axes:
        assert len(ax.lines) == 2                                      # one solid line per method
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2   # the ± std bands
        for method in ("AA-BiGAN", "Deep SAD"):
            cells = sorted((float(s[x]), s["mean"]) for s in summary
                           if s["dataset"] == ax.get_title() and s["method"] == method)
            line = _line(ax, method)
            np.testing.assert_allclose(line.get_xdata(), [c[0] for c in cells])
            np.testing.assert_allclose(line.get_ydata(), [c[1] for c in cells])
            assert line.get_linestyle() == "-"
        assert ax.get_ylabel() == "AUROC (%)"


def test_auroc_vs_uses_the_rule_and_leaves_out_off_setting_rows():
    rows = _rows("gamma_p", GAMMA_P, datasets=("mnist",), methods=("aabigan",), pairs=2)
    fig = fig_auroc_vs(rows, x="gamma_p", rule="last/reconstruction")
    want = [100 * np.mean([float(r["auroc"]) for r in rows if r["status"] == "ok" and r["rule"] == "last/reconstruction"
                           and r["gamma_l"] == "0.05" and float(r["gamma_p"]) == g]) for g in GAMMA_P]
    np.testing.assert_allclose(_line(fig.axes[0], "AA-BiGAN").get_ydata(), want, atol=0.051)   # summarise rounds
    everything = fig_auroc_vs(rows, x="gamma_p", fixed={})        # the gamma_l = 0 row joins the gamma_p = 0 cell
    assert _line(everything.axes[0], "AA-BiGAN").get_ydata()[0] < _line(fig_auroc_vs(rows).axes[0],
                                                                          "AA-BiGAN").get_ydata()[0]


@pytest.mark.parametrize("x, table", [("gamma_p", "table6"), ("k_l", "table7")])
def test_auroc_vs_draws_the_paper_dashed(x, table):
    rows = _rows(x, GAMMA_P if x == "gamma_p" else K_L, datasets=("fmnist",), methods=("aabigan", "aabigan-unsup"))
    fig = fig_auroc_vs(rows, x=x, datasets=["fmnist"], paper=True)
    (ax,) = fig.axes
    paper = sorted((float(p[x]), float(p["mean"])) for p in paper_table(table)
                   if p["dataset"] == "F-MNIST" and p["method"] == "AA-BiGAN")
    dashed = _line(ax, "AA-BiGAN (paper)")
    assert dashed.get_linestyle() == "--"
    np.testing.assert_allclose(dashed.get_xdata(), [p[0] for p in paper])
    np.testing.assert_allclose(dashed.get_ydata(), [p[1] for p in paper])
    assert dashed.get_color() == _line(ax, "AA-BiGAN").get_color()
    # no paper curve for a method the paper does not have
    assert [ln.get_label() for ln in ax.lines] == ["AA-BiGAN", "AA-BiGAN (paper)",
                                                   "AA-BiGAN without collected anomalies"]


def test_auroc_vs_selects_datasets_and_methods():
    fig = fig_auroc_vs(_rows("gamma_p", GAMMA_P), datasets=["cifar10"], methods=["deepsad"])
    (ax,) = fig.axes
    assert ax.get_title() == "CIFAR-10" and [ln.get_label() for ln in ax.lines] == ["Deep SAD"]


def test_auroc_vs_bad_input():
    with pytest.raises(ValueError, match="unknown x 'gamma_l'"):
        fig_auroc_vs(_rows("gamma_p", GAMMA_P), x="gamma_l")
    with pytest.raises(ValueError, match="no result rows with status 'ok'"):
        fig_auroc_vs([])
    with pytest.raises(ValueError, match="no result rows with status 'ok'"):
        fig_auroc_vs([{"status": "failed"}])
    with pytest.raises(ValueError, match="fixed setting"):
        fig_auroc_vs(_rows("k_l", K_L), x="gamma_p", fixed={"gamma_l": 0.3})
    with pytest.raises(ValueError, match="no ok rows for rule 'val/latent'"):
        fig_auroc_vs(_rows("gamma_p", GAMMA_P), rule="val/latent")


# ------------------------------------------------------------------------------- image figures
@pytest.fixture(scope="module")
def split():
    return make_split("mnist", 0, [1], gamma_l=0.1, seed=0, max_train_normal=64, max_eval=200)


@pytest.fixture(scope="module")
def detectors(split):
    """gamma_l = 0.1 (with the collected anomalies) and gamma_l = 0 (the normal samples only)."""
    with_anomalies = AABiGAN(epochs=1, width=8, batch_size=16, random_state=0).fit(split.X_train, split.y_train)
    without = AABiGAN(epochs=1, width=8, batch_size=16, random_state=0).fit(split.X_train[split.y_train == 0])
    return {"γ_l = 0.1": with_anomalies, "γ_l = 0": without}


class _Stub:
    """A stand-in detector on grey (1-channel) images: reconstruction = negative, samples = noise."""

    def reconstruct(self, X):
        return 1 - np.asarray(X)

    def sample(self, n, seed=0):
        return np.random.default_rng(seed).random((n, 1, 32, 32)).astype(np.float32)


def test_errors_by_kind(split, detectors):
    det = detectors["γ_l = 0.1"]
    errs = reconstruction_errors_by_kind(det, split)
    assert set(errs) == {0, 1, 2}
    assert [len(errs[k]) for k in (0, 1, 2)] == np.bincount(split.test_kind, minlength=3).tolist()
    full = det.score_samples_all(split.X_test)["reconstruction"]
    for k in (0, 1, 2):
        np.testing.assert_allclose(errs[k], full[split.test_kind == k])


def test_error_boxplots_have_the_three_kinds(split, detectors):
    errs = {label: reconstruction_errors_by_kind(d, split) for label, d in detectors.items()}
    fig = fig_error_boxplots(errs)
    assert [ax.get_title() for ax in fig.axes] == list(detectors)
    for ax, label in zip(fig.axes, detectors):
        assert len(ax.patches) == 3                                   # one box per kind
        assert [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()] == [n for n, _ in KINDS.values()]
        boxes = sorted(ax.patches, key=lambda p: p.get_path().vertices[:, 0].mean())
        for k, box in enumerate(boxes):                               # the box spans the quartiles
            q1, q3 = np.percentile(errs[label][k], [25, 75])
            ys = box.get_path().vertices[:, 1]
            assert ys.min() == pytest.approx(q1, rel=1e-6) and ys.max() == pytest.approx(q3, rel=1e-6)
    # a kind the test set lacks leaves an empty slot
    fig = fig_error_boxplots({"no seen": {0: np.r_[1.0, 2.0, 3.0], 1: np.array([]), 2: np.r_[4.0, 5.0]}})
    assert len(fig.axes[0].patches) == 2


def test_error_boxplots_bad_input():
    with pytest.raises(ValueError, match="errors_by_model is empty"):
        fig_error_boxplots({})
    with pytest.raises(ValueError, match="unknown kind"):
        fig_error_boxplots({"m": {0: np.ones(3), 3: np.ones(3)}})


def test_reconstructions_blocks(split, detectors):
    n = 4
    fig = fig_reconstructions(detectors, split, n=n, seed=0)
    assert len(fig.axes) == 3 * (1 + len(detectors))                 # 3 kinds x (input + one per model)
    assert [ax.get_title() for ax in fig.axes] == (["input"] + list(detectors)) * 3
    assert [sf.get_suptitle() for sf in fig.subfigs] == [n for n, _ in KINDS.values()]
    for ax in fig.axes:
        (im,) = ax.images
        assert im.get_array().shape == (n * 33 + 1, 34, 3)           # n images in a column, 3 channels
    # the inputs are test images of their kind; the reconstructions are the detector's
    normal_inputs = fig.axes[0].images[0].get_array()
    candidates = split.X_test[split.test_kind == 0]
    first = np.moveaxis(np.asarray(normal_inputs[1:33, 1:33]), -1, 0)
    assert np.any(np.all(np.isclose(candidates, first, atol=1e-6), axis=(1, 2, 3)))
    rec = detectors["γ_l = 0.1"].reconstruct(first[None])[0]
    np.testing.assert_allclose(np.moveaxis(np.asarray(fig.axes[1].images[0].get_array()[1:33, 1:33]), -1, 0),
                               np.clip(rec, 0, 1), atol=1e-6)


def test_reconstructions_grey_images_and_missing_kinds(split):
    grey = make_split("mnist", 0, [1], gamma_l=0.1, seed=0, max_train_normal=16, max_eval=100, channels=1)
    grey.test_kind = np.where(grey.test_kind == 1, 2, grey.test_kind)     # pretend no seen class
    fig = fig_reconstructions({"stub": _Stub()}, grey, n=3)
    assert len(fig.axes) == 2 * 2
    assert all(ax.images[0].get_array().shape == (3 * 33 + 1, 34) for ax in fig.axes)
    with pytest.raises(ValueError, match="detectors is empty"):
        fig_reconstructions({}, split)
    tabular = make_split("thyroid", gamma_l=0.01, seed=0)
    with pytest.raises(ValueError, match="image datasets"):
        fig_reconstructions({"stub": _Stub()}, tabular)


def test_samples_grid(detectors):
    det = detectors["γ_l = 0.1"]
    fig = fig_samples(det, n=64, seed=3)
    (ax,) = fig.axes
    (im,) = ax.images
    np.testing.assert_allclose(im.get_array(), image_grid(det.sample(64, seed=3), 8))
    assert im.get_array().shape == (8 * 33 + 1, 8 * 33 + 1, 3)
    fig = fig_samples({"MNIST": det, "grey stub": _Stub()}, n=10)
    assert [ax.get_title() for ax in fig.axes] == ["MNIST", "grey stub"]
    assert fig.axes[1].images[0].get_array().shape == (3 * 33 + 1, 4 * 33 + 1)   # 10 images, 4 columns
    with pytest.raises(ValueError, match="n must be at least 1"):
        fig_samples(det, n=0)


def test_image_grid_layout():
    imgs = np.stack([np.full((1, 2, 2), v) for v in (0.0, 0.5, 1.0)])
    g = image_grid(imgs, ncols=2, pad=1, pad_value=0.25)
    assert g.shape == (2 * 3 + 1, 2 * 3 + 1)
    assert g[1, 1] == 0.0 and g[1, 4] == 0.5 and g[4, 1] == 1.0 and g[4, 4] == 0.25 and g[0, 0] == 0.25
    with pytest.raises(ValueError, match="shape"):
        image_grid(np.zeros((3, 32, 32)), 2)


def test_odds_figures_from_rows():
    from aabigan.figures import fig_gamma_sweep, fig_odds_runs
    from aabigan.tables import paper_table

    rows = []
    for s in range(3):
        for m, base in (("aabigan", 0.9), ("deepsad", 0.8)):
            for g in (0.0, 0.01, 0.05):
                rows.append({"status": "ok", "rule": "val/auto" if m == "aabigan" else "fixed", "dataset": "thyroid",
                             "method": m, "auroc": base + g + 0.01 * s, "gamma_l": g, "gamma_p": 0.0, "k_l": 1,
                             "profile": "cpu", "seed": s, "settings": "{}"})
    fig = fig_odds_runs([r for r in rows if r["gamma_l"] == 0.01], paper=paper_table("table8"))
    (ax,) = fig.axes
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([91.0 + 1.0, 81.0 + 1.0])      # the bars are the means over seeds
    fig = fig_gamma_sweep(rows)
    (ax,) = fig.axes
    aa = ax.get_lines()[0]
    assert list(aa.get_xdata()) == [0.0, 0.01, 0.05]
    assert aa.get_ydata() == pytest.approx([91.0, 92.0, 96.0])
    with pytest.raises(ValueError, match="no ok rows"):
        fig_odds_runs([{**rows[0], "status": "failed"}])


def test_plateau_step_is_where_the_curve_stays_within_a_point_of_its_end():
    from aabigan.figures import plateau_step

    steps = np.arange(1, 11) * 100
    auroc = np.array([50, 70, 85, 89, 90.5, 90, 91, 90.2, 90.8, 90.4])
    assert plateau_step(steps, auroc) == 500                     # from 90.5 on, within 1 of the median 90.5
    assert plateau_step(steps, np.linspace(50, 95, 10)) == 1000    # still climbing: only its end
    assert plateau_step(steps, np.full(10, 80.0)) == 100           # flat from the start


def test_learning_curves_figure_from_the_committed_rows():
    from pathlib import Path

    from aabigan.figures import curves, fig_learning_curves
    from aabigan.store import read_rows

    rows = read_rows(Path(__file__).resolve().parents[1] / "results" / "convergence-curves.csv")
    runs = curves(rows)
    assert runs and all(np.all(np.diff(r["steps"]) > 0) for r in runs.values())
    fig = fig_learning_curves(rows)
    assert len(fig.axes) == len({(d, w) for d, _, w in runs})
    profiles = {r["profile"] for r in rows}
    assert all(f"profile {p}" in fig.get_suptitle() for p in profiles) and "overrides" in fig.get_suptitle()
    widths = {w for _, _, w in runs}      # the study's widths are told apart, the shared schedule named once
    assert ("varying: width " + " / ".join(map(str, sorted(widths))) in fig.get_suptitle()) == (len(widths) > 1)
    assert "min_steps=6000" in fig.get_suptitle()


def test_at_step_and_largest_dip():
    from aabigan.figures import at_step, largest_dip

    run = {"steps": np.array([100, 200, 300]), "a": np.array([50.0, 90.0, 70.0])}
    assert at_step(run, "a", 150) == 90.0 and at_step(run, "a", 200) == 90.0 and at_step(run, "a", 999) == 70.0
    assert largest_dip(run["a"]) == 20.0 and largest_dip([1.0, 2.0, 3.0]) == 0.0


# ------------------------------------------------------------ what the figures' fixes promise (issue 14)
def _odds_rows():
    rows = []
    for s in range(3):
        for m, base, rule in (("aabigan", 0.90, "val/auto"), ("aabigan", 0.80, "last/reconstruction"),
                              ("deepsad", 0.85, "fixed"), ("nda", 0.995, "last"), ("nda", 0.97, "val/epoch")):
            for ds in ("thyroid", "arrhythmia"):
                rows.append({"status": "ok", "rule": rule, "dataset": ds, "method": m, "gamma_l": 0.01,
                             "gamma_p": 0.0, "k_l": 1, "profile": "cpu", "seed": s, "settings": "{}",
                             "config_hash": f"{m}-{ds}-{s}",
                             "auroc": base + 0.004 * s - (0.2 if ds == "arrhythmia" else 0)})
    return rows


def test_odds_runs_fit_each_panel_under_100_with_one_legend():
    from aabigan.figures import fig_odds_runs
    rows = _odds_rows()
    fig = fig_odds_runs(rows, paper=paper_table("table8"))
    thy, arr = fig.axes
    assert thy.get_title() == "Thyroid" and arr.get_title() == "Arrhythmia"
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        assert 0 < lo and hi <= 100                                   # fitted, not from 0, never past 100
        dots = np.concatenate([ln.get_ydata() for ln in ax.lines if ln.get_marker() == "."])
        assert lo <= dots.min() and dots.max() <= hi
        assert ax.get_legend() is None
    assert thy.get_ylim()[0] > 75 and arr.get_ylim()[1] < 95          # each panel its own range
    assert len(fig.legends) == 1
    assert "rule val/auto" in fig.get_suptitle() and "profile cpu" in fig.get_suptitle()
    # read under one selection, every method under its own rules: NDA's last rows are in, Deep SAD's fixed too
    free = fig_odds_runs(rows, selection="label_free")
    assert [t.get_text() for t in free.axes[0].get_xticklabels()] == ["AA-BiGAN", "Deep SAD", "NDA"]
    assert [p.get_height() for p in free.axes[0].patches] == pytest.approx([80.4, 85.4, 99.9])
    assert "selection label-free" in free.get_suptitle()
    with pytest.raises(ValueError, match="profile 'paper'"):
        fig_odds_runs(rows, profile="paper")


def test_gamma_sweep_names_rule_and_profile_with_one_legend():
    from aabigan.figures import fig_gamma_sweep
    rows = [dict(r, gamma_l=g, config_hash=f"{r['config_hash']}-{g}") for r in _odds_rows() for g in (0.0, 0.05)]
    fig = fig_gamma_sweep(rows, datasets=["thyroid", "arrhythmia"])
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    assert all(ax.get_ylim()[1] <= 100 for ax in fig.axes)
    assert "rule val/auto" in fig.get_suptitle() and "profile cpu" in fig.get_suptitle()


def _bbox(artist, fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()                                  # lays out the figure (constrained layout) as a savefig would
    return artist.get_window_extent(canvas.get_renderer())


def test_auroc_vs_single_points_are_marked_and_the_legend_covers_no_panel():
    rows = _rows("gamma_p", GAMMA_P, datasets=("mnist",), methods=("aabigan",))
    rows += [r for r in _rows("gamma_p", (0.0,), datasets=("fmnist",), methods=("aabigan", "deepsad"))
             if r["status"] == "ok" and r["gamma_l"] == "0.05"]
    fig = fig_auroc_vs(rows, x="gamma_p", paper=True)
    mnist, fmnist = fig.axes
    assert mnist.get_title() == "MNIST" and fmnist.get_title().startswith("F-MNIST\nours at one $\\gamma_p$ only")
    assert not any(isinstance(c, PolyCollection) for c in fmnist.collections)   # no band of one point
    dots = [_line(fmnist, m) for m in ("AA-BiGAN", "Deep SAD")]
    assert all(d.get_linestyle() == "None" and len(d.get_xdata()) == 1 for d in dots)
    assert dots[0].get_xdata()[0] != dots[1].get_xdata()[0]                   # side by side, not on top of each other
    assert _line(fmnist, "AA-BiGAN (paper)").get_linestyle() == "--"     # the paper's curve beside them
    (legend,) = fig.legends
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert not any(_bbox(legend, fig).overlaps(_bbox(ax, fig)) for ax in fig.axes)
    assert "rule val/auto" in fig.get_suptitle() and "profile smoke" in fig.get_suptitle()
    # min_points=2: the methods with one point go, and a panel without any of ours with them
    two = fig_auroc_vs(rows, x="gamma_p", paper=True, min_points=2)
    assert [ax.get_title() for ax in two.axes] == ["MNIST"]
    assert "left out (fewer than 2 points): AA-BiGAN, Deep SAD" in two.get_suptitle()
    with pytest.raises(ValueError, match="6 or more points"):
        fig_auroc_vs(rows, x="gamma_p", min_points=6)


def test_error_boxplots_share_one_y_axis_by_default():
    errs = {"a": {0: np.r_[1.0, 2.0, 3.0], 2: np.r_[4.0, 5.0]}, "b": {0: np.r_[10.0, 20.0], 2: np.r_[30.0, 40.0]}}
    fig = fig_error_boxplots(errs, title="profile cpu")
    a, b = fig.axes
    assert a.get_shared_y_axes().joined(a, b) and a.get_ylim() == b.get_ylim()
    assert fig.get_suptitle() == "profile cpu"
    a, b = fig_error_boxplots(errs, sharey=False).axes
    assert not a.get_shared_y_axes().joined(a, b)


def test_cheapest_steps_is_the_first_step_where_the_median_run_is_near_its_plateau():
    from aabigan.figures import cheapest_steps, shortfall_at

    steps = np.arange(1, 11) * 100
    runs = {("a", 0, 16): {"steps": steps, "v": np.r_[50, 60, 70, 80, 90, 95, 95, 95, 95, 95.0]},
            ("a", 1, 16): {"steps": steps, "v": np.r_[50, 95, 95, 95, 95, 95, 95, 95, 95, 95.0]},
            ("a", 2, 16): {"steps": steps, "v": np.r_[50, 60, 94.5, 95, 95, 95, 95, 95, 95, 95.0]}}
    np.testing.assert_allclose(shortfall_at(runs, 300, "v"), [25, 0, 0.5])
    assert cheapest_steps(runs, 1.0, "v") == 300       # two of three within a point from 300 steps on
    assert cheapest_steps(runs, 0.1, "v") == 400
    runs[("a", 1, 16)]["v"] = np.r_[50, 95, 95, 80, 95, 95, 95, 95, 95, 95.0]   # dips out again at 400
    runs[("a", 2, 16)]["v"] = np.r_[50, 60, 94.5, 80, 95, 95, 95, 95, 95, 95.0]
    assert cheapest_steps(runs, 1.0, "v") == 500
    with pytest.raises(ValueError, match="no learning curves"):
        cheapest_steps({}, 1.0, "v")


def _curve_rows(dataset, normal, width, auroc, seconds_a_step, steps_an_epoch=100):
    """Learning-curve rows of one run: validation AUROC (fractions) per epoch, the fit seconds so far."""
    import json

    return [{"config_hash": f"{dataset}-{normal}-{width}", "status": "ok", "dataset": dataset,
             "normal_class": str(normal), "settings": json.dumps({"width": width}), "epoch": str(e + 1),
             "steps": str((e + 1) * steps_an_epoch), "fit_seconds": str((e + 1) * steps_an_epoch * seconds_a_step),
             "val_auroc_reconstruction": str(a), "val_auroc_latent": str(a), "test_auroc_reconstruction": str(a),
             "test_auroc_latent": str(a)} for e, a in enumerate(auroc)]


def test_the_schedule_choice_takes_the_cheapest_width_that_fits_the_budget():
    from aabigan.figures import choose_schedules, schedule_options, step_seconds
    from aabigan.profiles import epochs_reaching

    climb = [0.5, 0.7, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95]           # within a point of 95 from 400 steps on
    fast = [0.5, 0.95, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96]          # within a point from 200
    rows = (_curve_rows("mnist", 0, 16, climb, 0.2) + _curve_rows("mnist", 1, 16, climb, 0.4)
            + _curve_rows("mnist", 2, 16, climb, 0.2) + _curve_rows("mnist", 0, 32, fast, 0.5))
    assert step_seconds(rows) == pytest.approx({16: 0.2, 32: 0.5})  # a median: the slow run does not count
    options = {(o["dataset"], o["width"]): o for o in schedule_options(rows, pairs=10, workers=2)}
    assert options[("mnist", 16)]["steps"] == 400 and options[("mnist", 32)]["steps"] == 200
    assert options[("mnist", 16)]["cell_minutes"] == pytest.approx(5 * 400 * 0.2 / 60)
    assert options[("mnist", 16)]["plateau"] == pytest.approx(95.0)
    assert options[("mnist", 16)]["worst"] == pytest.approx(0.0) and options[("mnist", 32)]["worst"] == pytest.approx(1.0)
    assert choose_schedules(options.values())["mnist"]["width"] == 16            # 6.7 minutes against 8.3
    faster = [0.95] * 8                                                          # width 32 settles at once
    rows32 = [r for r in rows if '32' not in r["settings"]] + _curve_rows("mnist", 0, 32, faster, 0.5)
    assert choose_schedules(schedule_options(rows32))["mnist"]["width"] == 32  # 100 steps: 4.2 minutes
    with pytest.raises(ValueError, match="no schedule of the study fits 1 minutes a cell on mnist"):
        choose_schedules(options.values(), budget_minutes=1)
    assert epochs_reaching(2576, 5421, 64) == 31 and epochs_reaching(64, 64 * 64, 64) == 1
    assert epochs_reaching(3, 10, 64) == 3                  # fewer images than a batch: one step an epoch
