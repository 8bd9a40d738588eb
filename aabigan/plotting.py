"""Figures and small tables for the book's chapters (the paper's own figures are in :mod:`aabigan.figures`).

Every function takes arrays (or fitted detectors' score functions) and returns a matplotlib ``Figure``
(or, for tables, an ``IPython.display.Markdown`` object), so a chapter cell stays a few lines long and the
same picture can be drawn from a script.  Nothing here trains a model, and nothing calls ``plt.show()``:
the code works under the non-interactive ``Agg`` backend.

Point kinds follow :class:`aabigan.data.Split`: 0 = normal, 1 = anomaly of a collected (seen) type,
2 = novel anomaly.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .figures import KINDS

__all__ = ["glue", "KIND_STYLE", "plot_points", "toy_figure", "scatter_figure", "score_map_figure", "bars_figure",
           "curves_figure", "history_figure", "markdown_table", "weighted_hist_figure"]

#: how each kind of point is drawn: label and colour as in :mod:`aabigan.figures`, and a marker
KIND_STYLE = {k: (label, colour, marker) for (k, (label, colour)), marker in zip(KINDS.items(), "oX^")}


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's text (``{glue:text}`name```), via ``myst_nb.glue``.

    Where myst-nb is not installed (e.g. on Colab) nothing is stored, and the value is shown only when
    ``display`` is true, so a chapter runs unchanged outside the book build.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:
        if display:
            from IPython.display import display as _display
            _display(value)
        return
    _glue(name, value, display=display)


def _figure(n_panels: int = 1, width: float = 4.2, height: float = 3.6, ncols: int | None = None):
    ncols = n_panels if ncols is None else ncols
    nrows = int(np.ceil(n_panels / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def plot_points(ax, X: np.ndarray, kind: np.ndarray, size: float = 10, legend: bool = True) -> None:
    """Scatter 2-D points ``X`` on ``ax``, one colour and marker per kind (0 normal, 1 seen, 2 novel)."""
    X = np.asarray(X)
    kind = np.asarray(kind)
    for k, (label, colour, marker) in KIND_STYLE.items():
        sel = kind == k
        if sel.any():
            ax.scatter(X[sel, 0], X[sel, 1], s=size, c=colour, marker=marker, label=label,
                       edgecolors="white", linewidths=0.3)
    if legend:
        ax.legend(loc="lower right", fontsize=7, framealpha=0.8)
    ax.set_aspect("equal")


def toy_figure(panels: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """One scatter panel per entry ``title -> (X, kind)`` of 2-D points."""
    fig, axes = _figure(len(panels))
    for ax, (title, (X, kind)) in zip(axes, panels.items()):
        plot_points(ax, X, kind)
        ax.set_title(title, fontsize=10)
    return fig


def scatter_figure(panels: Mapping[str, Mapping[str, np.ndarray]], size: float = 6) -> Figure:
    """One panel per entry ``title -> {label: (n, 2) array}``: overlaid point clouds, e.g. data vs samples."""
    fig, axes = _figure(len(panels))
    for ax, (title, clouds) in zip(axes, panels.items()):
        for label, P in clouds.items():
            P = np.asarray(P)
            ax.scatter(P[:, 0], P[:, 1], s=size, alpha=0.5, label=label, edgecolors="none")
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="lower right", framealpha=0.8)
    return fig


def _grid(extent: Sequence[float], resolution: int):
    x0, x1, y0, y1 = extent
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()].astype(np.float32)


def score_map_figure(score_fns: Mapping[str, Callable[[np.ndarray], np.ndarray]], X: np.ndarray,
                     kind: np.ndarray, extent: Sequence[float] = (-5, 5, -4, 4), resolution: int = 120) -> Figure:
    """Fig. 1 of the paper, drawn from real models: one panel per anomaly-score function.

    Each ``score_fns[title]`` maps an (n, 2) float32 array to n anomaly scores (higher = more anomalous).
    Scores of different models live on different scales, so each map shows the *rank* of the score within
    its grid: dark = among the most normal-looking points of the plane (as the paper's "darker = higher
    density"), light = among the most anomalous.  The points ``X`` are drawn on top, coloured by ``kind``.
    """
    xx, yy, grid = _grid(extent, resolution)
    fig, axes = _figure(len(score_fns))
    for ax, (title, fn) in zip(axes, score_fns.items()):
        s = np.asarray(fn(grid), dtype=float)
        normality = 1.0 - s.argsort().argsort() / (len(s) - 1)      # 1 = lowest score on the grid
        im = ax.contourf(xx, yy, normality.reshape(xx.shape), levels=20, cmap="Greys")
        plot_points(ax, X, kind, size=7, legend=False)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="normality (rank of the score on the grid)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    return fig


def bars_figure(series: Mapping[str, np.ndarray], title: str = "", xlabel: str = "cell",
                ylabel: str = "", xticklabels: Sequence | None = None,
                hlines: Mapping[str, float] | None = None, log: bool = False, relative_to: str | None = None,
                legend: str = "best") -> Figure:
    """Grouped bars, one group per cell and one bar per entry ``name -> values`` (NaN drawn as 0).

    ``xticklabels`` names the groups (default 0, 1, ...); ``hlines`` marks named heights with dashed lines
    (e.g. a floor or a reference value); ``log`` draws the heights on a log scale.

    ``relative_to`` names one series as the reference: every other series is drawn as its difference from
    it, cell by cell, in percent of the reference's value (``100 * (v / ref - 1)``; 0 = the same, negative =
    lower), with a solid line at 0 for the reference itself -- for values that differ by a few percent on a
    large scale, where bars of the raw values look alike.  ``hlines`` and ``log`` are then refused, being
    heights in the raw units.  ``legend="outside"`` puts the legend to the right of the axes, where it
    covers no bar (default ``"best"``: matplotlib's choice inside the axes).
    """
    if legend not in ("best", "outside"):
        raise ValueError(f"legend must be 'best' or 'outside', got {legend!r}")
    if relative_to is not None:
        if relative_to not in series:
            raise ValueError(f"relative_to={relative_to!r} is not one of the series {list(series)}")
        if hlines or log:
            raise ValueError("hlines and log are heights in the series' own units; they do not go with relative_to")
        ref = np.asarray(series[relative_to], dtype=float)
        series = {name: 100 * (np.asarray(v, dtype=float) / ref - 1) for name, v in series.items()
                  if name != relative_to}
        ylabel = ylabel or f"difference from {relative_to} (%)"
    fig, (ax,) = _figure(1, width=7.0, height=3.0)
    k = len(series)
    width = 0.8 / k
    n = 0
    for i, (name, v) in enumerate(series.items()):
        v = np.asarray(v, dtype=float)
        n = max(n, len(v))
        ax.bar(np.arange(len(v)) + (i - (k - 1) / 2) * width, np.nan_to_num(v), width, label=name)
    if relative_to is not None:
        ax.axhline(0, c="black", lw=1, label=f"{relative_to} (reference)")
    if xticklabels is not None:
        if len(xticklabels) != n:
            raise ValueError(f"{len(xticklabels)} tick labels for {n} groups of bars")
        ax.set_xticks(np.arange(n), [str(t) for t in xticklabels])
    for name, y in (hlines or {}).items():
        ax.axhline(y, ls="--", c="grey", lw=1)
        ax.annotate(name, (0, y), xycoords=("axes fraction", "data"), xytext=(3, 3),
                    textcoords="offset points", fontsize=8, color="grey")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if legend == "outside":
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=8)
    return fig


def curves_figure(x: np.ndarray, curves: Mapping[str, np.ndarray], xlabel: str = "", ylabel: str = "",
                  title: str = "", vlines: Mapping[str, float] | None = None,
                  styles: Mapping[str, dict] | None = None) -> Figure:
    """Line plot of several curves over the same ``x``.

    ``vlines`` marks named x positions; ``styles`` maps a curve's name to keyword arguments of
    ``Axes.plot`` (e.g. ``{"color": "C0", "ls": "--"}``).
    """
    fig, (ax,) = _figure(1, width=6.0, height=3.4)
    for name, y in curves.items():
        ax.plot(x, y, label=name, **(styles or {}).get(name, {}))
    for name, pos in (vlines or {}).items():
        ax.axvline(pos, ls="--", c="grey", lw=1)
        ax.annotate(name, (pos, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8, color="grey")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


def weighted_hist_figure(panels: Mapping[str, tuple[np.ndarray, np.ndarray]], bins: Sequence[float],
                         xlabel: str = "", title: str = "", vline: tuple[str, float] | None = None) -> Figure:
    """One small panel per entry ``title -> (values, weights)``: the histogram of ``values`` under ``weights``.

    For a distribution on a finite set of cells, e.g. the optimal discriminator's values under the measure
    mu of chapter 5; NaN values (cells without mass) are dropped.  ``vline = (name, x)`` marks a position
    in every panel; ``bins`` are the common bin edges.
    """
    fig, axes = _figure(len(panels), width=2.6, height=2.4)
    for ax, (name, (v, w)) in zip(axes, panels.items()):
        v, w = np.asarray(v, dtype=float), np.asarray(w, dtype=float)
        if v.shape != w.shape:
            raise ValueError(f"{name}: {v.shape[0] if v.ndim else 0} values for {w.shape} weights")
        keep = np.isfinite(v)
        ax.hist(v[keep], bins=bins, weights=w[keep], color="C0")
        if vline is not None:
            ax.axvline(vline[1], ls="--", c="grey", lw=1)
            ax.annotate(vline[0], (vline[1], 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", fontsize=8, color="grey")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel)
    fig.suptitle(title, fontsize=10)
    return fig


def history_figure(history: Sequence[Mapping[str, float]], keys: Mapping[str, str],
                   marks: Mapping[str, int] | None = None, ylabel: str = "AUROC", title: str = "",
                   styles: Mapping[str, dict] | None = None) -> Figure:
    """Per-epoch curves from a detector's ``history_`` (a list of dicts with an ``"epoch"`` key).

    ``keys`` maps a legend label to a key of the records (e.g. ``"val_auroc_latent"``); ``marks`` maps a
    label to an epoch to draw as a vertical line (e.g. the epoch a selection rule picked); ``styles`` as
    in :func:`curves_figure`.
    """
    epochs = np.array([h["epoch"] for h in history])
    curves = {label: np.array([h[key] for h in history]) for label, key in keys.items()}
    return curves_figure(epochs, curves, xlabel="epoch", ylabel=ylabel, title=title, vlines=marks,
                         styles=styles)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], floatfmt: str = ".3f"):
    """A Markdown table (``IPython.display.Markdown``) with floats formatted by ``floatfmt``.

    Markdown keeps the committed notebook output plain text, so ``pytest --nbval`` compares it exactly.
    The table itself is laid out by :func:`aabigan.tables.to_markdown`.
    """
    from IPython.display import Markdown

    from .tables import to_markdown

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "n/a" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    if len(set(headers)) != len(headers):
        raise ValueError(f"column headers must be distinct, got {list(headers)}")
    return Markdown(to_markdown([dict(zip(headers, map(fmt, row))) for row in rows], list(headers)))
