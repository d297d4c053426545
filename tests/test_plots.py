"""Figures: a corner plot and the run diagnostic, written as PNG."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import slicens  # noqa: E402
from slicens import plots  # noqa: E402
from slicens.problems import gaussian  # noqa: E402


@pytest.fixture(scope="module")
def result():
    problem = gaussian(2)
    return slicens.run(problem.loglike, problem.prior, n_live=80, num_delete=8, seed=3,
                       progress=False)


def test_diagnostics_png(result, tmp_path):
    figure = plots.diagnostics(result, tmp_path / "diagnostics.png")
    titles = [axis.get_title() for axis in figure.axes]
    assert any(t.startswith("insertion test p =") for t in titles)
    assert {"likelihood and weight", "live points at each death",
            "evaluations per iteration"} <= set(titles)
    assert (tmp_path / "diagnostics.png").stat().st_size > 10_000


def test_corner_png(result, tmp_path):
    plots.corner(result, tmp_path / "corner.png")
    assert (tmp_path / "corner.png").stat().st_size > 10_000
