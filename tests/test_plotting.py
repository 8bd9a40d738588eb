"""The book's figure and table helpers return what the chapters display, under the Agg backend."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from aabigan import plotting


def test_figures_are_figures():
    rng = np.random.default_rng(0)
    X, kind = rng.normal(size=(30, 2)).astype(np.float32), np.repeat([0, 1, 2], 10)
    hist = [{"epoch": e, "val": 0.5 + 0.01 * e} for e in range(1, 6)]
    figs = [plotting.toy_figure({"data": (X, kind)}),
            plotting.scatter_figure({"clouds": {"a": X, "b": X + 1}}),
            plotting.score_map_figure({"norm": lambda P: np.linalg.norm(P, axis=1)}, X, kind, resolution=20),
            plotting.bars_figure({"p": np.ones(4) / 4, "q": np.array([0.5, np.nan, 0.25, 0.25])}),
            plotting.curves_figure(np.arange(3), {"y": np.arange(3.0)}, vlines={"mark": 1.0},
                                   styles={"y": {"ls": "--"}}),
            plotting.history_figure(hist, {"validation": "val"}, marks={"best": 5})]
    assert all(isinstance(f, Figure) for f in figs)


def test_bars_figure_names_groups_and_marks_heights():
    fig = plotting.bars_figure({"a": [3.0, 30.0], "b": [4.0, 40.0]}, xticklabels=[7, 9], hlines={"floor": 1.0},
                               log=True)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["7", "9"]
    assert ax.get_yscale() == "log"
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [1.0]
    assert "floor" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="tick labels"):
        plotting.bars_figure({"a": [1.0, 2.0]}, xticklabels=[0, 1, 2])


def test_markdown_table_formats_floats():
    md = plotting.markdown_table(["name", "auroc"], [["a", 0.98765], ["b", np.float32(0.5)], ["c", float("nan")]])
    assert md.data.splitlines() == ["| name | auroc |", "|---|---|", "| a | 0.988 |", "| b | 0.500 |",
                                    "| c | n/a |"]
    with pytest.raises(ValueError):
        plotting.markdown_table(["x", "x"], [[1, 2]])


def test_glue_without_myst_nb_is_silent(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name == "myst_nb":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_myst)
    assert plotting.glue("key", 1.0) is None


def test_weighted_hist_figure_uses_the_weights():
    import pytest
    from aabigan.plotting import weighted_hist_figure
    v, w = np.array([0.1, 0.5, 0.5, np.nan]), np.array([0.2, 0.3, 0.5, 0.0])
    fig = weighted_hist_figure({"a": (v, w), "b": (v, w[::-1])}, bins=[0, 0.25, 0.75], vline=("m", 0.5))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert np.allclose(heights, [0.2, 0.8])                  # the weights, not the counts; NaN dropped
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        weighted_hist_figure({"a": (v, w[:2])}, bins=[0, 1])


def test_bars_figure_relative_to_a_reference_and_legend_outside():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plotting.bars_figure({"a": [95.0, 190.0], "b": [110.0, 200.0], "ref": [100.0, 200.0]},
                               relative_to="ref", legend="outside", xticklabels=[0, 1])
    (ax,) = fig.axes
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([-5.0, -5.0, 10.0, 0.0])       # a's two bars, then b's: % from ref
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "difference from ref (%)"
    assert [ln.get_ydata()[0] for ln in ax.get_lines()] == [0.0]    # the reference at 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ref (reference)", "a", "b"]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    box, frame = ax.get_legend().get_window_extent(canvas.get_renderer()), ax.get_window_extent(canvas.get_renderer())
    assert box.x0 >= frame.x1                                        # beside the axes: it covers no bar
    with pytest.raises(ValueError, match="not one of the series"):
        plotting.bars_figure({"a": [1.0]}, relative_to="b")
    with pytest.raises(ValueError, match="do not go with relative_to"):
        plotting.bars_figure({"a": [1.0], "b": [2.0]}, relative_to="b", log=True)
    with pytest.raises(ValueError, match="legend must be"):
        plotting.bars_figure({"a": [1.0]}, legend="top")
