"""Mixing diagnostics: the insertion-order test and the start-to-end rank correlation.

With one slice step per chain on the correlated 10-d Gaussian the chains barely move and
logZ is biased by about +2 nats; ``run`` must warn, naming num_inner_steps. With the
default number of steps it must stay quiet.
"""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import slicens
from slicens.core.evidence import insertion_test, start_correlation_test
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
