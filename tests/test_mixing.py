"""Mixing diagnostics: the insertion-order test and the start-to-end rank correlation.

With one slice step per chain on the correlated 10-d Gaussian the chains barely move and
logZ is biased by about +2 nats; ``run`` must warn, naming num_inner_steps. With the
default number of steps it must stay quiet.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slicens
from slicens.core.evidence import insertion_test, start_correlation_test
from slicens.core.ranks import survivor_ranks
from tests import shared

PROBLEM = shared.problem("correlated_10d")
N_LIVE, NUM_DELETE = shared.STANDARD["n_live"], shared.STANDARD["num_delete"]


@pytest.mark.parametrize("seed", [0, 1])
def test_warns_with_one_inner_step(seed):
    with pytest.warns(RuntimeWarning, match="do not mix.*num_inner_steps \\(now 1\\)"):
        result = slicens.run(PROBLEM.loglike, PROBLEM.prior, num_inner_steps=1, seed=seed,
                             progress=False, **shared.STANDARD)
    start = result.start_correlation_test
    assert start["pvalue"] < 1e-3 and start["rho"] > 0.3


def test_warns_with_one_inner_step_and_a_nan_region():
    """Ties at -inf (the NaN region's points) do not silence the tests: only survivors
    above the contour are ranked. Fails where any tie turned the warnings off."""

    def with_nan_region(x):  # NaN over the lowest tenth of the box in x0
        return jnp.where(x[0] < -4.0, jnp.nan, PROBLEM.loglike(x))

    with pytest.warns(RuntimeWarning, match="do not mix.*num_inner_steps \\(now 1\\)"):
        result = slicens.run(with_nan_region, PROBLEM.prior, num_inner_steps=1, seed=0,
                             progress=False, **shared.STANDARD)
    assert np.sum(result.loglike == -np.inf) >= 2  # tied log-likelihoods
    assert result.start_correlation_test["rho"] > 0.3


@pytest.mark.parametrize("seed", [0, 1])
def test_quiet_with_the_default(seed):
    result = shared.converged("correlated_10d", seed)  # the run of tests/test_analytic.py
    assert not [w for w in shared.warnings_of("correlated_10d", seed)
                if issubclass(w.category, RuntimeWarning)]
    assert result.insertion_test["pvalue"] > 1e-3 and result.start_correlation_test["pvalue"] > 1e-3
    n_ranks = N_LIVE - NUM_DELETE + 1
    assert result.insertion_ranks.min() >= 0 and result.insertion_ranks.max() < n_ranks
    assert result.insertion_test["n"] == result.n_iterations * NUM_DELETE


def test_insertion_test_calibrated_on_uniform_ranks():
    rng = np.random.default_rng(0)
    pvalues = [insertion_test(rng.integers(0, 11, 500), 11).pvalue for _ in range(400)]
    assert 0.02 < np.mean(np.array(pvalues) < 0.05) < 0.09  # about 5% false alarms


def test_insertion_test_detects_bias():
    rng = np.random.default_rng(1)
    biased = np.minimum(rng.integers(0, 101, 5000) + 5, 100)
    assert insertion_test(biased, 101).pvalue < 1e-6


def test_ranks_with_ties_are_uniform_above_the_contour():
    """Survivors and new points on four discrete levels, the contour at the lowest: ranked
    among the survivors above the contour, ties broken at random, the ranks are uniform;
    plain ranks among all survivors are not."""
    rng = np.random.default_rng(3)
    levels = rng.choice(4, size=(300, 60), p=[0.4, 0.3, 0.2, 0.1]).astype(np.float64)
    survivors = jnp.asarray(np.sort(levels, axis=1))
    above = rng.choice([1.0, 2.0, 3.0], size=(300, 5), p=[0.5, 1 / 3, 1 / 6])  # L > 0
    keys = jax.random.split(jax.random.key(0), 300)
    ranks = jax.vmap(lambda k, s, new: survivor_ranks(k, s, 0.0, new, s[-5:]))(
        keys, survivors, jnp.asarray(above))
    counts = np.repeat(np.asarray(ranks["rank_count"]), 5)
    np.testing.assert_array_equal(np.asarray(ranks["rank_count"]),
                                  np.sum(levels > 0, axis=1) + 1)
    assert insertion_test(np.ravel(ranks["insertion_rank"]), counts).pvalue > 0.01
    start = np.ravel(ranks["start_rank"])  # the top five survivors, among the others
    assert start.min() >= 0 and np.all(start <= counts - 2)
    plain = np.ravel(jax.vmap(jnp.searchsorted)(survivors, jnp.asarray(above)))
    assert insertion_test(plain, 61).pvalue < 1e-6


def test_start_correlation_test_on_independent_and_copied_ranks():
    rng = np.random.default_rng(2)
    start = rng.integers(0, 50, 2000)
    assert start_correlation_test(start, rng.integers(0, 50, 2000)).pvalue > 1e-3
    assert start_correlation_test(start, start).rho == pytest.approx(1.0)


def test_no_mixing_warning_on_a_plateau():
    """Ties make ranks non-uniform by design; the tests stay silent there, and the
    evidence of the four plateaus is right: Z = (1 + e + e^2 + e^3) / 4."""

    def stepped(x):
        return jnp.floor(4 * x[0])  # four plateaus

    truth = np.log(np.sum(np.exp(np.arange(4.0))) / 4)
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            result = slicens.run(stepped, [slicens.Uniform(0, 1)] * 2, n_live=50,
                                 num_delete=5, seed=seed, progress=False)
        assert result.termination == "plateau"
        assert abs(result.logZ - truth) < 3 * result.logZ_err, (seed, result.logZ, truth)
