"""Multimodal posteriors: the live points split into clusters, jumps move chains between
modes in proportion to their volume, and the mass of each mode comes out right."""

import numpy as np
import pytest

import slicens
from slicens.problems import weighted_mixture

pytestmark = pytest.mark.timeout(600)

WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])
PROBLEM = weighted_mixture(3, tuple(WEIGHTS))
CENTRES = np.outer(-0.5 + np.arange(4) / 3, np.ones(3))
SEEDS = range(4)


@pytest.fixture(scope="module")
def mixture_runs():
    return [slicens.run(PROBLEM.loglike, PROBLEM.prior, n_live=200, seed=seed, progress=False)
            for seed in SEEDS]


def _masses(result):
    """Posterior mass of each mode (dead points by nearest centre) and the standard
    error of each weighted fraction, sqrt(sum w^2 (1_mode - mass)^2): what exact nested
    sampling scatters by (benchmarks/mode_weights.py)."""
    nearest = np.argmin(np.sum((result.positions[:, None, :] - CENTRES[None]) ** 2, -1), 1)
    w = result.weights / result.weights.sum()
    member = nearest[:, None] == np.arange(4)[None, :]
    masses = w @ member
    errors = np.sqrt(np.sum(w[:, None] ** 2 * (member - masses[None, :]) ** 2, axis=0))
    return masses, errors


def test_clusters_are_found_and_recorded(mixture_runs):
    for result in mixture_runs:
        clusters = result.clusters_per_iteration
        assert clusters.size == result.n_iterations
        assert clusters[0] == 1  # live points spread over the prior: one region
        assert clusters.max() >= 3  # the modes, once the contour separates them (the
        # lightest may die before the last two part)
        assert np.all(clusters <= result.settings["max_clusters"])


def test_mode_masses_match_the_weights(mixture_runs):
    """Every mode's mass within 5 standard errors of its weight (the error exact nested
    sampling would scatter by; slicens's scatter is measured against it in
    benchmarks/mode_weights.py), never below a third of it; logZ within 3 sigma."""
    for result in mixture_runs:
        masses, errors = _masses(result)
        assert np.all(np.abs(masses - WEIGHTS) < 5 * errors), (masses, errors)
        assert np.all(masses > WEIGHTS / 3), masses
        assert abs(result.logZ - PROBLEM.logZ) < 3 * result.logZ_err
