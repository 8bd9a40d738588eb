"""The paper's image figures, drawn from our result rows and trained detectors.

* :func:`fig_auroc_vs` -- Fig. 2 (AUROC vs pollution ratio gamma_p) and Fig. 3 (AUROC vs number of collected
  anomaly classes k_l), mean ± std over runs, optionally with the paper's curves (Tables 6 and 7) dashed;
* :func:`reconstruction_errors_by_kind` and :func:`fig_error_boxplots` -- Fig. 4, box plots of the
  reconstruction errors of normal, seen-anomaly and novel-anomaly test images;
* :func:`fig_reconstructions` -- Fig. 5, test images and their reconstructions G(E(x)) by several models;
* :func:`fig_samples` -- Fig. 6, a grid of generated images G(z);
* :func:`fig_odds_runs` and :func:`fig_gamma_sweep` -- the ODDS chapter: AUROC per run and method beside
  the paper's Table 8, and AUROC against the collected-anomaly ratio.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot`` (no global state, no
``show()``; works under the ``Agg`` backend).  A figure drawn from result rows names their selection rule
and profile in its title; Figs. 2 and 3 and the ODDS figures have one legend, outside the panels.  Images are arrays (n, C, 32, 32), C = 1 or 3, in [0, 1].
Kinds follow :class:`aabigan.data.Split`: 0 normal, 1 anomaly of a collected (seen) class, 2 novel anomaly.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .paper_tables import fixed_along

__all__ = ["KINDS", "FIXED", "fig_auroc_vs", "reconstruction_errors_by_kind", "fig_error_boxplots",
           "fig_reconstructions", "fig_samples", "image_grid", "fig_odds_runs", "fig_gamma_sweep", "curves",
           "plateau_step", "at_step", "largest_dip", "fig_learning_curves", "shortfall_at", "cheapest_steps",
           "step_seconds", "schedule_options", "choose_schedules"]

#: kind -> (label, colour) for the figures of this module (colours as in :mod:`aabigan.plotting`)
KINDS = {0: ("normal", "#1f77b4"), 1: ("seen anomaly", "#d62728"), 2: ("novel anomaly", "#ff7f0e")}

_X_AXES = {
    "gamma_p": ("table6", "pollution ratio $\\gamma_p$"),
    "k_l": ("table7", "number of collected anomaly classes $k_l$"),
}

#: the settings held fixed along each x axis: what the cells of Table 6 (Fig. 2: gamma_l = 0.05, k_l = 1) and of
#: Table 7 (Fig. 3: gamma_p = 0.1) share (:func:`aabigan.paper_tables.fixed_along`)
FIXED = {"gamma_p": fixed_along("table6"), "k_l": fixed_along("table7")}


def _panels(n: int, width: float, height: float, ncols: int | None = None, sharey: bool = False):
    ncols = min(n, ncols or n)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, list(axes[:n])


def _profiles(rows) -> str:
    """The profiles of some rows (or of summary cells, whose "profile" may list several), for a title."""
    return ", ".join(sorted({p for r in rows for p in str(r.get("profile") or "?").split(",")})) or "none"


def _figure_legend(fig, handles, ncols: int | None = None, where: str = "lower") -> None:
    """One legend for the whole figure, outside the panels (constrained layout makes room for it)."""
    if handles:
        fig.legend(handles=handles, loc=f"outside {where} center", ncols=ncols or min(len(handles), 4), fontsize=8,
                   frameon=False)


# --------------------------------------------------------------------------------- Figs. 2 and 3
def fig_auroc_vs(rows: Sequence[Mapping], x: str = "gamma_p", datasets=None, methods=None, rule: str = "val/auto",
                 paper=None, fixed: Mapping | None = None, profile: str | None = None, min_points: int = 1) -> Figure:
    """Fig. 2 (``x="gamma_p"``) or Fig. 3 (``x="k_l"``): test AUROC (%) against ``x``, one panel per dataset.

    ``rows`` are result rows as :func:`aabigan.experiments.read_rows` returns them; rows whose ``status`` is
    not ``ok``, of another selection ``rule`` or ``profile``, or not of the figure's grid are left out.  By
    default the grid is the table's (:func:`aabigan.tables.in_table`: Table 6 for Fig. 2, Table 7 for
    Fig. 3); ``fixed`` (e.g. :data:`FIXED`) instead keeps the rows with those column values (``{}``: all).
    Each method is a solid line with markers of the mean over its runs (class pairs) with a band of ± one
    standard deviation -- the numbers of :func:`aabigan.tables.summarise`.  A method we ran at one ``x``
    only is a dot with a ± std bar, and the panel's title says so; ``min_points=2`` leaves such methods
    out instead (their paper curves too), and a panel left without any of ours is dropped.

    ``paper=True`` adds the paper's curves (Table 6 or 7, :func:`aabigan.tables.paper_table`) as dashed lines
    in the same colours, for the same methods; ``paper`` may also be the paper table's rows.  ``datasets``
    and ``methods`` (package names, e.g. ``"fmnist"``, ``"aabigan"``) select and order the panels and
    lines; by default all that the rows hold.  One legend for the figure sits below the panels; the title
    names the rule and the profile of our rows.
    """
    from matplotlib.lines import Line2D

    from .data import DISPLAY_NAMES, IMAGE_DATASETS, canonical_name
    from .experiments import METHODS
    from .tables import in_table, paper_table, summarise

    if x not in _X_AXES:
        raise ValueError(f"unknown x {x!r}; choose 'gamma_p' (Fig. 2) or 'k_l' (Fig. 3)")
    table, xlabel = _X_AXES[x]
    rows = [r for r in rows if r.get("status") == "ok"]
    if not rows:
        raise ValueError("no result rows with status 'ok' to plot")
    if fixed is None:
        rows = [r for r in rows if in_table(table, r)]
        if not rows:
            raise ValueError(f"no ok rows of the {table} grid (pass fixed={{}} to keep all rows)")
    else:
        rows = [r for r in rows if all(np.isclose(float(r[k]), float(v)) for k, v in dict(fixed).items())]
        if not rows:
            raise ValueError(f"no ok rows at the fixed setting {dict(fixed)} (pass fixed={{}} to keep all rows)")

    summary = summarise(rows, keys=("dataset", x, "method"), rule=rule, profile=profile)
    if not summary:
        raise ValueError(f"no ok rows for rule {rule!r}" + (f" and profile {profile!r}" if profile else ""))
    if datasets is None:
        present = {r["dataset"] for r in rows}
        datasets = [d for d in IMAGE_DATASETS if d in present] + sorted(present - set(IMAGE_DATASETS))
    ds_names = [DISPLAY_NAMES.get(canonical_name(d), d) for d in datasets]
    if methods is None:
        methods = list(dict.fromkeys(r["method"] for r in rows))
    m_names = [METHODS[m].display if m in METHODS else m for m in methods]
    colours = {m: f"C{i % 10}" for i, m in enumerate(m_names)}
    if paper is True:
        paper = paper_table(table)
    cells = {(ds, m): sorted((float(s[x]), s["mean"], s["std"]) for s in summary
                             if s["dataset"] == ds and s["method"] == m) for ds in ds_names for m in m_names}
    drawn = {ds: [m for m in m_names if len(cells[ds, m]) >= max(1, int(min_points))] for ds in ds_names}
    ds_names = [ds for ds in ds_names if drawn[ds]]
    if not ds_names:
        raise ValueError(f"no method of ours has {min_points} or more points on {x}")
    symbol = {"gamma_p": "$\\gamma_p$", "k_l": "$k_l$"}[x]

    fig, axes = _panels(len(ds_names), 4.2, 3.4)
    span = np.ptp([float(s[x]) for s in summary] + [float(p[x]) for p in (paper or [])]) or 1.0
    used = []
    for ax, ds in zip(axes, ds_names):
        single = []
        n_single = sum(len(cells[ds, m]) == 1 for m in drawn[ds])
        for m in drawn[ds]:
            colour = colours[m]
            xs, mean, std = (np.array(v) for v in zip(*cells[ds, m]))
            if len(xs) > 1:
                ax.plot(xs, mean, "o-", color=colour, label=m, ms=4)
                ax.fill_between(xs, mean - std, mean + std, color=colour, alpha=0.15, lw=0)
            else:                               # side by side, a little apart, where several share one x
                xs = xs + 0.02 * span * (len(single) - (n_single - 1) / 2)
                ax.plot(xs, mean, "o", color=colour, label=m, ms=6)
                ax.vlines(xs, mean - std, mean + std, color=colour, lw=1.5)
                single.append(m)
            used.append(m)
            if paper:
                pc = sorted((float(p[x]), float(p["mean"])) for p in paper
                            if p["dataset"] == ds and p["method"] == m and p.get("mean"))
                if pc:
                    px, pm = zip(*pc)
                    ax.plot(px, pm, "s--", color=colour, label=f"{m} (paper)", ms=3, alpha=0.8)
        note = ""
        if single:
            note = ("\nours at one " + symbol + " only (dot ± std)" if len(single) == len(drawn[ds])
                    else f"\none {symbol} only: {', '.join(single)}")
        ax.set_title(ds + note, fontsize=10 if not note else 9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("AUROC (%)")
        if x == "k_l":
            ax.xaxis.get_major_locator().set_params(integer=True)
    handles = [Line2D([], [], color=colours[m], marker="o", ms=4, label=m) for m in dict.fromkeys(used)]
    handles.append(Line2D([], [], color="black", marker="o", ms=4, label="ours: mean ± std over runs"))
    if paper:
        handles.append(Line2D([], [], color="black", marker="s", ms=3, ls="--",
                              label=f"paper (Table {table.removeprefix('table')})"))
    _figure_legend(fig, handles, ncols=min(len(handles), 3 if len(axes) > 1 else 2))
    dropped = sorted({m for ds in drawn for m in m_names if cells[ds, m] and m not in drawn[ds]})
    fig.suptitle(f"ours: rule {rule}, profile {_profiles(summary)}"
                 + (f"; left out (fewer than {min_points} points): {', '.join(dropped)}" if dropped else ""),
                 fontsize=9)
    return fig


# ------------------------------------------------------------------------------------------- Fig. 4
def reconstruction_errors_by_kind(detector, split) -> dict[int, np.ndarray]:
    """Reconstruction errors ``||x - G(E(x))||^2`` of ``split.X_test``, grouped by ``split.test_kind``.

    Returns ``{0: normal, 1: seen anomaly, 2: novel anomaly}`` (an empty array for a kind the test set lacks).
    Give every model the *same* split (e.g. evaluate the gamma_l = 0 model on the gamma_l = 0.1 split) so
    "seen" means the same class for all of them.
    """
    err = detector.score_samples_all(split.X_test)["reconstruction"]
    kind = np.asarray(split.test_kind)
    if len(kind) != len(err):
        raise ValueError(f"split.test_kind has {len(kind)} entries for {len(err)} test samples")
    return {k: err[kind == k] for k in KINDS}


def fig_error_boxplots(errors_by_model: Mapping[str, Mapping[int, np.ndarray]], log: bool = False,
                       sharey: bool = True, title: str = "") -> Figure:
    """Fig. 4: one panel per model (e.g. ``{"γ_l = 0": ..., "γ_l = 0.1": ...}``), three boxes each --
    the reconstruction errors of normal, seen-anomaly and novel-anomaly test images, as
    :func:`reconstruction_errors_by_kind` returns them.  An empty kind is left as an empty slot.

    The panels share one y axis (``sharey=False`` gives each its own), so the models' errors compare;
    ``title`` (e.g. the models' profile) goes above the panels."""
    if not errors_by_model:
        raise ValueError("errors_by_model is empty: give {model label: {kind: errors}}")
    for label, errs in errors_by_model.items():
        unknown = set(errs) - set(KINDS)
        if unknown:
            raise ValueError(f"{label!r}: unknown kind(s) {sorted(unknown)}; kinds are 0 normal, 1 seen, 2 novel")
    fig, axes = _panels(len(errors_by_model), 3.4, 3.2, sharey=sharey)
    for ax, (label, errs) in zip(axes, errors_by_model.items()):
        for pos, (k, (name, colour)) in enumerate(KINDS.items()):
            v = np.asarray(errs.get(k, []), dtype=float).ravel()
            if len(v):
                ax.boxplot([v], positions=[pos], widths=0.6, patch_artist=True, showfliers=True,
                           boxprops=dict(facecolor=colour, alpha=0.6), medianprops=dict(color="black"),
                           flierprops=dict(ms=2, alpha=0.4))
        ax.set_xticks(range(len(KINDS)), [name.replace(" ", "\n") for name, _ in KINDS.values()], fontsize=8)
        ax.set_xlim(-0.6, len(KINDS) - 0.4)
        ax.set_title(label, fontsize=10)
        if log:
            ax.set_yscale("log")
    axes[0].set_ylabel("reconstruction error $\\|x - G(E(x))\\|^2$")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


# ----------------------------------------------------------------------------------- Figs. 5 and 6
def _check_images(images, what: str) -> np.ndarray:
    a = np.asarray(images, dtype=float)
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"{what} must be images of shape (n, 1 or 3, H, W); got shape {a.shape} "
                         "(these figures are for the image datasets)")
    return a


