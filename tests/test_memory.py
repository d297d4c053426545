"""Bounded memory: the compiled working set of an iteration scales with chunk_size.

Compile only (XLA's memory analysis); nothing at this scale is run.
"""

import jax
import jax.numpy as jnp
import pytest

from slicens import kernel
from slicens.chunking import compiled_memory
from slicens.priors import as_prior
from slicens.problems.mapping import MAPPING_PRIOR, mapping_matrix_loglike

N_PIXELS, N_SOURCE = 20_000, 1_000
N_LIVE, NUM_DELETE = 64, 16


def iteration_temp_bytes(loglike, prior, chunk_size):
    settings = kernel.Settings(N_LIVE, NUM_DELETE, 4, chunk_size, 10, 100)
    return kernel.iteration_memory(loglike, prior, settings, jnp.float64).temp


@pytest.fixture(scope="module")
def measured():
    loglike = mapping_matrix_loglike(N_PIXELS, N_SOURCE)
    prior = as_prior(MAPPING_PRIOR)
    single = compiled_memory(loglike, jax.ShapeDtypeStruct((2,), jnp.float64)).temp
    temps = {c: iteration_temp_bytes(loglike, prior, c) for c in (1, 4, 16)}
    return single, temps


def test_temp_grows_linearly_with_chunk(measured):
    single, temps = measured
    matrix_bytes = N_PIXELS * N_SOURCE * 8
    assert single >= matrix_bytes  # the measurement sees the mapping matrix
    assert temps[16] / temps[1] >= 10, temps


def test_chunk_one_costs_about_one_evaluation(measured):
    single, temps = measured
    assert temps[1] <= 3 * single, (temps[1], single)


def test_temp_is_base_plus_one_evaluation_per_lane(measured):
    """temp(c) = base + c x (one evaluation's temp) within 10%, base taken from c = 1."""
    single, temps = measured
    base = temps[1] - single
    for chunk in (4, 16):
        predicted = base + chunk * single
        assert abs(temps[chunk] - predicted) <= 0.1 * predicted, (chunk, temps, single)
