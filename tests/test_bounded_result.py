"""What users do with a bounded run's result (``method="bounds"``): save and load it,
read its summary, hand it to anesthetic, draw its diagnostics (tests/shared.py's run)."""

import dataclasses
import math
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import slicens  # noqa: E402
from slicens import plots  # noqa: E402
from slicens.host.bounded_nested import DISAGREEMENT, nested_view, warn_if_disagree  # noqa: E402
from slicens.host.result_files import jsonable  # noqa: E402
from tests import shared  # noqa: E402

#: The shared run's problem: a 2-d Gaussian (sd 0.5) well inside the box [-3, 3]^2.
LOGZ = math.log(2 * math.pi * 0.25 / 36)
INFORMATION = -1.0 - LOGZ  # E[log L] - log Z, E[log L] = -dim / 2


@pytest.fixture(scope="module")
def result():
    return shared.bounded_run()


def test_a_bounded_result_round_trips_exactly(result, tmp_path):
    loaded = slicens.load(result.save(tmp_path / "run.npz"))
    assert isinstance(loaded, slicens.BoundedResult)
    for field in dataclasses.fields(result):
        a, b = getattr(result, field.name), getattr(loaded, field.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=field.name)
            assert a.dtype == b.dtype, field.name
        else:  # JSON's keys are strings, its lists tuples' ("measured" chunk sizes)
            assert jsonable(a) == jsonable(b), field.name
    assert loaded.summary() == result.summary()
    np.testing.assert_array_equal(loaded.equal_weight_samples(50),
                                  result.equal_weight_samples(50))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        result.save(tmp_path / "run.npz")


def test_the_summary_names_the_estimator_the_phases_and_the_bounds(result):
    text = result.summary()
    assert f"logZ = {result.logZ:.3f} +/- {result.logZ_err:.3f}" in text
    assert (f"importance weights of the sampling phase's {result.phase_evals['sampling']:,} "
            f"points (the exploration's {result.phase_evals['exploration']:,} discarded)"
            in text)
    assert f"{result.n_bounds} bounds (0 refined by networks)" in text
    assert f"ESS = {result.ess:.0f}" in text and "stopped by min_ess" in text
    assert repr(result).startswith("BoundedResult(logZ=")


def test_results_saved_before_the_exploration_setting_say_how_they_weighed(result):
    assert result.exploration == result.settings["exploration"]
    for old, new in ((True, "discard"), (False, "every")):
        settings = {k: v for k, v in result.settings.items() if k != "exploration"}
        older = dataclasses.replace(result, settings=dict(settings, discard_exploration=old))
        assert older.exploration == new
    assert "importance weights of every point" in older.estimator


def test_evidence_information_and_ess_growth_match_the_analytic_values(result):
    assert abs(result.logZ - LOGZ) < 3 * result.logZ_err
    # the information's error: sd(log L) / sqrt(ESS), sd(log L) = sqrt(dim / 2) = 1
    assert abs(result.information - INFORMATION) < 5 / math.sqrt(result.ess)
    growth = result.ess_growth()
    assert growth.shape == (result.n_evals,) and growth[-1] == pytest.approx(result.ess)
    assert np.all(growth[: result.phase_evals["exploration"]] == 0)  # discarded
    shares = result.bound_evidence_shares
    assert shares.shape == (result.n_bounds,) and shares.sum() == pytest.approx(1.0)
    above = result.bound_shares_above
    assert above[0] == 1.0 and np.all((above[1:] > 0) & (above[1:] < 1))


def test_the_nested_sampling_estimate_beside_finds_the_analytic_evidence(result):
    """The points above their bounds' thresholds, read as threads born there, are a
    nested-sampling run: its logZ within its own (larger) error of the truth and of the
    importance-weighted logZ; a loaded result computes the same."""
    view = result.nested
    assert abs(result.logZ_nested - LOGZ) < 3 * result.logZ_nested_err
    assert result.logZ_err < result.logZ_nested_err  # the importance weights count volumes
    assert result.estimates_disagreement < DISAGREEMENT
    births = result.bound_thresholds[result.source[view.index]]
    from_cube = result.source[view.index] == 0
    np.testing.assert_array_equal(view.loglike_birth, np.where(from_cube, -np.inf, births))
    assert np.all(result.loglike[view.index] > view.loglike_birth)
    assert np.all(np.diff(result.loglike[view.index]) >= 0) and view.n_live.min() >= 1
    left_out = np.setdiff1d(np.arange(result.n_evals), view.index)
    assert left_out.size and np.all(result.source[left_out] > 0)
    assert np.all(result.loglike[left_out] <= result.bound_thresholds[result.source[left_out]])
    assert f"logZ = {result.logZ_nested:.3f} +/- {result.logZ_nested_err:.3f}" in result.summary()


