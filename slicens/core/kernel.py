"""One nested-sampling iteration and the live-point bookkeeping.

Pure functions on NamedTuple states. Each iteration:

1. the ``num_delete`` lowest-likelihood live points die; the contour ``L*`` is the
   highest log-likelihood among them;
2. ``num_delete`` chains start from survivors drawn uniformly (with replacement) among
   the live points with ``loglike > L*``;
3. each chain (under ``num_inner_steps='auto'``) tries ellipsoid jumps from one
   ellipsoid around the live points, or one per cluster of them
   (:func:`slicens.core.jumps.jump_ellipsoids`),
   then takes constrained slice steps (:mod:`slicens.core.slice_mcmc`) whose directions are
   shaped by the covariance of the live points (of the current point's cluster), factored
   once per iteration;
4. chain ``i``'s last point replaces the ``i``-th dead point, with birth contour ``L*``.

Every batch of particles goes through :func:`slicens.core.chunking.lane_map`, at most
``chunk_size`` particles evaluated at a time, on one of two schedules:

- ``"lanes"`` (default): ``chunk_size`` lanes that each drive one chain and take the
  next queued chain as soon as theirs finishes, so no lane waits for the slowest chain;
- ``"chunked"`` (the reference): a chunked map of whole chains, each chunk of
  ``chunk_size`` chains running until its slowest chain finishes.

The randomness of chain ``i`` comes from ``fold_in(iteration key, i)`` only, so results
do not depend on ``chunk_size`` or the schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from slicens.core import ellipsoids, evidence, jumps, ranks, slice_mcmc
from slicens.core.chunking import SCHEDULES, Execution, LaneStats, WorkItem, lane_map, shard_lanes

__all__ = [
    "NSState",
    "StepInfo",
    "Settings",
    "init",
    "evaluate_points",
    "step",
    "covariance_factor",
    "live_summary",
]


class Settings(NamedTuple):
    """Static settings of the algorithm (hashable: they key the compiled functions). How
    its particle batches are evaluated is apart (:class:`slicens.core.chunking.Execution`)."""

    n_live: int
    num_delete: int
    num_inner_steps: int
    max_expansions: int
    max_shrinkage: int
    max_jumps: int = 0
    adaptive: bool = False
    jump_until_accepted: bool = False
    bracket_width: float = 2.0
    keep_per_chain: int = 0
    max_clusters: int = 1



class NSState(NamedTuple):
    """Live points and the running integral.

    positions: shape=(n_live, dim), dtype=float.
    loglike: shape=(n_live,), dtype=float. Non-finite likelihoods are stored as -inf.
    logprior: shape=(n_live,), dtype=float.
    loglike_birth: shape=(n_live,), dtype=float. Contour each point was born inside;
        -inf for prior draws.
    prior_draw: shape=(n_live,), dtype=bool. True for the initial prior draws, which are
        alive before every contour (a point born at contour -inf is not).
    logX: shape=(), dtype=float. Expected log prior volume inside the live set.
    logZ: shape=(), dtype=float. Expected log evidence of the dead points so far.
    logW2: shape=(), dtype=float. Log of the sum of their squared weights (for the ESS).
    inner_steps: shape=(), dtype=int32. Slice steps the next iteration's chains take.
    jump_miss: shape=(), dtype=float. Running fraction of chains without an accepted
        ellipsoid jump (a window of about ``n_live`` chains); sets ``inner_steps`` when
        the steps adapt.
    split: shape=(), dtype=bool. Whether the last iteration's jumps drew from one
        ellipsoid per cluster; with ``jump_miss`` it decides whether the next iteration
        clusters the live points at all (:data:`slicens.core.jumps.CLUSTER_ABOVE_MISS`).
    cluster_wait: shape=(), dtype=int32. Iterations left before the live points may be
        clustered again after a clustering that found no split, and
    cluster_miss: shape=(), dtype=float. ``jump_miss`` at that clustering: more misses
        than then cluster again sooner (:func:`slicens.core.jumps.cluster_decision`).
    """

    positions: jax.Array
    loglike: jax.Array
    logprior: jax.Array
    loglike_birth: jax.Array
    prior_draw: jax.Array
    logX: jax.Array
    logZ: jax.Array
    logW2: jax.Array
    inner_steps: jax.Array
    jump_miss: jax.Array
    split: jax.Array
    cluster_wait: jax.Array
    cluster_miss: jax.Array


class StepInfo(NamedTuple):
    """What one iteration (or the initialisation) reports to the host.

    positions, loglike, loglike_birth, prior_draw: shape=(num_delete, ...). The dead
        points, sorted by log-likelihood (empty, shape (0, ...), for the initialisation).
    insertion_rank: shape=(num_delete,), int32. Rank of each new point's log-likelihood
        among the survivors above the contour (0 to ``rank_count - 1``), ties broken at
        random (:func:`slicens.core.ranks.survivor_ranks`): uniform when the chains
        sample the constrained prior (the insertion-order test).
    start_rank: shape=(num_delete,), int32. The same rank of each chain's start point
        among the other survivors above the contour (0 to ``rank_count - 2``):
        independent of ``insertion_rank`` when the chains forget where they started.
    rank_count: shape=(), int32. The ranks a new point can take: one more than the
        survivors above the contour (``n_live - num_delete + 1`` without ties).
    kept_positions: shape=(num_delete, keep_per_chain, dim). Intermediate points of the
        chains (draws from the constrained prior), for the boosted posterior.
    kept_loglike: shape=(num_delete, keep_per_chain). Their log-likelihoods, NaN where a
        chain had fewer.
    lanes: LaneStats of this batch: physical (lanes x ticks) and useful evaluations
        (``lanes.useful`` is the likelihood evaluations the chains consumed).
    n_invalid: shape=(), int32. Of those, non-finite ones inside the prior support.
    n_failed_steps: shape=(), int32. Slice steps that ran out of shrinkage draws.
    inner_steps: shape=(), int32. Slice steps each chain took this iteration.
    n_jumped: shape=(), int32. Chains whose ellipsoid jump was accepted.
    n_clusters: shape=(), int32. Ellipsoids the jumps and slice directions used: one per
        cluster of the live points where they split
        (:func:`slicens.core.jumps.jump_ellipsoids`), else 1.
    logZ: shape=(), float. Running log evidence after the iteration.
    logZ_live: shape=(), float. Evidence still held by the live points.
    plateau: shape=(), bool. No live point lies above the next contour, so no further
        iteration can make progress.
    """

    positions: jax.Array
    loglike: jax.Array
    loglike_birth: jax.Array
    prior_draw: jax.Array
    insertion_rank: jax.Array
    start_rank: jax.Array
    rank_count: jax.Array
    kept_positions: jax.Array
    kept_loglike: jax.Array
    lanes: LaneStats
    n_invalid: jax.Array
    n_failed_steps: jax.Array
    inner_steps: jax.Array
    n_jumped: jax.Array
    n_clusters: jax.Array
    logZ: jax.Array
    logZ_live: jax.Array
    plateau: jax.Array


def _evaluator(loglike_fn: Callable, prior) -> Callable:
    def evaluate(x):
        return jnp.asarray(loglike_fn(x), x.dtype), jnp.asarray(prior.log_density(x), x.dtype)

    return evaluate


def chain_item(contour, settings: Settings, prior, shapes: ellipsoids.Ellipsoids) -> WorkItem:
    """A replacement chain as a work item: job ``((position, loglike, logprior), plan)``,
    state ``(ChainState, SlicePlan)``, value ``(loglike, logprior)``, output the final
    ``ChainState``. ``shapes``: the
    regions' centres and covariance factors, shared by every chain (each plan holds its
    chain's radii)."""

    def start(job):
        (position, loglike, logprior), plan = job
        return slice_mcmc.init(position, loglike, logprior, plan, shapes,
                               settings.max_expansions, settings.keep_per_chain), plan

    def proposal(state):
        chain, plan = state
        return slice_mcmc.proposal(chain, plan)

    def advance(state, point, value):
        chain, plan = state
        chain = slice_mcmc.advance(
            chain,
            plan,
            shapes,
            point,
            *value,
            contour,
            max_expansions=settings.max_expansions,
            max_shrinkage=settings.max_shrinkage,
        )
        return chain, plan

    def done(state):
        return state[0].phase == slice_mcmc.DONE

    def settle(state):
        chain, plan = state
        chain = slice_mcmc.settle(chain, plan, shapes, prior.log_density,
                                  max_expansions=settings.max_expansions,
                                  max_shrinkage=settings.max_shrinkage)
        return chain, plan

    def output(state):  # the chain; its plan (the random draws, the largest part) stays
        return state[0]

    return WorkItem(start, proposal, advance, done, settle, output)


