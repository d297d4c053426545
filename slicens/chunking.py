"""The one mechanism that bounds how many particles are evaluated at once.

Everything in slicens that evaluates many particles (the ``n_live`` initial likelihood
calls, the ``num_delete`` replacement chains) goes through :func:`lane_map`. It knows
nothing about nested or slice sampling: it runs generic work items (small state machines
that need one evaluation at a time, :class:`WorkItem`) on a fixed number of lanes, so
every batched evaluation has the same shape and at most ``chunk_size`` points.

It also holds the memory side: :func:`compiled_memory` reads XLA's compiled memory
analysis of a function without running it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "WorkItem",
    "LaneStats",
    "lane_map",
    "resolve_chunk_size",
    "CompiledMemory",
    "compiled_memory",
]


def resolve_chunk_size(chunk_size: int | None, batch_size: int) -> int:
    """The number of items evaluated together for a batch of ``batch_size``.

    ``None`` means the whole batch at once; a chunk larger than the batch is the batch.
    """
    if chunk_size is None:
        return batch_size
    return min(chunk_size, batch_size)


class WorkItem(NamedTuple):
    """A unit of work that needs one evaluation at a time: a small state machine.

    start: ``(job) -> state``. The state of a new item from its job input.
    proposal: ``(state) -> point``. The point the item needs evaluated next.
    advance: ``(state, point, value) -> state``. The item moved on, given the value.
    done: ``(state) -> bool``. Whether the item has finished.
    evaluations: ``(state) -> int32``. Evaluations a finished item consumed.

    ``value`` is whatever ``evaluate(point)`` returns. A new item must need at least one
    evaluation (``done(start(job))`` is False). All five must be pure; they are vmapped
    over lanes.
    """

    start: Callable
    proposal: Callable
    advance: Callable
    done: Callable
    evaluations: Callable


class LaneStats(NamedTuple):
    """How busy the lanes were.

    ticks: shape=(), int32. Batched evaluations performed.
    physical: shape=(), int32. Lane evaluations performed (``ticks * n_lanes``).
    useful: shape=(), int32. Evaluations consumed by some item.
    physical_queued, useful_queued: shape=(), int32. The same over the ticks that began
        with jobs still waiting in the queue (before the drain).
    """

    ticks: jax.Array
    physical: jax.Array
    useful: jax.Array
    physical_queued: jax.Array
    useful_queued: jax.Array


def _isolated(evaluate: Callable, point):
    """``evaluate(point)`` behind an optimisation barrier.

    XLA may fuse the likelihood's operations with the scheduler's code around it (and
    recompute the proposal inside the likelihood's fusions), and fusion changes
    floating-point rounding. Callers materialise the point behind a barrier too and
    use that one value for both the evaluation and the chain, so the likelihood's
    compiled program and inputs are the same whichever schedule surrounds it.
    """
    return jax.lax.optimization_barrier(evaluate(point))


def lane_map(
    item: WorkItem, evaluate: Callable, jobs, n_lanes: int | None, *, whole_chunks: bool = False
):
    """Run every job's item to completion on ``n_lanes`` lanes that never wait.

    Each tick, every lane proposes its item's next point, one batched call evaluates all
    lanes, and every lane advances; a lane whose item is done writes it out and starts
    the next queued job in the same tick. Memory: one batch of ``n_lanes`` evaluations
    plus the lanes' states and the outputs. While the queue is non-empty every lane
    evaluation is used; lanes idle only during the drain.

    Parameters
    ----------
    item
        The work item's state machine.
    evaluate
        ``(point) -> value`` for one point; vmapped over the lanes.
    jobs
        Pytree of job inputs with a leading axis of length ``n_jobs``.
    n_lanes
        Lanes (the batch width of every evaluation). ``None`` means ``n_jobs``.
    whole_chunks
        If True, lanes are refilled only when all of them are free: the reference
        schedule, a chunked map of whole items where each chunk of ``n_lanes`` jobs runs
        until its slowest item finishes. It shares this function's evaluation code, so
        both schedules evaluate every point with the same compiled program.

    Returns
    -------
    ``(states, stats)``: the finished states of all items, stacked along a leading axis in
    job order, and :class:`LaneStats`. An item's final state does not depend on
    ``n_lanes`` (up to the likelihood's own batch-width rounding, see docs/design.md).
    """
    n_jobs = jax.tree.leaves(jobs)[0].shape[0]
    lanes = resolve_chunk_size(n_lanes, n_jobs)
    take = jax.vmap(lambda j: jax.tree.map(lambda a: a[j], jobs))
    lane_state = jax.vmap(item.start)(take(jnp.arange(lanes)))
    lane_job = jnp.arange(lanes, dtype=jnp.int32)
    outputs = jax.tree.map(lambda a: jnp.zeros((n_jobs,) + a.shape[1:], a.dtype), lane_state)
    zero = jnp.zeros((), jnp.int32)
    stats = LaneStats(zero, zero, zero, zero, zero)
    next_job = jnp.int32(lanes)

    def body(carry):
        lane_state, lane_job, next_job, outputs, stats = carry
        active = lane_job < n_jobs
        queued = next_job < n_jobs
        points = jax.lax.optimization_barrier(jax.vmap(item.proposal)(lane_state))
        values = jax.vmap(lambda p: _isolated(evaluate, p))(points)
        advanced = jax.vmap(item.advance)(lane_state, points, values)
        lane_state = jax.tree.map(
            lambda new, old: jnp.where(_lane_mask(active, new), new, old), advanced, lane_state
        )
        finished = active & jax.vmap(item.done)(lane_state)
        # Finished lanes write their item out (others write out of bounds: dropped) ...
        slot = jnp.where(finished, lane_job, n_jobs)
        outputs = jax.tree.map(
            lambda buf, s: buf.at[slot].set(s, mode="drop"), outputs, lane_state
        )
        # ... and take the next queued jobs, in lane order.
        lane_job = jnp.where(finished, n_jobs, lane_job)
        if whole_chunks:  # refill only when every lane of the chunk is free
            wanted = jnp.all(lane_job >= n_jobs) & jnp.ones_like(finished)
        else:
            wanted = finished
        new_job = next_job + jnp.cumsum(wanted, dtype=jnp.int32) - 1
        refill = wanted & (new_job < n_jobs)
        fresh = jax.vmap(item.start)(take(jnp.minimum(new_job, n_jobs - 1)))
        lane_state = jax.tree.map(
            lambda new, old: jnp.where(_lane_mask(refill, new), new, old), fresh, lane_state
        )
        lane_job = jnp.where(refill, new_job, lane_job)
        next_job = next_job + jnp.sum(refill, dtype=jnp.int32)
        busy = jnp.sum(active, dtype=jnp.int32)
        stats = LaneStats(
            ticks=stats.ticks + 1,
            physical=stats.physical + lanes,
            useful=stats.useful + busy,
            physical_queued=stats.physical_queued + jnp.where(queued, lanes, 0),
            useful_queued=stats.useful_queued + jnp.where(queued, busy, 0),
        )
        return lane_state, lane_job, next_job, outputs, stats

    def any_active(carry):
        return jnp.any(carry[1] < n_jobs)

    carry = jax.lax.while_loop(any_active, body, (lane_state, lane_job, next_job, outputs, stats))
    return carry[3], carry[4]


def _lane_mask(mask, leaf):
    """Broadcast a per-lane mask against a per-lane leaf of any rank."""
    return mask.reshape(mask.shape + (1,) * (leaf.ndim - 1))


class CompiledMemory(NamedTuple):
    """XLA's compiled memory analysis of one function, in bytes."""

    argument: int
    output: int
    temp: int
    generated_code: int

    @property
    def peak(self) -> int:
        """Arguments, outputs and temporaries alive together: the working set."""
        return self.argument + self.output + self.temp


def compiled_memory(fn: Callable, *args) -> CompiledMemory:
    """Compile ``fn(*args)`` (without running it) and read XLA's memory analysis.

    ``args`` may be arrays or ``jax.ShapeDtypeStruct``; nothing is allocated or run.
    """
    analysis = jax.jit(fn).lower(*args).compile().memory_analysis()
    if analysis is None:
        raise RuntimeError(
            f"XLA gives no compiled memory analysis on backend {jax.default_backend()!r}"
        )
    return CompiledMemory(
        argument=int(analysis.argument_size_in_bytes),
        output=int(analysis.output_size_in_bytes),
        temp=int(analysis.temp_size_in_bytes),
        generated_code=int(analysis.generated_code_size_in_bytes),
    )
