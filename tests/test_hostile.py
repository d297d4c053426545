"""Likelihoods that misbehave: NaN regions, plateaus, caps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

import slicens
from slicens.priors import Normal, Uniform, as_prior


def test_nan_half_space_halves_the_evidence():
    """NaN where x0 < 0 counts as zero likelihood: Z is half the full Gaussian's.

    The Gaussian (centre (0, 0.5), sigma 0.3) sits more than 8 sigma inside the prior box
    [-3, 3]^2, so Z = 0.5 / 36 up to 1e-15.
    """
    centre = jnp.array([0.0, 0.5])

    def loglike(x):
        r = (x - centre) / 0.3
        value = -0.5 * jnp.sum(r**2) - 2 * jnp.log(0.3) - jnp.log(2 * jnp.pi)
        return jnp.where(x[0] < 0, jnp.nan, value)

    prior = [Uniform(-3, 3), Uniform(-3, 3)]
    truth = np.log(0.5 / 36)
    for seed in (0, 1, 2):
        r = slicens.run(loglike, prior, n_live=200, num_delete=20, seed=seed)
        assert r.n_invalid > 0
        assert np.all(r.positions[np.isfinite(r.loglike), 0] >= 0)
        assert abs(r.logZ - truth) < 3 * r.logZ_err, (seed, r.logZ, truth, r.logZ_err)
    # replacements born at -inf (contours inside the NaN region) still thread the run
    assert np.sum(r.loglike_birth == -np.inf) > 200
    np.testing.assert_allclose(r.modes.mass, [1.0])
    # anesthetic gets every dead point and our live counts: it would drop those at -inf
    # (logL not above logL_birth) and lose the prior volume they stand for
    samples = r.to_anesthetic()
    assert len(samples) == r.loglike.size
    np.testing.assert_array_equal(samples.nlive.to_numpy(), r.n_live_at_death)
    assert abs(samples.logZ() - r.logZ) < 0.25 * r.logZ_err
    assert np.all(samples.get_weights()[~np.isfinite(r.loglike)] == 0)


def test_constant_likelihood_terminates_on_the_plateau():
    r = slicens.run(lambda x: 0.0 * x[0] - 1.5, [Uniform(0, 1), Uniform(0, 1)], n_live=50,
                    num_delete=5)
    assert r.termination == "plateau"
    assert abs(r.logZ + 1.5) < 1e-9
    assert r.n_iterations == 0


def test_partial_plateau_terminates():
    """Likelihood flat at its maximum over a quarter of the prior."""
    def loglike(x):
        return -jnp.maximum(0.0, jnp.max(x) - 0.5) * 10

    # Z = 1/4 (the flat square) + the ramp: max(x) = m has density 2m on [1/2, 1]
    ramp, _ = quad(lambda m: 2 * m * np.exp(-10 * (m - 0.5)), 0.5, 1.0)
    truth = np.log(0.25 + ramp)
    for seed in (3, 4):
        r = slicens.run(loglike, [Uniform(0, 1), Uniform(0, 1)], n_live=100, num_delete=10,
                        seed=seed)
        assert r.termination in ("plateau", "dlogz")
        assert abs(r.logZ - truth) < 3 * r.logZ_err, (seed, r.logZ, truth, r.logZ_err)
        np.testing.assert_allclose(r.modes.mass, [1.0])  # tied births: one mode


S0, S1 = 1.0, 0.5  # prior and likelihood widths


def _normal_loglike(x):
    return jax.scipy.stats.norm.logpdf(x[0], 0.3, S1)


#: Normal prior N(0, S0), Normal likelihood N(0.3, S1): Z is a Normal density.
NORMAL_TRUTH = float(jax.scipy.stats.norm.logpdf(0.3, 0.0, np.hypot(S0, S1)))


SEEDS = (1, 2, 3)


def _sample_normal(key, n):
    return S0 * jax.random.normal(key, (n, 1))


def _normal_log_density(x):
    return jax.scipy.stats.norm.logpdf(x[0], 0.0, S0)


def _within_three_sigma(prior):
    prior = as_prior(prior)  # one prior object for every seed: the programs compile once
    for seed in SEEDS:
        r = slicens.run(_normal_loglike, prior, n_live=200, num_delete=20, seed=seed,
                        progress=False)
        assert abs(r.logZ - NORMAL_TRUTH) < 3 * r.logZ_err, (seed, r.logZ, r.logZ_err)


def test_custom_prior_pair():
    """A (sample, log_density) pair: Normal prior, Normal likelihood, analytic Z."""
    _within_three_sigma((_sample_normal, _normal_log_density))


@pytest.mark.slow  # the same evidence with the built-in prior (its sampling: test_slice_mcmc)
def test_builtin_normal_prior():
    _within_three_sigma([Normal(0.0, S0)])
