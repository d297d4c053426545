"""Hand-off to anesthetic."""

import numpy as np

import slicens
from tests import shared

NAMES = ["x0", "x1", "x2", "x3", "x4"]


def test_to_anesthetic_agrees_on_logz_and_means():
    result = shared.converged("gaussian_5d", seed=0)
    samples = result.to_anesthetic()
    assert list(samples.columns.get_level_values(0)[:5]) == NAMES
    draws = samples.logZ(400)
    combined = np.hypot(result.logZ_err, draws.std())
    assert abs(draws.mean() - result.logZ) < 3 * combined
    assert abs(draws.std() - result.logZ_err) < 0.3 * result.logZ_err
    means = samples[NAMES].mean().to_numpy()
    np.testing.assert_allclose(means, result.posterior_mean(), atol=3 * 0.3 / np.sqrt(result.ess))


def test_equal_weight_samples_match_weighted_moments():
    result = shared.converged("gaussian_5d", seed=0)
    draws = result.equal_weight_samples(4000, seed=1)
    assert draws.shape == (4000, 5)
    np.testing.assert_allclose(draws.mean(axis=0), result.posterior_mean(), atol=0.02)
    assert 0 < result.ess <= result.positions.shape[0]
    assert result.information > 0


def test_names_and_latex_labels_from_the_prior_and_finite_births():
    prior = [slicens.Uniform(-1, 1, name="centre", label=r"$x_c$"),
             slicens.LogUniform(0.1, 10, name="sigma", label=r"$\sigma$")]
    result = slicens.run(lambda x: -0.5 * ((x[0] - 0.1) / 0.1) ** 2 + 0.0 * x[1], prior,
                         n_live=100, num_delete=10, seed=1, progress=False)
    samples = result.to_anesthetic()
    assert samples.get_label("centre") == r"$x_c$"
    assert samples.get_label("sigma") == r"$\sigma$"
    births = samples.logL_birth.to_numpy()
    assert not np.isnan(births).any()
    assert np.isfinite(samples.logZ())
    np.testing.assert_array_equal(samples.nlive.to_numpy(), result.n_live_at_death)


def test_boosted_posterior_goes_to_anesthetic_as_weighted_samples(small_result):
    samples = small_result.to_anesthetic(boost=True)
    positions, weights = small_result.posterior_samples(boost=True)
    assert len(samples) == positions.shape[0] > small_result.positions.shape[0]
    np.testing.assert_allclose(samples.get_weights(), weights)
    np.testing.assert_allclose(samples[list(small_result.names)].mean().to_numpy(),
                               small_result.posterior_mean(boost=True), rtol=1e-10)
    assert samples.get_label("x0") == "x0"
