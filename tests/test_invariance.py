"""Chunk and schedule invariance: results do not depend on how particles are batched.

For a fixed seed, the lane scheduler and the reference (chunked) schedule, at any chunk
size, take the same path. Bit-identity is asserted wherever XLA compiles the likelihood
the same way: every batch width on the Gaussian, every width >= 2 on the lens (see
docs/design.md, "Chunk invariance", for why a batch of one differs in the last bits).
`make test` checks widths 1 and 3 and both schedules on the Gaussian, and 3 lanes against
the whole batch on the lens (each run costs a compilation, ~10 s on a CPU); the full
matrix of chunk sizes and schedules, and the lens at width 1 and on the reference
schedule, are marked slow (`make test-slow`, which CI runs too).
"""

import numpy as np
import pytest

import slicens
from slicens.problems import gaussian, weighted_mixture

N_LIVE, NUM_DELETE = 40, 10
CHUNKS = (None, 1, 3, 8, NUM_DELETE)
LENS_CHUNKS = (None, 1, 3, NUM_DELETE)  # fewer: each lens compilation costs ~10 s
SCHEDULES = ("lanes", "chunked")


def _run(problem, chunk, schedule, **kwargs):
    return slicens.run(problem.loglike, problem.prior, n_live=N_LIVE, num_delete=NUM_DELETE,
                       chunk_size=chunk, schedule=schedule, seed=11, **kwargs)


def _assert_identical(a, b):
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.loglike, b.loglike)
    np.testing.assert_array_equal(a.loglike_birth, b.loglike_birth)
    assert a.logZ == b.logZ
    assert a.logZ_err == b.logZ_err
    assert (a.n_evals, a.n_iterations, a.n_failed_steps) == (
        b.n_evals, b.n_iterations, b.n_failed_steps)
    np.testing.assert_array_equal(a.inner_steps_per_iteration, b.inner_steps_per_iteration)
    np.testing.assert_array_equal(a.jumps_per_iteration, b.jumps_per_iteration)
    np.testing.assert_array_equal(a.kept_positions, b.kept_positions)
    np.testing.assert_array_equal(a.kept_loglike, b.kept_loglike)
    np.testing.assert_array_equal(a.clusters_per_iteration, b.clusters_per_iteration)


def _assert_same_path(a, b):
    """Same points and counts; log-likelihoods equal up to XLA's width-1 rounding."""
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_allclose(a.loglike, b.loglike, rtol=1e-12, atol=0)
    np.testing.assert_allclose(a.loglike_birth, b.loglike_birth, rtol=1e-12, atol=0)
    assert (a.n_evals, a.n_iterations) == (b.n_evals, b.n_iterations)
    assert a.logZ == pytest.approx(b.logZ, rel=1e-12, abs=0)


class Runs(dict):
    """Runs of one problem by ``(chunk, schedule)``, each made when first asked for and
    shared by the tests of this module (each costs a compilation)."""

    def __init__(self, problem, **kwargs):
        super().__init__()
        self.problem, self.kwargs = problem, kwargs

    def __missing__(self, key):
        self[key] = _run(self.problem, *key, **self.kwargs)
        return self[key]


@pytest.fixture(scope="module")
def gaussian_runs():
    return Runs(gaussian(5))


@pytest.fixture(scope="module")
def lens_runs(tiny_lens):
    return Runs(tiny_lens, max_iterations=8)


def test_gaussian_identical_across_widths_and_schedules(gaussian_runs):
    """The quick check (make test): widths 1 and 3, both schedules (the whole batch is
    checked on the lens)."""
    reference = gaussian_runs[(3, "chunked")]
    assert reference.termination == "dlogz"
    for key in ((1, "lanes"), (3, "lanes")):
        _assert_identical(reference, gaussian_runs[key])


@pytest.mark.slow
def test_gaussian_identical_for_every_chunk_and_schedule(gaussian_runs):
    reference = gaussian_runs[(None, "chunked")]
    for key in [(c, s) for c in CHUNKS for s in SCHEDULES]:
        _assert_identical(reference, gaussian_runs[key])


@pytest.mark.slow  # two lens compilations; the Gaussian compares the schedules quickly
def test_lens_lanes_reproduce_the_reference_schedule(lens_runs):
    _assert_identical(lens_runs[(3, "chunked")], lens_runs[(3, "lanes")])


@pytest.mark.slow
@pytest.mark.parametrize("chunk", LENS_CHUNKS)
def test_lens_lanes_reproduce_the_reference_schedule_at_every_chunk(lens_runs, chunk):
    _assert_identical(lens_runs[(chunk, "chunked")], lens_runs[(chunk, "lanes")])


def test_lens_identical_across_batched_widths(lens_runs):
    """The whole batch (whose block is that of chunk_size=num_delete) and 3 lanes."""
    _assert_identical(lens_runs[(None, "lanes")], lens_runs[(3, "lanes")])


@pytest.mark.slow
def test_lens_identical_at_num_delete_lanes(lens_runs):
    _assert_identical(lens_runs[(None, "lanes")], lens_runs[(NUM_DELETE, "lanes")])


@pytest.mark.slow  # a lens compilation more; the Gaussian checks width 1 bit for bit
def test_lens_chunk_one_follows_the_same_path(lens_runs):
    _assert_same_path(lens_runs[(None, "lanes")], lens_runs[(1, "lanes")])


def test_no_lane_idles_while_chains_are_queued(gaussian_runs):
    for chunk in (1, 3):
        usage = gaussian_runs[(chunk, "lanes")].lane_usage
        assert usage["physical_queued"] == usage["useful_queued"] > 0
        assert usage["physical"] >= usage["useful"]
    reference = gaussian_runs[(3, "chunked")].lane_usage
    assert reference["physical"] >= gaussian_runs[(3, "lanes")].lane_usage["physical"]


def test_multimodal_identical_across_widths():
    """With the live points split into clusters (jumps from their union, slice
    directions from each point's region) the path still does not depend on the chunk."""
    problem = weighted_mixture(2)
    runs = [_run(problem, chunk, "lanes") for chunk in (None, 3)]
    assert runs[0].clusters_per_iteration.max() >= 2
    for result in runs[1:]:
        _assert_identical(runs[0], result)
