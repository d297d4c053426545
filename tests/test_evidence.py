"""The integrator: running (device) and final (host) halves agree; known cases are exact."""

import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from slicens.core import evidence


def standard_counts(n_live, k, iterations):
    """n, n-1, ..., n-k+1 per iteration, then the final live set n, ..., 1."""
    per_iteration = n_live - np.arange(k)
    return np.concatenate([np.tile(per_iteration, iterations), np.arange(n_live, 0, -1)])


def simulate_births(loglike, n_live, k, iterations):
    """Birth contours and prior-draw flags of a run with continuous likelihoods."""
    births = np.full(loglike.size, -np.inf)
    prior_draw = np.zeros(loglike.size, bool)
    # The first n_live to be born are prior draws; iteration t's replacements are born at
    # the contour loglike[t * k + k - 1]. Assign births to deaths after each contour.
    born = []
    for t in range(iterations):
        born += [loglike[t * k + k - 1]] * k
    rest = np.arange(loglike.size)
    # Deaths are in order; give each replacement to some later death above its contour.
    prior_draw[:] = True
    order = iter(rest[::-1])
    for contour in sorted(born, reverse=True):
        j = next(order)
        while loglike[j] <= contour:
            j = next(order)
        births[j] = contour
        prior_draw[j] = False
    return births, prior_draw


def test_running_update_matches_final_statistics():
    rng = np.random.default_rng(0)
    n_live, k, iterations = 20, 4, 30
    loglike = np.sort(rng.normal(size=k * iterations + n_live))
    logX, logZ, logW2 = jnp.zeros(()), jnp.array(-jnp.inf), jnp.array(-jnp.inf)
    for it in range(iterations):
        logX, logZ, logW2 = evidence.update(logX, logZ, logW2,
                                            jnp.asarray(loglike[it * k:(it + 1) * k]), n_live)
    live = jnp.asarray(loglike[k * iterations:])
    # remainder: final live points die one by one
    counts = standard_counts(n_live, k, iterations)
    stats = evidence.statistics(loglike, counts, np.random.default_rng(1))
    log_shells_dead = stats.log_weights[: k * iterations] + stats.logZ
    np.testing.assert_allclose(float(logZ), logsumexp(log_shells_dead), rtol=1e-12)
    # the on-device ESS if stopped now is the ESS the final statistics give
    ess = evidence.ess_if_stopped(logX, logZ, logW2, live[::-1])
    np.testing.assert_allclose(float(ess), stats.ess, rtol=1e-10)
    # the live-point remainder estimate is the mean likelihood times the remaining volume
    assert float(evidence.log_live_evidence(logX, live)) == float(
        logsumexp(loglike[k * iterations:]) - np.log(n_live) + logX
    )


def test_constant_likelihood_gives_its_value():
    counts = standard_counts(50, 5, 10)
    stats = evidence.statistics(np.full(counts.size, -2.5), counts, np.random.default_rng(0))
    assert abs(stats.logZ + 2.5) < 1e-12
    assert stats.logZ_err < 1e-12
    assert abs(stats.information) < 1e-9


def test_live_counts_from_births_continuous():
    """Birth/death counting gives the standard per-iteration counts without ties."""
    rng = np.random.default_rng(2)
    n_live, k, iterations = 6, 2, 4
    loglike = np.sort(rng.normal(size=n_live + k * iterations))
    births, prior_draw = simulate_births(loglike, n_live, k, iterations)
    assert prior_draw.sum() == n_live
    np.testing.assert_array_equal(
        evidence.live_counts(loglike, births, prior_draw), standard_counts(n_live, k, iterations)
    )


def test_live_counts_fall_through_a_plateau():
    """Three prior draws tied at -inf die with 5, 4, 3 live points (Fowlie et al. 2020),
    although replacements born at contour -inf appeared meanwhile."""
    loglike = np.array([-np.inf, -np.inf, -np.inf, 1.0, 2.0, 3.0, 4.0, 5.0])
    births = np.array([-np.inf] * 5 + [-np.inf, -np.inf, -np.inf])
    prior_draw = np.array([True] * 3 + [True, True] + [False] * 3)
    counts = evidence.live_counts(loglike, births, prior_draw)
    np.testing.assert_array_equal(counts, [5, 4, 3, 5, 4, 3, 2, 1])


def test_error_matches_skilling_estimate():
    """For a run with information H, the logZ error is about sqrt(H / n_live)."""
    n_live, iterations = 100, 3000
    counts = standard_counts(n_live, 1, iterations)
    logX = -np.cumsum(1.0 / counts)
    loglike = -0.5 * np.exp(2 * logX / 3) / 0.01  # 3-d Gaussian likelihood in X
    stats = evidence.statistics(loglike, counts, np.random.default_rng(0), n_draws=2000)
    expected = np.sqrt(stats.information / n_live)
    assert 0.8 * expected < stats.logZ_err < 1.25 * expected


def test_equal_weight_indices_follow_weights():
    log_w = np.log(np.array([0.1, 0.0, 0.6, 0.3]) + 1e-300)
    idx = evidence.equal_weight_indices(log_w, 10_000, np.random.default_rng(0))
    freq = np.bincount(idx, minlength=4) / idx.size
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=1e-3)
