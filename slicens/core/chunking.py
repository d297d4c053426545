"""The one mechanism that bounds how many particles are evaluated at once.

Everything in slicens that evaluates many particles (the ``n_live`` initial likelihood
calls, the ``num_delete`` replacement chains) goes through :func:`lane_map`. It knows
nothing about nested or slice sampling: it runs generic work items (small state machines
that need one evaluation at a time, :class:`WorkItem`) on a fixed number of lanes, so
every batched evaluation has the same shape and at most ``chunk_size`` points.

With several devices, :func:`shard_lanes` runs ``lane_map`` on each of them (JAX's
``shard_map`` over a one-dimensional mesh), the jobs dealt out in turn, so each device
holds ``chunk_size`` lanes and every job's result is the one a single device computes
(bit for bit where XLA compiles the per-device likelihood alike: the arrays it closes
over stay constants in each device's program, as on one device).

Pure and jittable: how many lanes to use is decided elsewhere (:mod:`slicens.host.memory`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Primitive
from jax.interpreters import mlir
from jax.sharding import Mesh, PartitionSpec

__all__ = ["WorkItem", "LaneStats", "Execution", "SCHEDULES", "lane_map", "shard_lanes"]


#: How the lanes take jobs: "lanes" refills each lane as soon as its item finishes;
#: "chunked" (the reference) waits until every lane of a chunk is free.
SCHEDULES = ("lanes", "chunked")


class Execution(NamedTuple):
    """How batches of particles are evaluated, apart from what is computed (the kernel's
    ``Settings``): results do not depend on it.

    chunk_size: the most particles evaluated at once on each device, a positive integer
        (every batch of a run, the ``n_live`` initial points as each iteration's chains,
        uses ``min(chunk_size, jobs per device)`` lanes on each device).
    schedule: one of :data:`SCHEDULES`.
    devices: the devices the lanes are sharded over (:func:`shard_lanes`); empty or one
        device: no sharding, the program of one device.
    """

    chunk_size: int
    schedule: str = "lanes"
    devices: tuple = ()


class WorkItem(NamedTuple):
    """A unit of work that needs one evaluation at a time: a small state machine.

    start: ``(job) -> state``. The state of a new item from its job input.
    proposal: ``(state) -> point``. The point the item needs evaluated next.
    advance: ``(state, point, value) -> state``. The item moved on, given the value.
    settle: ``(state) -> state``, optional. Moves the item on through proposals whose
        outcome it knows without an evaluation; applied to every lane before each
        evaluation, so a lane's every evaluation is one its item needs.
    done: ``(state) -> bool``. Whether the item has finished.
    output: ``(state) -> output``, optional. What a finished item hands back (default:
        its whole state); only this is stored for every job, so leave out what callers
        do not use (a chain's plan of random draws, say).

    ``value`` is whatever ``evaluate(point)`` returns. A new item must need at least one
    evaluation (``done(start(job))`` is False). All must be pure; they are vmapped over
    lanes.
    """

    start: Callable
    proposal: Callable
    advance: Callable
    done: Callable
    settle: Callable | None = None
    output: Callable | None = None


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


def _evaluate_isolated(evaluate: Callable, points):
    """Evaluate a batch of points behind optimisation barriers.

    XLA may fuse the likelihood's operations with the scheduler's code around it (and
    recompute the proposal inside the likelihood's fusions), and fusion changes
    floating-point rounding. Materialising the points and the values behind barriers, and
    handing the chains the very points that were evaluated, keeps the likelihood's
    compiled program and inputs the same whichever schedule surrounds it.
    """
    points = jax.lax.optimization_barrier(points)
    return points, jax.lax.optimization_barrier(jax.vmap(evaluate)(points))


def _select_lanes(mask, new, old):
    """Per lane, ``new`` where ``mask`` else ``old``, for pytrees of any rank."""
    return jax.tree.map(
        lambda n, o: jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o), new, old
    )


class _Lanes(NamedTuple):
    """The lane scheduler's loop carry.

    state: pytree, leading axis n_lanes. Each lane's item state.
    job: shape=(n_lanes,), int32. The job each lane runs; ``n_jobs`` for a free lane.
    next_job: shape=(), int32. The first job still queued.
    outputs: pytree, leading axis n_jobs. Finished items' outputs, in job order.
    stats: LaneStats.
    """

    state: object
    job: jax.Array
    next_job: jax.Array
    outputs: object
    stats: LaneStats


def lane_map(
    item: WorkItem, evaluate: Callable, jobs, n_lanes: int, *, whole_chunks: bool = False,
    n_valid=None,
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
        Lanes (the batch width of every evaluation), a positive integer; more lanes than
        jobs means ``n_jobs``.
    whole_chunks
        If True, lanes are refilled only when all of them are free: the reference
        schedule, a chunked map of whole items where each chunk of ``n_lanes`` jobs runs
        until its slowest item finishes. It shares this function's evaluation code, so
        both schedules evaluate every point with the same compiled program.
    n_valid
        Optional (may be traced): only the first ``n_valid`` jobs run; the rest are
        padding, never started, and their outputs stay zero.

    Returns
    -------
    ``(outputs, stats)``: every item's ``output`` of its finished state (default the
    state), stacked along a leading axis in job order, and :class:`LaneStats`. An item's
    final state does not depend on ``n_lanes`` (up to the likelihood's own batch-width
    rounding, see docs/design.md).
    """
    n_jobs = jax.tree.leaves(jobs)[0].shape[0]
    if isinstance(n_lanes, bool) or not isinstance(n_lanes, int) or n_lanes < 1:
        raise ValueError(f"n_lanes must be a positive integer, got n_lanes={n_lanes!r}")
    width = min(n_lanes, n_jobs)
    end = n_jobs if n_valid is None else n_valid  # where the queue ends
    output = jax.vmap(item.output if item.output is not None else (lambda state: state))

    def take(job_index):
        return jax.vmap(item.start)(jax.tree.map(lambda a: a[job_index], jobs))

    def retire(finished, state, job, next_job, outputs):
        """Finished lanes write their item out and take the next queued jobs."""
        # Out-of-bounds slots (lanes that did not finish) are dropped.
        slot = jnp.where(finished, job, n_jobs)
        outputs = jax.tree.map(lambda buf, s: buf.at[slot].set(s, mode="drop"), outputs,
                               output(state))
        job = jnp.where(finished, n_jobs, job)
        # Free lanes take jobs in lane order: each as soon as it is free, or
        # (whole_chunks) all together once every lane is free.
        wanted = jnp.all(job >= n_jobs) & (job >= n_jobs) if whole_chunks else finished
        new_job = next_job + jnp.cumsum(wanted, dtype=jnp.int32) - 1
        refill = wanted & (new_job < end)
        state = _select_lanes(refill, take(jnp.minimum(new_job, n_jobs - 1)), state)
        job = jnp.where(refill, new_job, job)
        return state, job, next_job + jnp.sum(refill, dtype=jnp.int32), outputs

    def tick(lanes: _Lanes) -> _Lanes:
        active = lanes.job < n_jobs
        queued = lanes.next_job < end
        state = lanes.state
        if item.settle is not None:  # one call site: new and advanced items alike
            state = _select_lanes(active, jax.vmap(item.settle)(state), state)
        # An item finished without an evaluation (possible only through ``settle``) uses
        # none: it retires below.
        needs = active & ~jax.vmap(item.done)(state)
        points, values = _evaluate_isolated(evaluate, jax.vmap(item.proposal)(state))
        state = _select_lanes(needs, jax.vmap(item.advance)(state, points, values), state)
        finished = active & jax.vmap(item.done)(state)
        # Computed every tick and masked: a lax.cond that skips it on ticks where no item
        # finishes measured 9-15% slower on CPU (its operands include all the outputs).
        state, job, next_job, outputs = retire(
            finished, state, lanes.job, lanes.next_job, lanes.outputs
        )
        busy = jnp.sum(needs, dtype=jnp.int32)
        stats = LaneStats(
            ticks=lanes.stats.ticks + 1,
            physical=lanes.stats.physical + width,
            useful=lanes.stats.useful + busy,
            physical_queued=lanes.stats.physical_queued + jnp.where(queued, width, 0),
            useful_queued=lanes.stats.useful_queued + jnp.where(queued, busy, 0),
        )
        return _Lanes(state, job, next_job, outputs, stats)

    first = take(jnp.arange(width))
    zero = jnp.zeros((), jnp.int32)
    job, next_job = jnp.arange(width, dtype=jnp.int32), jnp.int32(width)
    if n_valid is not None:  # lanes past the queue's end start free
        job = jnp.where(job < end, job, n_jobs)
        next_job = jnp.minimum(next_job, end)
    lanes = _Lanes(
        state=first,
        job=job,
        next_job=next_job,
        outputs=jax.tree.map(lambda a: jnp.zeros((n_jobs,) + a.shape[1:], a.dtype),
                             output(first)),
        stats=LaneStats(zero, zero, zero, zero, zero),
    )
    lanes = jax.lax.while_loop(lambda lanes: jnp.any(lanes.job < n_jobs), tick, lanes)
    return lanes.outputs, lanes.stats


#: The mesh axis the lanes are sharded over.
AXIS = "devices"


def shard_lanes(item: WorkItem, evaluate: Callable, jobs, n_lanes: int, devices: tuple, *,
                whole_chunks: bool = False):
    """:func:`lane_map` on each of ``devices`` with ``n_lanes`` lanes, job ``j`` on device
    ``j % len(devices)``.

    The jobs are dealt out in turn (device ``d`` runs jobs ``d, d + D, d + 2D, ...``), so
    every device gets a share of the early and the late jobs; a device left one job short
    runs a padding job's slot empty (``n_valid``). Each job's output is the one
    :func:`lane_map` gives on one device (it depends on the job only); the
    :class:`LaneStats` are summed over the devices, but ``ticks``, the batched
    evaluations the slowest device performed, is their maximum.
    """
    n_jobs = jax.tree.leaves(jobs)[0].shape[0]
    n_devices = len(devices)
    per_device = -(-n_jobs // n_devices)
    slot = np.arange(per_device * n_devices)  # device-major: device d holds slots d * per..
    job_at = (slot % per_device) * n_devices + slot // per_device
    present = job_at < n_jobs
    n_valid = present.reshape(n_devices, per_device).sum(axis=1).astype(np.int32)
    dealt = jax.tree.map(lambda a: a[np.where(present, job_at, 0)], jobs)

    def device_lanes(local_jobs, local_valid):
        return lane_map(item, evaluate, local_jobs, n_lanes, whole_chunks=whole_chunks,
                        n_valid=local_valid[0])

    local_shapes = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct((per_device,) + a.shape[1:], a.dtype), jobs)
    device_lanes = _constants_inlined(device_lanes, local_shapes,
                                      jax.ShapeDtypeStruct((1,), np.int32))

    def on_device(local_jobs, local_valid):
        outputs, stats = device_lanes(local_jobs, local_valid)
        total = jax.tree.map(lambda s: jax.lax.psum(s, AXIS), stats)
        return outputs, total._replace(ticks=jax.lax.pmax(stats.ticks, AXIS))

    mesh = Mesh(np.asarray(devices), (AXIS,))
    outputs, stats = jax.shard_map(
        on_device, mesh=mesh, in_specs=(PartitionSpec(AXIS), PartitionSpec(AXIS)),
        out_specs=(PartitionSpec(AXIS), PartitionSpec()), check_vma=False,
    )(dealt, jnp.asarray(n_valid))
    job = np.arange(n_jobs)
    slot_of_job = (job % n_devices) * per_device + job // n_devices
    return jax.tree.map(lambda a: a[slot_of_job], outputs), stats


def _constants_inlined(fn: Callable, *arg_shapes) -> Callable:
    """``fn`` (of arguments shaped ``arg_shapes``) with the concrete arrays it closes
    over emitted as constants where it is called, so inside ``shard_map`` too.

    ``shard_map`` passes the arrays its body closes over (a likelihood's data, say) into
    the per-device program as arguments, where one device's program holds them as
    constants, and XLA simplifies the two differently: ``data / c`` of a constant
    ``data`` is folded exactly, of an argument it becomes ``data * (1 / c)``, which
    rounds differently (measured on the tiny lens: 16 of 716 values of
    ``data / noise**2`` in the last bit, then 1 log-likelihood in 7). Values of the
    enclosing trace (tracers) are still passed in, as before.
    """
    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*arg_shapes)

    def inlined(*args):
        consts = [_constant_p.bind(value=_Value(c)) if _inlinable(c) else c
                  for c in closed.consts]
        out = jax.core.eval_jaxpr(closed.jaxpr, consts, *jax.tree.leaves(args))
        return jax.tree.unflatten(jax.tree.structure(out_shape), out)

    return inlined


def _inlinable(value) -> bool:
    """A concrete array this process holds whole, of a NumPy dtype (not a PRNG key)."""
    if isinstance(value, jax.core.Tracer):
        return False
    if isinstance(value, jax.Array):
        return value.is_fully_addressable and not jax.dtypes.issubdtype(
            value.dtype, jax.dtypes.extended)
    return isinstance(value, np.ndarray | np.generic)


class _Value:
    """A concrete array as a primitive's parameter (compared and hashed by identity)."""

    def __init__(self, value):
        self.array = np.asarray(value)


_constant_p = Primitive("slicens_inline_constant")
_constant_p.def_impl(lambda *, value: jnp.asarray(value.array))
_constant_p.def_abstract_eval(
    lambda *, value: jax.core.ShapedArray(value.array.shape, value.array.dtype))
mlir.register_lowering(_constant_p, lambda ctx, *, value: [mlir.ir_constant(value.array)])