def _evaluation_item() -> WorkItem:
    """One likelihood evaluation as a work item: state ``(point, loglike, logprior, done)``."""

    def start(point):
        zero = jnp.zeros((), point.dtype)
        return point, zero, zero, jnp.zeros((), bool)

    def advance(state, point, value):
        return point, value[0], value[1], jnp.ones((), bool)

    return WorkItem(start, lambda s: s[0], advance, lambda s: s[3])


def evaluate_points(evaluate: Callable, points, execution: Execution):
    """``evaluate`` (``(point) -> (loglike, logprior)``) at every one of ``points``, at
    most ``execution.chunk_size`` at once per device: the initial evaluations' mechanism,
    for callers that draw their own points (:mod:`slicens.host.bounded`). Returns
    ``((loglike, logprior), LaneStats)``."""
    (_, loglike, logprior, _), lanes = _schedule(_evaluation_item(), evaluate, points,
                                                 execution)
    return (loglike, logprior), lanes


def _schedule(item: WorkItem, evaluate: Callable, jobs, execution: Execution):
    """Run all jobs' items to completion on the configured schedule.

    Returns ``(final states, LaneStats)``.
    """
    if execution.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {execution.schedule!r}")
    whole_chunks = execution.schedule == "chunked"
    if len(execution.devices) > 1:
        return shard_lanes(item, evaluate, jobs, execution.chunk_size, execution.devices,
                           whole_chunks=whole_chunks)
    return lane_map(item, evaluate, jobs, execution.chunk_size, whole_chunks=whole_chunks)


