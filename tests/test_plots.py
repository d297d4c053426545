"""Figures: a corner plot and the run diagnostic, written as PNG."""

import matplotlib
import numpy as np

matplotlib.use("Agg")


from slicens import plots  # noqa: E402


def test_diagnostics_png(small_result, tmp_path):
    figure = plots.diagnostics(small_result, tmp_path / "diagnostics.png")
    titles = [axis.get_title() for axis in figure.axes]
    assert any(t.startswith("insertion test p =") for t in titles)
    assert {"likelihood and weight", "live points at each death",
            "evaluations, slice steps and clusters per iteration"} <= set(titles)
    steps_axis = [a for a in figure.axes if a.get_ylabel() == "slice steps per chain, clusters"]
    steps, clusters = steps_axis[0].lines
    np.testing.assert_array_equal(steps.get_ydata(), small_result.inner_steps_per_iteration)
    np.testing.assert_array_equal(clusters.get_ydata(), small_result.clusters_per_iteration)
    assert (tmp_path / "diagnostics.png").stat().st_size > 10_000


def test_corner_png(small_result, tmp_path):
    plots.corner(small_result, tmp_path / "corner.png")
    assert (tmp_path / "corner.png").stat().st_size > 10_000
