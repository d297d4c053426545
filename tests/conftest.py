"""Strict JAX for the whole suite: float64, and no implicit rank promotion."""

from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

#: The longest test files (minutes of compilation each on 2 cores), in the order they
#: start: `make test` hands whole groups of files to its two processes in collection
#: order, so the longest go first and the short ones fill in at the end instead of one
#: long file running alone.
LONGEST_FIRST = ("test_auto_chunk", "test_memory", "test_analytic", "test_mixing",
                 "test_anesthetic", "test_termination", "test_invariance", "test_devices",
                 "test_hostile", "test_checkpoint", "test_autofit", "test_readme", "test_oom",
                 "test_slice_mcmc", "test_bounds", "test_bounded_result", "test_network",
                 "test_cli", "test_clusters",
                 "test_peers",
                 "test_modes", "test_adaptive")

#: Test files that share problems, runs and compiled programs (tests/shared.py) run in the
#: same process (the scheduler below); every other file is a group of its own.
SHARED_GROUPS = {
    "test_auto_chunk": "mapping", "test_memory": "mapping",
    "test_analytic": "converged", "test_mixing": "converged",
    "test_anesthetic": "converged", "test_termination": "converged",
    "test_plots": "converged", "test_results_io": "converged",  # small_result
}


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.stem
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist hands each process whole groups of files (SHARED_GROUPS, else one
    file), in collection order. (Its own ``--dist loadgroup`` does not group under
    pytest 9, which no longer takes a test's id from the attribute xdist rewrites.)"""
    from xdist.scheduler import LoadScopeScheduling

    class SharedGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SHARED_GROUPS.get(Path(path).stem, path)

    return SharedGroups(config, log)


@pytest.fixture(scope="session")
def tiny_lens():
    from slicens.problems import lens_problem

    return lens_problem("tiny")


@pytest.fixture(scope="session")
def small_result():
    """A converged run (5-d Gaussian) for tests of what is done with a result: the shared
    run of tests/shared.py, computed once per test process."""
    from tests import shared

    return shared.converged("gaussian_5d", 0)
