"""Evidence and posterior moments against analytic answers, over several seeds.

Tolerances are tied to the sampler's own error: |logZ - truth| < 3 logZ_err. Posterior
moments are checked against tolerances scaled by the posterior width and the ESS.
"""

import numpy as np
import pytest

from tests import shared

SEEDS = (0, 1, 2)
#: ``make test`` checks these at one seed; the battery of every problem at every seed is
#: marked slow (``make test-slow``; CI runs both).
QUICK = ("correlated_10d", "gaussian_5d", "mixture_2d")
PROBLEMS = shared.NAMES


def _cases():
    quick = [pytest.param((name, SEEDS[:1]), id=f"{name}-seed0") for name in QUICK]
    battery = [pytest.param((name, SEEDS), id=f"{name}-seeds", marks=pytest.mark.slow)
               for name in sorted(PROBLEMS)]
    return quick + battery


@pytest.fixture(params=_cases())
def problem_runs(request):
    name, seeds = request.param
    return shared.problem(name), seeds, [shared.converged(name, seed) for seed in seeds]


def test_logz_within_three_sigma(problem_runs):
    problem, seeds, runs = problem_runs
    for seed, result in zip(seeds, runs, strict=True):
        assert result.termination == "dlogz"
        deviation = result.logZ - problem.logZ
        assert abs(deviation) < 3 * result.logZ_err, (
            f"{problem.name} seed {seed}: logZ {result.logZ:.3f} +/- {result.logZ_err:.3f}, "
            f"truth {problem.logZ:.3f}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_logz_error_is_calibrated_across_seeds(name):
    """The seeds' scatter is consistent with the reported errors (no over-confidence)."""
    problem, runs = shared.problem(name), [shared.converged(name, seed) for seed in SEEDS]
    z = np.array([(r.logZ - problem.logZ) / r.logZ_err for r in runs])
    assert np.sqrt(np.mean(z**2)) < 2.5, z


def test_posterior_moments(problem_runs):
    problem, _, runs = problem_runs
    sd = np.sqrt(np.diag(problem.cov))
    for result in runs:
        # Standard error of a weighted mean is about sd / sqrt(ESS); allow 5 of them.
        tol_mean = 5 * sd / np.sqrt(result.ess)
        np.testing.assert_array_less(np.abs(result.posterior_mean() - problem.mean), tol_mean)
        # Relative error of a variance from ESS draws is about sqrt(2 / ESS); allow 5.
        var = np.diag(result.posterior_cov())
        np.testing.assert_array_less(
            np.abs(var / sd**2 - 1), 5 * np.sqrt(2 / result.ess) + 0.05
        )


def test_correlations_recovered():
    problem = shared.problem("correlated_10d")
    result = shared.converged("correlated_10d", seed=7)
    sd_true = np.sqrt(np.diag(problem.cov))
    corr_true = problem.cov / np.outer(sd_true, sd_true)
    cov = result.posterior_cov()
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    assert np.max(np.abs(corr - corr_true)) < 0.1
