"""num_inner_steps='auto' (the default): ellipsoid jumps, then as many slice steps as the
chains that did not jump need; an integer keeps the fixed steps and no jumps."""

import numpy as np
import pytest

import slicens
from slicens.problems import gaussian

PROBLEM = gaussian(2)
SEEDS = range(12)


@pytest.fixture(scope="module")
def auto_runs():
    return [slicens.run(PROBLEM.loglike, PROBLEM.prior, n_live=100, num_delete=10, seed=seed,
                        progress=False) for seed in SEEDS]


def test_auto_adapts_the_steps_and_records_them(auto_runs):
    full = slicens.default_num_inner_steps(PROBLEM.dim)
    for result in auto_runs:
        steps, jumps = result.inner_steps_per_iteration, result.jumps_per_iteration
        assert result.settings["adaptive"] and result.settings["max_jumps"] == 4
        assert steps.size == jumps.size == result.n_iterations
        assert steps[0] == full and np.all((steps >= 1) & (steps <= full))
        assert np.all((jumps >= 0) & (jumps <= 10))
        # on a Gaussian most chains jump, so the steps fall well below the full number
        assert np.mean(jumps[-20:]) > 7 and np.median(steps[-20:]) <= full // 2


def test_evidence_is_calibrated_at_the_default(auto_runs):
    """Over 12 seeds: the mean of logZ - truth within 2 standard errors of zero and the
    spread of (logZ - truth) / logZ_err between 0.7 and 1.3 (the benchmark,
    benchmarks/vs_nautilus.py, checks the same on harder problems)."""
    delta = np.array([r.logZ - PROBLEM.logZ for r in auto_runs])
    z = delta / np.array([r.logZ_err for r in auto_runs])
    assert abs(delta.mean()) < 2 * delta.std(ddof=1) / np.sqrt(len(delta)), delta
    assert 0.7 < z.std(ddof=1) < 1.3, z


def test_auto_costs_fewer_evaluations_than_the_fixed_default(auto_runs):
    fixed = slicens.run(PROBLEM.loglike, PROBLEM.prior, n_live=100, num_delete=10, seed=0,
                        num_inner_steps=slicens.default_num_inner_steps(PROBLEM.dim),
                        progress=False)
    assert auto_runs[0].n_evals < 0.6 * fixed.n_evals
    assert not fixed.settings["adaptive"] and fixed.settings["max_jumps"] == 0
    np.testing.assert_array_equal(fixed.inner_steps_per_iteration, 6)
    np.testing.assert_array_equal(fixed.jumps_per_iteration, 0)


@pytest.mark.parametrize("bad", ["fast", "", 0, 2.5])
def test_bad_num_inner_steps_is_named(bad):
    with pytest.raises((ValueError, TypeError), match="num_inner_steps"):
        slicens.run(PROBLEM.loglike, PROBLEM.prior, num_inner_steps=bad)
