"""Strict JAX for the whole suite: float64, and no implicit rank promotion."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

#: The longest test files (minutes of compilation each on 2 cores), in the order they
#: start: `make test` hands whole files to its two processes in collection order, so the
#: longest go first and the short ones fill in at the end instead of one long file
#: running alone.
LONGEST_FIRST = ("test_invariance", "test_auto_chunk", "test_hostile", "test_autofit",
                 "test_checkpoint", "test_analytic", "test_mixing", "test_anesthetic",
                 "test_oom", "test_memory", "test_peers", "test_readme", "test_cli",
                 "test_modes", "test_adaptive", "test_termination")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.stem
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file is kept


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