def test_a_bound_that_cuts_its_contour_pulls_the_nested_estimate_high_and_warns(result):
    """Drop the bounded draws beyond 0.8 of their birth contour's radius (as if every
    bound held only that much of its contour; L = -r^2 / 2 sd^2): the threads crowd into
    less volume than they are credited with, the nested-sampling estimate reads high by
    far more than its error, and the check names both estimates."""
    cut = (result.source > 0) & (result.loglike < 0.8**2 * result.bound_thresholds[result.source])
    view = nested_view(result.loglike[~cut], result.source[~cut], result.bound_thresholds)
    assert view.logZ - LOGZ > 3 * view.logZ_err
    with pytest.warns(RuntimeWarning, match="a bound likely cuts its contour") as caught:
        warn_if_disagree(result.logZ, result.logZ_err, view, refined=False)
    assert f"logZ = {result.logZ:.4f} +/- {result.logZ_err:.4f}" in str(caught[0].message)
    assert f"logZ = {view.logZ:.4f} +/- {view.logZ_err:.4f}" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_disagree(result.logZ, result.logZ_err, result.nested, refined=False)  # agree
        # networks' bounds cut their contours a little by design: reading high is expected
        warn_if_disagree(result.logZ, result.logZ_err, view, refined=True)
    # reading low, which no cut explains, warns whether or not networks refined the bounds
    low = view._replace(logZ=result.logZ - (view.logZ - result.logZ))
    with pytest.warns(RuntimeWarning, match="the nested-sampling estimate is the lower"):
        warn_if_disagree(result.logZ, result.logZ_err, low, refined=True)


def test_to_anesthetic_gives_the_weighted_posterior_with_names_labels_and_logl(result):
    from anesthetic import NestedSamples, Samples

    samples = result.to_anesthetic()
    assert isinstance(samples, Samples) and not isinstance(samples, NestedSamples)
    kept = result.log_weights > -np.inf
    assert len(samples) == kept.sum() == result.phase_evals["sampling"]
    np.testing.assert_allclose(samples.get_weights() / samples.get_weights().sum(),
                               result.weights[kept], rtol=1e-12)
    np.testing.assert_array_equal(samples.logL.to_numpy(), result.loglike[kept])
    assert samples.get_labels().tolist()[:2] == [r"$\alpha$", r"$\beta$"]
    np.testing.assert_allclose(samples[["a", "b"]].mean().to_numpy(),
                               result.posterior_mean(), rtol=1e-10)


def test_to_anesthetic_nested_gives_the_nested_sampling_view(result):
    from anesthetic import NestedSamples

    samples = result.to_anesthetic(nested=True)
    view = result.nested
    assert isinstance(samples, NestedSamples) and len(samples) == view.index.size
    np.testing.assert_array_equal(samples.logL.to_numpy(), result.loglike[view.index])
    np.testing.assert_array_equal(samples.logL_birth.to_numpy(), view.loglike_birth)
    # the view's live counts, handed over (anesthetic would drop points at -inf)
    np.testing.assert_array_equal(samples.nlive.to_numpy(), view.n_live)
    # anesthetic's quadrature differs from the rectangles by far less than the volume noise
    assert abs(samples.logZ() - result.logZ_nested) < 0.1 * result.logZ_nested_err
    assert samples.get_labels().tolist()[:2] == [r"$\alpha$", r"$\beta$"]


def test_the_diagnostics_figure_shows_the_bounds(result, tmp_path):
    figure = plots.diagnostics(result, tmp_path / "diagnostics.png")
    titles = {axis.get_title() for axis in figure.axes}
    assert {"likelihood of each point", "bounds: volume and fit", "evidence per bound",
            "ESS as the run grew"} <= titles
    ess_axis = [a for a in figure.axes if a.get_title() == "ESS as the run grew"][0]
    np.testing.assert_array_equal(ess_axis.lines[0].get_ydata(), result.ess_growth())
    assert (tmp_path / "diagnostics.png").stat().st_size > 10_000
    plots.corner(result, tmp_path / "corner.png")
    assert (tmp_path / "corner.png").stat().st_size > 10_000
