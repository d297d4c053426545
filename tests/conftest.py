"""Strict JAX for the whole suite: float64, and no implicit rank promotion."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session")
def tiny_lens():
    from slicens.problems import lens_problem

    return lens_problem("tiny")


@pytest.fixture(scope="session")
def small_result():
    """A quick converged run (2-d Gaussian) for tests of what is done with a result."""
    import slicens
    from slicens.problems import gaussian

    problem = gaussian(2)
    return slicens.run(problem.loglike, problem.prior, n_live=80, num_delete=8, seed=3,
                       progress=False)
