"""Hand-off to anesthetic."""

import numpy as np
from scipy.special import logsumexp

import slicens
from tests import shared

NAMES = ["x0", "x1", "x2", "x3", "x4"]


def _anesthetic_rule(loglike, n_live):
    """anesthetic's expected-volume evidence from our dead points and live counts: X
    shrinks by n / (n + 1) per death, each point takes half the volume between its
    neighbours (trapezoid). Ours uses log t = -1 / n and rectangles (evidence.py)."""
    log_x = np.cumsum(np.log(n_live / (n_live + 1.0)))
    above = np.concatenate([[0.0], log_x[:-1]])
    below = np.concatenate([log_x[1:], [-np.inf]])
    log_w = np.log1p(-np.exp(below - above)) + above - np.log(2) + loglike
    return logsumexp(log_w), np.exp(log_w - logsumexp(log_w))


def test_to_anesthetic_hands_over_the_dead_points_exactly():
    """anesthetic's evidence, weights and means are its own rule applied to our dead
    points and live counts, to rounding; its sampled-shrinkage error is ours within the
    Monte Carlo error of both (ours: 500 draws, anesthetic's: 4000)."""
    result = shared.converged("gaussian_5d", seed=0)
    samples = result.to_anesthetic()
    assert list(samples.columns.get_level_values(0)[:5]) == NAMES
    logZ, weights = _anesthetic_rule(result.loglike, result.n_live_at_death.astype(float))
    np.testing.assert_allclose(samples.logZ(), logZ, rtol=1e-12)
    np.testing.assert_allclose(samples.get_weights() / samples.get_weights().sum(), weights,
                               rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(samples[NAMES].mean().to_numpy(),
                               weights @ result.positions, rtol=1e-10)
    # the two quadrature rules differ by far less than the volume noise
    assert abs(samples.logZ() - result.logZ) < 0.25 * result.logZ_err
    # the relative error of a standard deviation from N draws is 1 / sqrt(2 N)
    relative = np.sqrt(1 / (2 * 500) + 1 / (2 * 4000))
    saved = np.random.get_state()
    np.random.seed(1)  # anesthetic draws from numpy's global generator: a fixed seed
    try:
        draws = samples.logZ(4000)
    finally:
        np.random.set_state(saved)
    assert abs(draws.std() / result.logZ_err - 1) < 4 * relative


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
