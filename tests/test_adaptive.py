"""num_inner_steps='auto' (the default): ellipsoid jumps, then as many slice steps as the
chains that did not jump need; an integer keeps the fixed steps and no jumps."""

import functools

import numpy as np
import pytest

import slicens
from slicens.problems import gaussian

PROBLEM = gaussian(2)
SEEDS = range(48)  # 12 seeds gave a +2.2 standard-error mean by chance (48: +1.1)
QUICK_SEEDS = range(4)  # for what every run must show (the 48 are a slow battery)


@functools.cache
def auto_run(seed):
    return slicens.run(PROBLEM.loglike, PROBLEM.prior, n_live=100, num_delete=10, seed=seed,
                       progress=False)


@pytest.fixture(scope="module")
def quick_runs():
    return [auto_run(seed) for seed in QUICK_SEEDS]


@pytest.fixture(scope="module")
def auto_runs():
    return [auto_run(seed) for seed in SEEDS]


def test_auto_adapts_the_steps_and_records_them(quick_runs):
    full = slicens.default_num_inner_steps(PROBLEM.dim)
    for result in quick_runs:
        steps, jumps = result.inner_steps_per_iteration, result.jumps_per_iteration
        assert result.settings["adaptive"] and result.settings["max_jumps"] == 4
        assert steps.size == jumps.size == result.n_iterations
        assert steps[0] == full and np.all((steps >= 1) & (steps <= full))
        assert np.all((jumps >= 0) & (jumps <= 10))
        # on a Gaussian most chains jump, so the steps fall well below the full number
        assert np.mean(jumps[-20:]) > 7 and np.median(steps[-20:]) <= full // 2
        # one mode: the single ellipsoid throughout, never split into clusters
        np.testing.assert_array_equal(result.clusters_per_iteration, 1)


@pytest.mark.slow
def test_evidence_is_calibrated_at_the_default(auto_runs):
    """Over 48 seeds: the mean of logZ - truth within 2 standard errors of zero and the
    spread of (logZ - truth) / logZ_err between 0.7 and 1.3 (the benchmark,
    benchmarks/vs_nautilus.py, checks the same on harder problems)."""
    delta = np.array([r.logZ - PROBLEM.logZ for r in auto_runs])
    z = delta / np.array([r.logZ_err for r in auto_runs])
    assert abs(delta.mean()) < 2 * delta.std(ddof=1) / np.sqrt(len(delta)), delta
    assert 0.7 < z.std(ddof=1) < 1.3, z


def test_auto_costs_fewer_evaluations_than_the_fixed_default(quick_runs):
    fixed = slicens.run(PROBLEM.loglike, PROBLEM.prior, n_live=100, num_delete=10, seed=0,
                        num_inner_steps=slicens.default_num_inner_steps(PROBLEM.dim),
                        progress=False)
    assert quick_runs[0].n_evals < 0.6 * fixed.n_evals
    assert not fixed.settings["adaptive"] and fixed.settings["max_jumps"] == 0
    np.testing.assert_array_equal(fixed.inner_steps_per_iteration, 6)
    np.testing.assert_array_equal(fixed.jumps_per_iteration, 0)


@pytest.mark.parametrize("bad", ["fast", "", 0, 2.5])
def test_bad_num_inner_steps_is_named(bad):
    with pytest.raises((ValueError, TypeError), match="num_inner_steps"):
        slicens.run(PROBLEM.loglike, PROBLEM.prior, num_inner_steps=bad)


def test_boosted_posterior_adds_the_kept_points(quick_runs):
    """The chains' intermediate points join the dead points, weighted by their likelihood
    shell: a larger Kish ESS; the dead-point posterior and logZ are untouched."""
    for result in quick_runs:
        positions, weights = result.posterior_samples(boost=True)
        assert positions.shape[0] == result.positions.shape[0] + result.kept_positions.shape[0]
        assert weights.sum() == pytest.approx(1.0) and np.all(weights >= 0)
        assert result.kept_loglike.size > result.n_iterations  # most chains kept a point
        assert result.boosted_ess > 1.3 * result.ess
        unboosted = result.posterior_samples(boost=False)
        np.testing.assert_array_equal(unboosted[0], result.positions)
        np.testing.assert_array_equal(unboosted[1], result.weights)
    with pytest.raises(TypeError, match="boost"):
        quick_runs[0].posterior_samples(boost="yes")


@pytest.mark.slow
def test_boosted_posterior_is_right(auto_runs):
    """Over 48 seeds, the boosted posterior's moments are right within the dead points'
    own error."""
    sd = np.sqrt(np.diag(PROBLEM.cov))
    z2, variance_ratio = [], []
    for result in auto_runs:
        mean = result.posterior_mean(boost=True)
        z2.append(((mean - PROBLEM.mean) / (sd / np.sqrt(result.ess))) ** 2)
        variance_ratio.append(np.diag(result.posterior_cov(boost=True)) / sd**2)
    assert np.mean(z2) < 2.0, np.mean(z2)  # squared z-scores: mean 1 expected
    assert abs(np.mean(variance_ratio) - 1) < 0.05, np.mean(variance_ratio)
