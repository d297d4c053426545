"""Evidence and posterior moments against analytic answers, over several seeds.

Tolerances are tied to the sampler's own error: |logZ - truth| < 3 logZ_err. Posterior
moments are checked against tolerances scaled by the posterior width and the ESS.
"""

import numpy as np
import pytest

import slicens
from slicens.problems import correlated_gaussian, gaussian, mixture

SEEDS = (0, 1, 2)
PROBLEMS = {
    "gaussian_2d": lambda: gaussian(2),
    "gaussian_5d": lambda: gaussian(5),
    "gaussian_10d": lambda: gaussian(10),
    "correlated_10d": lambda: correlated_gaussian(10),
    "mixture_2d": lambda: mixture(2),
}


@pytest.fixture(scope="module", params=sorted(PROBLEMS))
def problem_runs(request):
    problem = PROBLEMS[request.param]()
    runs = [
        slicens.run(problem.loglike, problem.prior, n_live=200, num_delete=20, seed=seed)
        for seed in SEEDS
    ]
    return problem, runs


def test_logz_within_three_sigma(problem_runs):
    problem, runs = problem_runs
    for seed, result in zip(SEEDS, runs, strict=True):
        assert result.termination == "dlogz"
        deviation = result.logZ - problem.logZ
        assert abs(deviation) < 3 * result.logZ_err, (
            f"{problem.name} seed {seed}: logZ {result.logZ:.3f} +/- {result.logZ_err:.3f}, "
            f"truth {problem.logZ:.3f}"
        )


def test_logz_error_is_calibrated_across_seeds(problem_runs):
    """The seeds' scatter is consistent with the reported errors (no over-confidence)."""
    problem, runs = problem_runs
    z = np.array([(r.logZ - problem.logZ) / r.logZ_err for r in runs])
    assert np.sqrt(np.mean(z**2)) < 2.5, z


def test_posterior_moments(problem_runs):
    problem, runs = problem_runs
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
    problem = correlated_gaussian(10)
    result = slicens.run(problem.loglike, problem.prior, n_live=200, num_delete=20, seed=7)
    sd_true = np.sqrt(np.diag(problem.cov))
    corr_true = problem.cov / np.outer(sd_true, sd_true)
    cov = result.posterior_cov()
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    assert np.max(np.abs(corr - corr_true)) < 0.1
