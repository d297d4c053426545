"""Bounded memory: the compiled working set of what a run executes (its init and its
multi-iteration block, as `slicens.run` compiles them) is a base plus one likelihood
evaluation per lane, and does not grow with n_live or num_delete.

Compile only (XLA's memory analysis); nothing at this scale is run.
"""

import jax
import jax.numpy as jnp
import pytest

from slicens.core import blocks
from slicens.host.compiled import Compiler
from slicens.host.memory import compiled_memory
from slicens.host.settings import resolve
from slicens.problems.mapping import MAPPING_PRIOR
from tests import shared

N_PIXELS, N_SOURCE = 20_000, 1_000
N_LIVE, NUM_DELETE = 64, 16
# the likelihood object tests/test_auto_chunk.py compiles too (same settings: shared programs)
LOGLIKE = shared.mapping_loglike()


def run_temps(chunk_size, n_live=N_LIVE, num_delete=NUM_DELETE):
    """Temp bytes of the init and block programs a run at these settings executes."""
    prior, settings, chunk, _ = resolve(
        LOGLIKE, MAPPING_PRIOR, n_live=n_live, num_delete=num_delete, num_inner_steps=4,
        chunk_size=chunk_size, memory_budget=None, schedule="lanes", max_expansions=None,
        max_shrinkage=100)
    capacity = blocks.block_capacity(settings.num_delete, prior.dim,
                                     keep_per_chain=settings.keep_per_chain)
    program = Compiler(LOGLIKE, prior, settings, "lanes", capacity).program(chunk)
    return {"init": program.init_memory.temp, "block": program.block_memory.temp}


@pytest.fixture(scope="module")
def measured():
    single = compiled_memory(LOGLIKE, jax.ShapeDtypeStruct((2,), jnp.float64)).temp
    return single, {c: run_temps(c) for c in (1, 4, 16)}


def test_temp_grows_linearly_with_chunk(measured):
    single, temps = measured
    assert single >= N_PIXELS * N_SOURCE * 8  # the measurement sees the mapping matrix
    for program in ("init", "block"):
        assert temps[16][program] / temps[1][program] >= 10, temps


def test_chunk_one_costs_about_one_evaluation(measured):
    single, temps = measured
    for program in ("init", "block"):
        assert temps[1][program] <= 3 * single, (program, temps[1], single)


def test_temp_is_base_plus_one_evaluation_per_lane(measured):
    """temp(c) = base + c x (one evaluation's temp) within 10%, base taken from c = 1."""
    single, temps = measured
    for program in ("init", "block"):
        base = temps[1][program] - single
        for chunk in (4, 16):
            predicted = base + chunk * single
            assert abs(temps[chunk][program] - predicted) <= 0.1 * predicted, (
                program, chunk, temps, single)


def test_temp_does_not_grow_with_n_live_or_num_delete(measured):
    """At a fixed chunk, 4x the live points and 4x the chains per iteration add less than
    a tenth of one evaluation's working set: the lanes, not the batch, set the memory."""
    single, temps = measured
    larger = run_temps(4, n_live=4 * N_LIVE, num_delete=4 * NUM_DELETE)
    for program in ("init", "block"):
        assert abs(larger[program] - temps[4][program]) < 0.1 * single, (
            program, larger, temps[4], single)
