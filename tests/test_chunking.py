"""The bounded-batch mechanism on its own, with generic work items."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slicens.core.chunking import WorkItem, _constants_inlined, lane_map
from slicens.host.memory import compiled_memory

# A work item that needs ``n`` evaluations of ``x -> x**2`` at points start, start+1, ...
# and sums them: its answer is known in closed form, its length varies per job.
COUNTER = WorkItem(
    start=lambda job: (job[0], job[1], jnp.zeros((), jnp.float64), jnp.zeros((), jnp.int32)),
    proposal=lambda s: s[0] + s[3].astype(jnp.float64),
    advance=lambda s, point, value: (s[0], s[1], s[2] + value, s[3] + 1),
    done=lambda s: s[3] >= s[1],
)
STARTS = jnp.arange(10.0)
LENGTHS = jnp.array([3, 1, 7, 2, 2, 9, 1, 4, 5, 6], jnp.int32)
EXPECTED = np.array(
    [sum((s + i) ** 2 for i in range(n)) for s, n in zip(range(10), LENGTHS.tolist(), strict=True)]
)


def _run(lanes, whole_chunks=False):
    return jax.jit(lambda jobs: lane_map(COUNTER, lambda x: x**2, jobs, lanes,
                                         whole_chunks=whole_chunks))((STARTS, LENGTHS))


@pytest.mark.parametrize("lanes", [1, 2, 3, 7, 10, 50])
@pytest.mark.parametrize("whole_chunks", [False, True])
def test_every_job_finishes_with_its_own_answer(lanes, whole_chunks):
    states, stats = _run(lanes, whole_chunks)
    np.testing.assert_array_equal(states[2], EXPECTED)
    np.testing.assert_array_equal(states[3], LENGTHS)
    assert int(stats.useful) == int(LENGTHS.sum())
    width = min(lanes, 10)  # more lanes than jobs: one per job
    assert int(stats.physical) == int(stats.ticks) * width


@pytest.mark.parametrize("lanes", [1, 2, 3, 4])
def test_no_lane_idles_while_jobs_are_queued(lanes):
    _, stats = _run(lanes)
    assert int(stats.physical_queued) == int(stats.useful_queued)
    assert int(stats.physical_queued) > 0


def test_whole_chunks_wait_for_their_slowest_item():
    _, stats = _run(3, whole_chunks=True)
    # chunks [3,1,7], [2,2,9], [1,4,5], [6]: the slowest item of each sets its ticks
    assert int(stats.ticks) == 7 + 9 + 5 + 6
    _, eager = _run(3)
    assert int(eager.ticks) < int(stats.ticks)


def test_only_the_output_is_stored():
    """``WorkItem.output`` picks what a finished item hands back: the rest of its state
    is not stored per job (the step's chains keep their plans out of the outputs)."""
    answer_only = COUNTER._replace(output=lambda s: s[2])
    outputs, stats = jax.jit(lambda jobs: lane_map(answer_only, lambda x: x**2, jobs, 3))(
        (STARTS, LENGTHS))
    np.testing.assert_array_equal(outputs, EXPECTED)
    assert int(stats.useful) == int(LENGTHS.sum())


@pytest.mark.parametrize("lanes", [None, 0, 2.0, True])
def test_lanes_must_be_a_positive_integer(lanes):
    with pytest.raises(ValueError, match=f"n_lanes={lanes!r}"):
        _run(lanes)


def test_one_compiled_evaluation_shape():
    """However many jobs and lanes, the evaluation is traced once, at one point's shape."""
    shapes = []

    def evaluate(x):
        shapes.append(x.shape)
        return x**2

    jax.jit(lambda jobs: lane_map(COUNTER, evaluate, jobs, 4))((STARTS, LENGTHS))
    assert shapes == [()]


def test_lanes_bound_temporary_memory():
    """Temp bytes of a big per-evaluation intermediate scale with the lanes, not the jobs."""
    item = WorkItem(
        start=lambda x: (x, jnp.zeros((), jnp.float64), jnp.zeros((), bool)),
        proposal=lambda s: s[0],
        advance=lambda s, p, v: (s[0], v, jnp.ones((), bool)),
        done=lambda s: s[2],
    )

    def evaluate(x):
        big = jnp.outer(jnp.arange(512.0) + x, jnp.arange(512.0))  # 2 MiB in float64
        return jnp.sum(jnp.sin(big))

    xs = jax.ShapeDtypeStruct((64,), jnp.float64)
    temp = {
        c: compiled_memory(lambda x, c=c: lane_map(item, evaluate, x, c), xs).temp
        for c in (1, 16)
    }
    one = 512 * 512 * 8
    assert temp[1] < 3 * one
    assert temp[16] > 10 * one


def test_closed_over_arrays_are_bound_as_constants_where_called():
    """What shard_lanes relies on for bit-identity (inside shard_map the closed-over
    arrays would otherwise become the device program's arguments): the NumPy and JAX
    arrays are bound in place, the PRNG key (no NumPy dtype) stays closed over."""
    data, offset, key = np.arange(5.0), jnp.ones(5), jax.random.key(1)

    def fn(x):
        return x * data / 3.0 + offset + jax.random.normal(key, (5,))

    inlined = _constants_inlined(fn, jax.ShapeDtypeStruct((5,), jnp.float64))
    x = jnp.linspace(0.0, 1.0, 5)
    np.testing.assert_array_equal(jax.jit(inlined)(x), jax.jit(fn)(x))
    traced = jax.make_jaxpr(inlined)(x)
    bound = [eqn for eqn in traced.eqns if eqn.primitive.name == "slicens_inline_constant"]
    assert len(bound) == 2
    assert [c.dtype for c in traced.consts] == [key.dtype]