def _sanitize(loglike):
    """NaN and +/-inf likelihoods lie outside every contour."""
    return jnp.where(jnp.isfinite(loglike), loglike, -jnp.inf)


def _next_contour(loglike, num_delete: int):
    return jnp.sort(loglike)[num_delete - 1]


def live_summary(state: NSState, num_delete: int):
    logZ_live = evidence.log_live_evidence(state.logX, state.loglike)
    plateau = jnp.max(state.loglike) <= _next_contour(state.loglike, num_delete)
    return logZ_live, plateau


def init(rng_key, loglike_fn: Callable, prior, settings: Settings,
         execution: Execution) -> tuple[NSState, StepInfo]:
    """Draw ``n_live`` points from the prior and evaluate them, chunk by chunk."""
    positions = prior.sample(rng_key, settings.n_live)
    (_, raw_loglike, logprior, _), lanes = _schedule(
        _evaluation_item(), _evaluator(loglike_fn, prior), positions, execution
    )
    dtype = positions.dtype
    state = NSState(
        positions=positions,
        loglike=_sanitize(raw_loglike),
        logprior=logprior,
        loglike_birth=jnp.full(settings.n_live, -jnp.inf, dtype),
        prior_draw=jnp.ones(settings.n_live, bool),
        logX=jnp.zeros((), dtype),
        logZ=jnp.full((), -jnp.inf, dtype),
        logW2=jnp.full((), -jnp.inf, dtype),
        inner_steps=jnp.int32(settings.num_inner_steps),
        jump_miss=jnp.ones((), dtype),
        split=jnp.zeros((), bool),
        cluster_wait=jnp.zeros((), jnp.int32),
        cluster_miss=jnp.zeros((), dtype),
    )
    logZ_live, plateau = live_summary(state, settings.num_delete)
    empty = jnp.zeros((0,), dtype)
    info = StepInfo(
        positions=jnp.zeros((0, positions.shape[1]), dtype),
        loglike=empty,
        loglike_birth=empty,
        prior_draw=jnp.zeros((0,), bool),
        insertion_rank=jnp.zeros((0,), jnp.int32),
        start_rank=jnp.zeros((0,), jnp.int32),
        rank_count=jnp.int32(settings.n_live - settings.num_delete + 1),
        kept_positions=jnp.zeros((0, settings.keep_per_chain, positions.shape[1]), dtype),
        kept_loglike=jnp.zeros((0, settings.keep_per_chain), dtype),
        lanes=lanes,
        n_invalid=jnp.sum(~jnp.isfinite(raw_loglike) & (logprior > -jnp.inf)).astype(jnp.int32),
        n_failed_steps=jnp.int32(0),
        inner_steps=jnp.int32(0),
        n_jumped=jnp.int32(0),
        n_clusters=jnp.int32(0),
        logZ=state.logZ,
        logZ_live=logZ_live,
        plateau=plateau,
    )
    return state, info