def image_grid(images, ncols: int, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile images (n, C, H, W) in [0, 1] into one (rows*H, ncols*W) array (C = 1) or (.., .., 3) (C = 3)."""
    a = np.clip(_check_images(images, "images"), 0, 1)
    n, c, h, w = a.shape
    ncols = max(1, min(int(ncols), n))
    nrows = int(np.ceil(n / ncols))
    out = np.full((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value)
    for i in range(n):
        r, col = divmod(i, ncols)
        out[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = a[i]
    return out[0] if c == 1 else np.moveaxis(out, 0, -1)


def _show(ax, grid: np.ndarray, title: str = "") -> None:
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def fig_reconstructions(detectors: Mapping[str, object], split, n: int = 6, seed: int = 0) -> Figure:
    """Fig. 5: ``n`` test images of each kind (normal, seen anomaly, novel anomaly) and their reconstructions.

    One block per kind that the test set holds; in each block the first column shows the inputs and the
    next ones their reconstructions G(E(x)) by each model of ``detectors`` (``{label: fitted AABiGAN}``,
    e.g. gamma_l = 0.1 and gamma_l = 0), in that order.  The images are drawn from ``split.X_test`` with
    their own seed.
    """
    if not detectors:
        raise ValueError("detectors is empty: give {label: fitted AABiGAN}")
    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    X = _check_images(split.X_test, "split.X_test")
    kind = np.asarray(split.test_kind)
    rng = np.random.default_rng(int(seed))
    picks = {k: np.sort(rng.choice(np.flatnonzero(kind == k), min(int(n), int(np.sum(kind == k))), replace=False))
             for k in KINDS if np.any(kind == k)}
    if not picks:
        raise ValueError("split.X_test holds no images")
    cols = ["input"] + list(detectors)
    recon = {label: {k: det.reconstruct(X[idx]) for k, idx in picks.items()} for label, det in detectors.items()}
    fig = Figure(figsize=(0.75 * len(cols) * len(picks) + 0.6, 0.75 * int(n) + 0.9), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(1, len(picks)))
    for sf, (k, idx) in zip(subfigs, picks.items()):
        sf.suptitle(KINDS[k][0], fontsize=9)
        axes = np.atleast_1d(sf.subplots(1, len(cols)))
        for ax, col in zip(axes, cols):
            imgs = X[idx] if col == "input" else recon[col][k]
            _show(ax, image_grid(imgs, ncols=1), col)
    return fig


def fig_samples(detectors, n: int = 64, seed: int = 0, ncols: int | None = None) -> Figure:
    """Fig. 6: a grid of ``n`` generated images G(z), z ~ N(0, I) (``detector.sample(n, seed)``).

    ``detectors`` is one fitted detector, or ``{label: detector}`` for one panel each (e.g. one per dataset).
    """
    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not isinstance(detectors, Mapping):
        detectors = {"": detectors}
    if not detectors:
        raise ValueError("detectors is empty: give a fitted AABiGAN or {label: fitted AABiGAN}")
    ncols = int(ncols or np.ceil(np.sqrt(int(n))))
    fig, axes = _panels(len(detectors), 0.3 * ncols + 0.4, 0.3 * np.ceil(int(n) / ncols) + 0.5)
    for ax, (label, det) in zip(axes, detectors.items()):
        _show(ax, image_grid(_check_images(det.sample(int(n), seed), "the samples"), ncols), label)
    return fig


# ------------------------------------------------------------------------------ the ODDS tables
def _ok_rows(rows, rule, selection: str | None = None, profile: str | None = None):
    """The ok rows to draw: AA-BiGAN's family under ``rule`` and the baselines' ``fixed`` rows, or, with
    ``selection`` (:data:`aabigan.tables.SELECTIONS`), every method under its own rules for it."""
    from .store import check_unique
    from .tables import selection_rules

    rows = [r for r in rows if r.get("status") == "ok" and (profile is None or r.get("profile") == profile)]
    if selection is None:
        out = [r for r in rows if r.get("rule") in (rule, "fixed")]
        if not out:
            raise ValueError(f"no ok rows for rule {rule!r} (or baseline rows, rule 'fixed')"
                             + (f" and profile {profile!r}" if profile else ""))
        return out
    out = [dict(r, rule=selection) for r in rows if r.get("rule") in selection_rules(r["method"], selection)]
    check_unique(out, what=f"the rows under selection {selection!r}")    # a run's last and fixed rows: once
    if not out:
        raise ValueError(f"no ok rows under selection {selection!r}" + (f" and profile {profile!r}" if profile else ""))
    return out


def _provenance(rows, rule, selection) -> str:
    how = f"selection {selection.replace('_', '-')}" if selection else f"rule {rule} (baselines: fixed)"
    return f"{how}, profile {_profiles(rows)}"


def _y_range(values, top: float = 100.0) -> tuple[float, float]:
    """A y range fitted to ``values`` (AUROC %) with a little room, never above ``top`` nor below 0."""
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = max(0.5, 0.08 * (hi - lo))
    return max(0.0, lo - pad), min(top, hi + pad)


def fig_odds_runs(rows: Sequence[Mapping], datasets=None, methods=None, rule: str = "val/auto", paper=None,
                  ncols: int = 3, selection: str | None = None, profile: str | None = None) -> Figure:
    """One panel per ODDS dataset: every run's test AUROC (%) per method as dots, their mean as a bar, and the
    paper's mean ± std (Table 8, ``paper`` rows from :func:`aabigan.tables.paper_table`) as a black marker.

    Rows of the AA-BiGAN family are taken under ``rule``; baselines report one ``fixed`` rule.  With
    ``selection`` (``"label_free"`` or ``"validation"``, :data:`aabigan.tables.SELECTIONS`) every method is
    read under its own rules for that selection instead, and ``rule`` is not used; ``profile`` keeps the
    rows of one profile.  Each panel's y range is fitted to its runs and the paper's marker (at most 100),
    so the bars start at the panel's lower edge, not at 0; one legend serves the figure, and its title
    names the rule (or selection) and the profile.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .data import DISPLAY_NAMES
    from .experiments import METHODS

    rows = _ok_rows(rows, rule, selection, profile)
    datasets = list(datasets or dict.fromkeys(r["dataset"] for r in rows))
    methods = list(methods or dict.fromkeys(r["method"] for r in rows))
    fig, axes = _panels(len(datasets), 0.55 * len(methods) + 1.5, 3.4, ncols=ncols)
    ref = {(p["dataset"], p["method"]): p for p in (paper or []) if p.get("mean")}
    drawn = [r for r in rows if r["dataset"] in datasets and r["method"] in methods]
    for ax, ds in zip(axes, datasets):
        shown = []
        for i, m in enumerate(methods):
            vals = np.array([100 * float(r["auroc"]) for r in rows if r["dataset"] == ds and r["method"] == m])
            if len(vals):
                ax.bar(i, vals.mean(), color="#c6dbef", width=0.7)
                jitter = np.linspace(-0.2, 0.2, len(vals)) if len(vals) > 1 else np.zeros(1)
                ax.plot(i + jitter, vals, ".", color="#08519c", ms=4)
                shown.extend(vals)
            p = ref.get((DISPLAY_NAMES.get(ds, ds), METHODS[m].display if m in METHODS else m))
            if p:
                mean, std = float(p["mean"]), float(p["std"] or 0)
                ax.errorbar(i, mean, yerr=std, fmt="D", color="black", ms=4, capsize=2)
                shown.extend([mean - std, min(mean + std, 100.0)])
        ax.set_title(DISPLAY_NAMES.get(ds, ds))
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels([METHODS[m].display if m in METHODS else m for m in methods], rotation=60,
                           ha="right", fontsize=7)
        ax.set_ylabel("test AUROC (%)")
        if shown:
            ax.set_ylim(*_y_range(shown))
    handles = [Patch(color="#c6dbef", label="our mean"),
               Line2D([], [], ls="", marker=".", color="#08519c", ms=6, label="our runs (one dot per seed)")]
    if ref:
        handles.append(Line2D([], [], ls="", marker="D", color="black", ms=4, label="paper: mean ± std"))
    _figure_legend(fig, handles)
    fig.suptitle(_provenance(drawn or rows, rule, selection), fontsize=9)
    return fig


def fig_gamma_sweep(rows: Sequence[Mapping], datasets=None, methods=None, rule: str = "val/auto",
                    selection: str | None = None, profile: str | None = None) -> Figure:
    """AUROC (%) against the collected-anomaly ratio gamma_l, mean ± std over seeds, one panel per dataset.

    Rows are read as by :func:`fig_odds_runs` (``rule``, or ``selection``; ``profile``); one legend below
    the panels, and the title names the rule and the profile."""
    from .data import DISPLAY_NAMES
    from .experiments import METHODS
    from .tables import summarise

    rows = _ok_rows(rows, rule, selection, profile)
    datasets = list(datasets or dict.fromkeys(r["dataset"] for r in rows))
    methods = list(methods or dict.fromkeys(r["method"] for r in rows))
    fig, axes = _panels(len(datasets), 4.2, 3.4)
    cells = summarise(rows, ("dataset", "method", "gamma_l"), selection or rule)
    handles = {}
    for ax, ds in zip(axes, datasets):
        for i, m in enumerate(methods):
            label = METHODS[m].display if m in METHODS else m
            pts = sorted((float(c["gamma_l"]), c["mean"], c["std"]) for c in cells
                         if c["dataset"] == DISPLAY_NAMES.get(ds, ds) and c["method"] == label)
            if not pts:
                continue
            g, mu, sd = map(np.array, zip(*pts))
            line, = ax.plot(g, mu, "o-", label=label, ms=4, color=f"C{i % 10}")
            ax.fill_between(g, mu - sd, mu + sd, color=line.get_color(), alpha=0.15)
            handles.setdefault(label, line)
        ax.set_title(DISPLAY_NAMES.get(ds, ds))
        ax.set_xlabel("collected-anomaly ratio $\\gamma_l$")
        ax.set_ylabel("test AUROC (%)")
        ax.set_ylim(top=min(ax.get_ylim()[1], 100.0))     # a band of mean + std may pass 100; AUROC does not
    _figure_legend(fig, list(handles.values()))
    fig.suptitle(f"mean ± std over seeds; {_provenance(rows, rule, selection)}", fontsize=9)
    return fig


# ------------------------------------------------------------------------------- learning curves
def curves(rows: Sequence[Mapping]) -> dict[tuple, dict[str, np.ndarray]]:
    """The learning curves of :data:`aabigan.store.CURVE_SCHEMA` rows, per run (dataset, normal class,
    width): arrays ``steps`` and, for each of val/test x reconstruction/latent, the AUROC in percent."""
    import json

    out: dict[tuple, dict[str, list]] = {}
    for r in sorted((r for r in rows if r["status"] == "ok"), key=lambda r: int(r["epoch"])):
        key = (r["dataset"], int(r["normal_class"]), int(json.loads(r["settings"]).get("width", 0)))
        run = out.setdefault(key, {"steps": []})
        run["steps"].append(int(r["steps"]))
        for col in ("val_auroc_reconstruction", "val_auroc_latent", "test_auroc_reconstruction", "test_auroc_latent"):
            run.setdefault(col, []).append(100 * float(r[col]))
    return {k: {c: np.asarray(v) for c, v in run.items()} for k, run in out.items()}


def plateau_step(steps: np.ndarray, auroc: np.ndarray, within: float = 1.0, tail: int = 5) -> int:
    """The first step from which the curve stays within ``within`` points of its plateau, the median of its
    last ``tail`` readings (a curve that keeps moving reaches it only at its end)."""
    level = float(np.median(auroc[-tail:]))
    inside = np.abs(auroc - level) <= within
    last_out = np.flatnonzero(~inside)
    first = 0 if not len(last_out) else last_out[-1] + 1
    return int(steps[min(first, len(steps) - 1)])


def fig_learning_curves(rows: Sequence[Mapping], score: str = "reconstruction") -> Figure:
    """Validation (solid) and test (dashed) AUROC against training steps, one panel per dataset and width,
    one colour per (normal, collected) pair; a dotted line at each run's :func:`plateau_step`.  The title
    names the rows' profile and the settings they override."""
    import json

    runs = curves(rows)
    panels = sorted({(d, w) for d, _, w in runs})
    fig, axes = _panels(max(1, len(panels)), 4.2, 3.0, ncols=3)
    for ax, (d, w) in zip(axes, panels):
        for i, ((_, n, _), run) in enumerate(sorted((k, v) for k, v in runs.items() if (k[0], k[2]) == (d, w))):
            colour = f"C{i}"
            ax.plot(run["steps"], run[f"val_auroc_{score}"], color=colour, label=f"normal {n}")
            ax.plot(run["steps"], run[f"test_auroc_{score}"], color=colour, ls="--", lw=0.8)
            ax.axvline(plateau_step(run["steps"], run[f"val_auroc_{score}"]), color=colour, ls=":", lw=0.8)
        ax.set(title=f"{d}, width {w}", xlabel="training steps", ylabel=f"AUROC % ({score})")
        ax.legend(fontsize=7, loc="lower right")
    settings = [json.loads(s) for s in sorted({r.get("settings") or "{}" for r in rows})]
    keys = sorted({k for s in settings for k in s})
    values = {k: sorted({json.dumps(s.get(k)) for s in settings}) for k in keys}
    common = [f"{k}={settings[0][k]}" for k in keys if len(values[k]) == 1 and k in settings[0]]
    varying = [f"{k} " + " / ".join(values[k]) for k in keys if len(values[k]) > 1]   # e.g. width 16 / 32
    overrides = ("; overrides " + ", ".join(common) if common else "") + \
        ("; varying: " + ", ".join(varying) if varying else "")
    fig.suptitle(f"every epoch, score {score} (no selection)\nprofile {_profiles(rows)}{overrides}", fontsize=9)
    return fig


def at_step(run: Mapping[str, np.ndarray], key: str, step: int) -> float:
    """A curve of :func:`curves` read at the first epoch that reaches ``step`` steps (its last, if none)."""
    return float(run[key][min(int(np.searchsorted(run["steps"], step)), len(run["steps"]) - 1)])


def largest_dip(auroc: np.ndarray) -> float:
    """How far a curve falls below its best reading so far, at the worst (0 for a curve that never falls)."""
    auroc = np.asarray(auroc, float)
    return float(np.max(np.maximum.accumulate(auroc) - auroc))


def shortfall_at(runs: Mapping[tuple, Mapping[str, np.ndarray]], step: int,
                 key: str = "val_auroc_reconstruction", tail: int = 5) -> np.ndarray:
    """For each run of :func:`curves`: how far below its plateau (the median of its last ``tail`` readings) the
    curve ``key`` reads at ``step`` (:func:`at_step`), in points; negative where it reads above."""
    return np.array([float(np.median(r[key][-tail:])) - at_step(r, key, step) for r in runs.values()])


def cheapest_steps(runs: Mapping[tuple, Mapping[str, np.ndarray]], within: float = 1.0,
                   key: str = "val_auroc_reconstruction") -> int:
    """The fewest training steps, among those the runs recorded, from which on the *median* run reads within
    ``within`` points of its plateau (:func:`shortfall_at`) at every recorded step -- a noisy median that dips
    inside once and leaves again does not count (as :func:`plateau_step` for one curve).  The schedule issue 13
    asks the ``cpu`` profile to take from the learning-curve study; ValueError without runs."""
    if not runs:
        raise ValueError("no learning curves to choose a schedule from")
    candidates = sorted({int(s) for r in runs.values() for s in r["steps"]})
    inside = [np.median(shortfall_at(runs, s, key)) <= within for s in candidates]
    outside = [i for i, ok in enumerate(inside) if not ok]
    return candidates[min(outside[-1] + 1, len(candidates) - 1)] if outside else candidates[0]


def step_seconds(rows: Sequence[Mapping]) -> dict[int, float]:
    """Seconds a training step took in the learning-curve study, per network width: the median over its runs
    of fit seconds / steps at each run's last epoch.  The three image datasets feed the same networks the same
    3x32x32 input, so one width has one cost; a median, since runs that shared the machine ran slower."""
    import json

    last: dict[str, tuple[int, float, int]] = {}
    for r in rows:
        if r["status"] == "ok":
            steps, width = int(r["steps"]), int(json.loads(r["settings"]).get("width", 0))
            if steps > last.get(r["config_hash"], (0,))[0]:
                last[r["config_hash"]] = (steps, float(r["fit_seconds"]), width)
    per: dict[int, list[float]] = {}
    for steps, seconds, width in last.values():
        per.setdefault(width, []).append(seconds / steps)
    return {w: float(np.median(v)) for w, v in sorted(per.items())}


def schedule_options(rows: Sequence[Mapping], pairs: int = 10, workers: int = 2, within: float = 1.0,
                     key: str = "val_auroc_reconstruction") -> list[dict]:
    """What each (dataset, width) of the learning-curve study asks of a schedule: the :func:`cheapest_steps`
    from which its median run stays within ``within`` points of its plateau, the median and the worst run's
    shortfall there, the median plateau, and what a table cell of ``pairs`` runs on ``workers`` one-thread workers would take at
    that length (:func:`step_seconds`), in minutes."""
    runs, cost = curves(rows), step_seconds(rows)
    out = []
    for d, w in sorted({(d, w) for d, _, w in runs}):
        group = {k: r for k, r in runs.items() if (k[0], k[2]) == (d, w)}
        steps = cheapest_steps(group, within, key)
        short = shortfall_at(group, steps, key)
        out.append({"dataset": d, "width": w, "runs": len(group), "steps": steps,
                    "shortfall": float(np.median(short)), "worst": float(np.max(short)),
                    "plateau": float(np.median([np.median(r[key][-5:]) for r in group.values()])),
                    "step_seconds": cost[w], "cell_minutes": pairs / workers * steps * cost[w] / 60})
    return out


def choose_schedules(options: Sequence[Mapping], budget_minutes: float = 75.0) -> dict[str, dict]:
    """Per dataset, the cheapest of its :func:`schedule_options` (fewest cell minutes) whose table cell fits the
    budget -- "about an hour" a cell, read as at most 75 minutes.  The rule issue 13 sets for the ``cpu`` image
    profile; ValueError naming a dataset none of whose options fits."""
    out = {}
    for d in dict.fromkeys(o["dataset"] for o in options):
        fits = [o for o in options if o["dataset"] == d and o["cell_minutes"] <= budget_minutes]
        if not fits:
            raise ValueError(f"no schedule of the study fits {budget_minutes:g} minutes a cell on {d}")
        out[d] = dict(min(fits, key=lambda o: (o["cell_minutes"], o["width"])))
    return out