def covariance_factor(positions):
    """Cholesky factor of the live-point covariance.

    A jitter of 1e-10 of the mean variance keeps the factor finite when the live points
    are (numerically) degenerate; it is far below any scale the chains could resolve.
    """
    cov = jnp.atleast_2d(jnp.cov(positions, rowvar=False))
    jitter = 1e-10 * jnp.trace(cov) / cov.shape[0]
    return jnp.linalg.cholesky(cov + jitter * jnp.eye(cov.shape[0], dtype=cov.dtype))


def step(rng_key, state: NSState, loglike_fn: Callable, prior, settings: Settings,
         execution: Execution):
    """One nested-sampling iteration. Returns ``(new_state, StepInfo)``."""
    k = settings.num_delete
    order = jnp.argsort(state.loglike, stable=True)
    dead = order[:k]
    contour = state.loglike[dead[-1]]

    start_key, chain_key = jax.random.split(rng_key)
    survivor = jnp.zeros(settings.n_live, bool).at[order[k:]].set(True)
    eligible = survivor & (state.loglike > contour)
    starts = jax.random.choice(start_key, settings.n_live, (k,), p=eligible / jnp.sum(eligible))

    factor = covariance_factor(state.positions)
    chain_keys = jax.vmap(lambda i: jax.random.fold_in(chain_key, i))(jnp.arange(k))
    if settings.max_jumps:
        cluster = jumps.cluster_decision(state)
        shapes, start_inside = jumps.jump_ellipsoids(state.positions, factor, starts,
                                               settings.max_clusters, cluster)
        radii, num_jumps = shapes.radius, jnp.where(start_inside, settings.max_jumps, 0)
    else:
        shapes, cluster = ellipsoids.single_region(factor), jnp.zeros((), bool)
        radii, num_jumps = jnp.ones((k, 1), factor.dtype), jnp.zeros(k, jnp.int32)

    def plan(key, radius, num_jumps):
        return slice_mcmc.make_plan(
            key, shapes, settings.num_inner_steps, settings.max_expansions, radius=radius,
            steps=state.inner_steps, max_jumps=settings.max_jumps, num_jumps=num_jumps,
            until_accepted=settings.jump_until_accepted, bracket_width=settings.bracket_width)

    plans = jax.vmap(plan)(chain_keys, radii, num_jumps)
    starts_data = (state.positions[starts], state.loglike[starts], state.logprior[starts])
    chains, lanes = _schedule(
        chain_item(contour, settings, prior, shapes._replace(radius=None)),
        _evaluator(loglike_fn, prior),
        (starts_data, plans),
        execution,
    )

    dead_loglike = state.loglike[dead]
    logX, logZ, logW2 = evidence.update(state.logX, state.logZ, state.logW2, dead_loglike,
                                        settings.n_live)
    jump_miss = jumps.running_miss(state.jump_miss, chains.jumped, settings.num_delete,
                                   settings.n_live)
    n_regions = jnp.sum(radii[0] > 0).astype(jnp.int32)  # ellipsoids the jumps used
    split = n_regions > 1
    new_state = NSState(
        positions=state.positions.at[dead].set(chains.position),
        loglike=state.loglike.at[dead].set(chains.loglike),
        logprior=state.logprior.at[dead].set(chains.logprior),
        loglike_birth=state.loglike_birth.at[dead].set(contour),
        prior_draw=state.prior_draw.at[dead].set(False),
        logX=logX,
        logZ=logZ,
        logW2=logW2,
        inner_steps=jumps.adapted_steps(jump_miss, settings.num_inner_steps) if settings.adaptive
        else state.inner_steps,
        jump_miss=jump_miss,
        split=split,
        **jumps.next_cluster_wait(cluster, split, state, settings.n_live, settings.num_delete),
    )
    logZ_live, plateau = live_summary(new_state, k)
    info = StepInfo(
        positions=state.positions[dead],
        loglike=dead_loglike,
        loglike_birth=state.loglike_birth[dead],
        prior_draw=state.prior_draw[dead],
        **ranks.survivor_ranks(jax.random.fold_in(rng_key, ranks.RANK_STREAM),
                               state.loglike[order[k:]], contour, chains.loglike,
                               state.loglike[starts]),
        kept_positions=chains.kept_position,
        kept_loglike=chains.kept_loglike,
        lanes=lanes,
        n_invalid=jnp.sum(chains.n_invalid),
        n_failed_steps=jnp.sum(chains.n_failed_steps),
        inner_steps=state.inner_steps,
        n_jumped=jnp.sum(chains.jumped).astype(jnp.int32),
        n_clusters=n_regions,
        logZ=logZ,
        logZ_live=logZ_live,
        plateau=plateau,
    )
    return new_state, info
