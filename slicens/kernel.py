"""One nested-sampling iteration and the live-point bookkeeping.

Pure functions on NamedTuple states. Each iteration:

1. the ``num_delete`` lowest-likelihood live points die; the contour ``L*`` is the
   highest log-likelihood among them;
2. ``num_delete`` chains start from survivors drawn uniformly (with replacement) among
   the live points with ``loglike > L*``;
3. each chain (under ``num_inner_steps='auto'``) tries ellipsoid jumps from one
   ellipsoid around the live points, or one per cluster of them (:func:`jump_ellipsoids`),
   then takes constrained slice steps (:mod:`slicens.slice_mcmc`) whose directions are
   shaped by the covariance of the live points (of the current point's cluster), factored
   once per iteration;
4. chain ``i``'s last point replaces the ``i``-th dead point, with birth contour ``L*``.

Every batch of particles goes through :func:`slicens.chunking.lane_map`, at most
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

from slicens import clusters, evidence, slice_mcmc
from slicens.chunking import LaneStats, WorkItem, lane_map
from slicens.memory import CompiledMemory, compiled_memory

__all__ = [
    "NSState",
    "StepInfo",
    "Settings",
    "init",
    "step",
    "covariance_factor",
    "cluster_shapes",
    "iteration_memory",
    "Limits",
    "Block",
    "TERMINATIONS",
    "CONVERGED",
    "run_block",
    "block_capacity",
]


class Settings(NamedTuple):
    """Static settings of the kernel (hashable: they key the compiled functions)."""

    n_live: int
    num_delete: int
    num_inner_steps: int
    chunk_size: int | None
    max_expansions: int
    max_shrinkage: int
    schedule: str = "lanes"
    max_jumps: int = 0
    adaptive: bool = False
    jump_until_accepted: bool = False
    bracket_width: float = 2.0
    keep_per_chain: int = 0
    max_clusters: int = 1


SCHEDULES = ("lanes", "chunked")


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
        clusters the live points at all (:data:`CLUSTER_ABOVE_MISS`).
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


class StepInfo(NamedTuple):
    """What one iteration (or the initialisation) reports to the host.

    positions, loglike, loglike_birth, prior_draw: shape=(num_delete, ...). The dead
        points, sorted by log-likelihood (empty, shape (0, ...), for the initialisation).
    insertion_rank: shape=(num_delete,), int32. Rank of each new point's log-likelihood
        among the ``n_live - num_delete`` survivors (0 to n_live - num_delete): uniform
        when the chains sample the constrained prior (the insertion-order test).
    start_rank: shape=(num_delete,), int32. The same rank of each chain's start point:
        independent of ``insertion_rank`` when the chains forget where they started.
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
        cluster of the live points where they split (:func:`jump_ellipsoids`), else 1.
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


def chain_item(contour, settings: Settings, prior, shapes: slice_mcmc.Ellipsoids) -> WorkItem:
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


def _schedule(item: WorkItem, evaluate: Callable, jobs, settings: Settings):
    """Run all jobs' items to completion on the configured schedule.

    Returns ``(final states, LaneStats)``.
    """
    if settings.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {settings.schedule!r}")
    return lane_map(
        item, evaluate, jobs, settings.chunk_size, whole_chunks=settings.schedule == "chunked"
    )


def _sanitize(loglike):
    """NaN and +/-inf likelihoods lie outside every contour."""
    return jnp.where(jnp.isfinite(loglike), loglike, -jnp.inf)


def _next_contour(loglike, num_delete: int):
    return jnp.sort(loglike)[num_delete - 1]


def _summary(state: NSState, num_delete: int):
    logZ_live = evidence.log_live_evidence(state.logX, state.loglike)
    plateau = jnp.max(state.loglike) <= _next_contour(state.loglike, num_delete)
    return logZ_live, plateau


def init(rng_key, loglike_fn: Callable, prior, settings: Settings) -> tuple[NSState, StepInfo]:
    """Draw ``n_live`` points from the prior and evaluate them, chunk by chunk."""
    positions = prior.sample(rng_key, settings.n_live)
    (_, raw_loglike, logprior, _), lanes = _schedule(
        _evaluation_item(), _evaluator(loglike_fn, prior), positions, settings
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
    )
    logZ_live, plateau = _summary(state, settings.num_delete)
    empty = jnp.zeros((0,), dtype)
    info = StepInfo(
        positions=jnp.zeros((0, positions.shape[1]), dtype),
        loglike=empty,
        loglike_birth=empty,
        prior_draw=jnp.zeros((0,), bool),
        insertion_rank=jnp.zeros((0,), jnp.int32),
        start_rank=jnp.zeros((0,), jnp.int32),
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


#: Volume of the jump ellipsoid over that of the smallest one (of the live covariance's
#: shape) holding every live point: the live points under-cover the contour a little.
JUMP_VOLUME_ENLARGEMENT = 1.5

#: The live points are clustered (:func:`jump_ellipsoids`) only while more than this
#: fraction of recent chains missed their ellipsoid jump, or the last iteration split.
#: Where jumps from the single ellipsoid mostly succeed it already bounds the contour
#: well and moves chains between modes in proportion to their volume, and the
#: clustering, ~24 ms per iteration at n_live 500 on a CPU, would be spent for nothing
#: (measured at n_live 500: 84-98% of chains jump on the 5-d Gaussian, which never
#: splits; 36-76% in the iterations before the 5-d mixture splits, 54-84% before the
#: egg-box does).
CLUSTER_ABOVE_MISS = 0.25


def _cross_validated(d2, n):
    """Mahalanobis distance^2 of a point from the mean and covariance of the other ``n - 1``
    points of its set, from ``d2``, its distance^2 from all ``n`` (Sherman-Morrison on the
    rank-one downdate): ``n^2 (n-2) d2 / ((n-1) ((n-1)^2 - n d2))``."""
    denominator = jnp.maximum((n - 1) ** 2 - n * d2, 1e-12 * (n - 1) ** 2)
    return n**2 * (n - 2) * d2 / ((n - 1) * denominator)


def _radius_without(loo_d2, members, starts):
    """Per start, the largest of ``loo_d2`` over ``members`` other than the start itself."""
    values = jnp.where(members, loo_d2, -jnp.inf)
    first = jnp.argmax(values)  # two argmaxes, not top_k: XLA:CPU's top_k sorts
    largest = jnp.maximum(values[first], 0.0)
    second = jnp.maximum(jnp.max(values.at[first].set(-jnp.inf)), 0.0)
    return jnp.where(starts == first, second, largest), largest


def cluster_shapes(positions, label, max_clusters: int):
    """Each cluster's mean and covariance factor. A cluster's covariance is shrunk toward
    the clusters' pooled covariance by ``dim + 1`` pseudo-points, so that small clusters
    (down to ``clusters.NEIGHBOURS + 1`` points, fewer than ``dim`` in high dimension)
    still get a well-conditioned ellipsoid. Unused slots get the pooled shape."""
    n, dim = positions.shape
    weight = (label[None, :] == jnp.arange(max_clusters)[:, None]).astype(positions.dtype)
    size = jnp.sum(weight, axis=1)
    centre = weight @ positions / jnp.maximum(size, 1.0)[:, None]
    offset = positions[None, :, :] - centre[:, None, :]
    scatter = jnp.einsum("ki,kia,kib->kab", weight, offset, offset)
    pooled = jnp.sum(scatter, axis=0) / jnp.maximum(jnp.sum(jnp.maximum(size - 1, 0)), 1.0)
    prior_points = dim + 1.0
    count = jnp.maximum(size - 1, 0) + prior_points
    cov = (scatter + prior_points * pooled[None]) / count[:, None, None]
    jitter = 1e-10 * jnp.trace(pooled) / dim
    factor = jnp.linalg.cholesky(cov + jitter * jnp.eye(dim, dtype=cov.dtype)[None])
    return centre, factor, size


def jump_ellipsoids(positions, factor, starts, max_clusters: int = 1,
                    cluster=True) -> tuple[slice_mcmc.Ellipsoids, jax.Array]:
    """Each chain's jump region: one ellipsoid around the live points or, where the live
    points fall into several clusters (:func:`slicens.clusters.find_clusters`) whose
    ellipsoids take less volume together, one ellipsoid per cluster.

    Each ellipsoid has its points' mean and covariance shape and the radius that would
    hold every one of its points other than the chain's start had each been left out of
    the mean and covariance (the cross-validated radius), enlarged by
    :data:`JUMP_VOLUME_ENLARGEMENT` in volume. Returns ``(ellipsoids, start_inside)``:
    ``1 + max_clusters`` slots (slot 0: the single ellipsoid; unused slots have radius 0)
    whose ``radius`` has one row per start (centres and factors are shared), and whether
    each start lies inside its own union (a start outside cannot jump).

    Why cross-validated: the live points sit closer to their own mean and covariance
    than new points of the contour do (by a factor that grows with dim / n_live), so
    the ellipsoid through the outermost live point misses part of the contour, which
    jumps then never reach. Why without the start: the Metropolis jump needs an
    ellipsoid that does not depend on the start; one built to hold the start never lets
    the outermost region be reached by a jump while starts there can always leave it.
    Both pull the live points inward (logZ too high; measured on a 30-d Gaussian).

    ``cluster`` (a traced bool): where False the clustering is skipped and the single
    ellipsoid used, as if the clusters had not split.
    """
    n, dim = positions.shape
    enlarge = JUMP_VOLUME_ENLARGEMENT ** (2 / dim)
    centre = jnp.mean(positions, axis=0)
    whitened = jax.scipy.linalg.solve_triangular(factor, (positions - centre[None, :]).T,
                                                 lower=True)
    loo_d2 = _cross_validated(jnp.sum(whitened**2, axis=0), n)
    everyone = jnp.ones(n, bool)
    r2_single, r2_single_all = _radius_without(loo_d2, everyone, starts)
    centres, factors = centre[None], factor[None]
    inverses = slice_mcmc.inverse_factor(factors)
    r2 = (r2_single * enlarge)[:, None]
    if max_clusters > 1:
        def clustered(_):
            return _cluster_ellipsoids(positions, factor, starts, max_clusters,
                                       r2_single_all, enlarge)

        def single(_):
            shared = (jnp.broadcast_to(centre, (max_clusters, dim)),
                      jnp.broadcast_to(factor, (max_clusters, dim, dim)))
            return (*shared, jnp.broadcast_to(inverses[0], (max_clusters, dim, dim)),
                    jnp.zeros((starts.shape[0], max_clusters), r2.dtype), jnp.zeros((), bool))

        c_centre, c_factor, c_inverse, c_r2, split = jax.lax.cond(cluster, clustered, single,
                                                                  None)
        centres = jnp.concatenate([centres, c_centre])
        factors = jnp.concatenate([factors, c_factor])
        inverses = jnp.concatenate([inverses, c_inverse])
        r2 = jnp.concatenate([jnp.where(split, 0.0, r2), c_r2], axis=1)
    radius = jnp.sqrt(r2)
    ellipsoids = slice_mcmc.Ellipsoids(centres, factors, radius, inverses)
    start_inside = jax.vmap(
        lambda x, r: ellipsoids._replace(radius=r).contains(x))(positions[starts], radius)
    return ellipsoids, start_inside


def _cluster_ellipsoids(positions, factor, starts, max_clusters: int, r2_single_all,
                        enlarge):
    """One ellipsoid per cluster of the live points (see :func:`jump_ellipsoids`):
    centres, factors, inverse factors, squared radii per start (zero for unused slots
    and where the clusters do not split) and whether they split."""
    dim = positions.shape[1]
    label = clusters.find_clusters(positions, factor, max_clusters).label
    c_centre, c_factor, c_size = cluster_shapes(positions, label, max_clusters)
    c_inverse = slice_mcmc.inverse_factor(c_factor)
    own = jnp.maximum(label, 0)
    own_white = jnp.sum(c_inverse[own] * (positions - c_centre[own])[:, None, :], axis=-1)
    prior_points = dim + 1.0  # the shrinkage pseudo-points of cluster_shapes
    effective = c_size[own] + prior_points
    own_d2 = jnp.sum(own_white**2, axis=1)
    c_loo = jnp.minimum(_cross_validated(own_d2, effective), 4.0 * own_d2)
    members = label[None, :] == jnp.arange(max_clusters)[:, None]
    c_r2, c_r2_all = jax.vmap(_radius_without, (None, 0, None))(c_loo, members, starts)
    # A cluster of a few points (a mode dying out, or one that lost points by chance)
    # would get an ellipsoid covering little of its mode, so few jumps would land
    # there and its share would drift down: its radius is shrunk toward the
    # well-sampled clusters' mean radius like its covariance toward theirs.
    used = c_size >= 2
    sampled = c_size > clusters.NEIGHBOURS
    weight = jnp.where(jnp.any(sampled), sampled, used) * c_size
    pooled_r2 = jnp.sum(weight * c_r2_all) / jnp.maximum(jnp.sum(weight), 1.0)
    c_r2 = ((c_size[:, None] * c_r2 + prior_points * pooled_r2)
            / (c_size[:, None] + prior_points))
    c_r2_all = (c_size * c_r2_all + prior_points * pooled_r2) / (c_size + prior_points)
    log_det = jnp.sum(jnp.log(jnp.diagonal(c_factor, axis1=-2, axis2=-1)), axis=-1)
    c_log_volume = jnp.where(used, log_det + 0.5 * dim * jnp.log(c_r2_all), -jnp.inf)
    single_log_volume = (jnp.sum(jnp.log(jnp.diagonal(factor)))
                         + 0.5 * dim * jnp.log(r2_single_all))
    split = (jnp.sum(used) > 1) & (jax.nn.logsumexp(c_log_volume) < single_log_volume)
    c_r2 = jnp.where(used[:, None] & split, c_r2 * enlarge, 0.0).T
    return c_centre, c_factor, c_inverse, c_r2, split


def _running_miss(previous, jumped, settings: Settings):
    """Fraction of chains without an accepted jump, averaged over ~``n_live`` chains."""
    weight = min(1.0, settings.num_delete / settings.n_live)
    miss = 1.0 - jnp.mean(jumped.astype(previous.dtype))
    return previous + weight * (miss - previous)


def adapted_steps(jump_miss, settings: Settings):
    """Slice steps that leave the chains as independent of their starts as the full
    ``num_inner_steps`` would if no chain jumped, and at least a third of them.

    A chain that jumped holds a draw independent of its start; the slice steps then
    carry it beyond the ellipsoid. Each slice step removes about ``3 / num_inner_steps``
    of the log-correlation of a chain that did not (``num_inner_steps = 3 dim``: one
    direction of ``dim`` per step), so a fraction ``f`` of such chains needs
    ``num_inner_steps * (1 - ln(1 / f) / 3)`` steps. The floor of a third (``dim``
    steps) is measured, not derived: without it, where nearly every chain jumps and
    takes one slice step, the correlated 10-d Gaussian at n_live 500 kept a start-to-end
    rank correlation of 0.02-0.03 and logZ came out +0.3 to +0.6 nats high (2 seeds);
    with it, rho 0.001-0.002 and a mean bias of -0.04 over 10 seeds.
    """
    full = settings.num_inner_steps
    miss = jnp.maximum(jump_miss, 1e-12)
    steps = jnp.ceil(full * (1.0 + jnp.log(miss) / 3.0))
    return jnp.clip(steps, -(-full // 3), full).astype(jnp.int32)


def step(rng_key, state: NSState, loglike_fn: Callable, prior, settings: Settings):
    """One nested-sampling iteration. Returns ``(new_state, StepInfo)``."""
    k = settings.num_delete
    order = jnp.argsort(state.loglike, stable=True)
    dead = order[:k]
    contour = state.loglike[dead[-1]]

    start_key, chain_key = jax.random.split(rng_key)
    survivor = jnp.zeros(settings.n_live, bool).at[order[k:]].set(True)
    eligible = survivor & (state.loglike > contour)
    starts = jax.random.choice(
        start_key, settings.n_live, (k,), p=eligible / jnp.sum(eligible)
    )

    factor = covariance_factor(state.positions)
    chain_keys = jax.vmap(lambda i: jax.random.fold_in(chain_key, i))(jnp.arange(k))
    if settings.max_jumps:
        cluster = state.split | (state.jump_miss > CLUSTER_ABOVE_MISS)
        shapes, start_inside = jump_ellipsoids(state.positions, factor, starts,
                                               settings.max_clusters, cluster)
        radii, num_jumps = shapes.radius, jnp.where(start_inside, settings.max_jumps, 0)
    else:
        shapes = slice_mcmc.single_region(factor)
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
        settings,
    )

    dead_loglike = state.loglike[dead]
    logX, logZ, logW2 = evidence.update(state.logX, state.logZ, state.logW2, dead_loglike,
                                        settings.n_live)
    jump_miss = _running_miss(state.jump_miss, chains.jumped, settings)
    n_regions = jnp.sum(radii[0] > 0).astype(jnp.int32)  # ellipsoids the jumps used
    new_state = NSState(
        positions=state.positions.at[dead].set(chains.position),
        loglike=state.loglike.at[dead].set(chains.loglike),
        logprior=state.logprior.at[dead].set(chains.logprior),
        loglike_birth=state.loglike_birth.at[dead].set(contour),
        prior_draw=state.prior_draw.at[dead].set(False),
        logX=logX,
        logZ=logZ,
        logW2=logW2,
        inner_steps=adapted_steps(jump_miss, settings) if settings.adaptive
        else state.inner_steps,
        jump_miss=jump_miss,
        split=n_regions > 1,
    )
    logZ_live, plateau = _summary(new_state, k)
    info = StepInfo(
        positions=state.positions[dead],
        loglike=dead_loglike,
        loglike_birth=state.loglike_birth[dead],
        prior_draw=state.prior_draw[dead],
        insertion_rank=jnp.searchsorted(state.loglike[order[k:]], chains.loglike).astype(
            jnp.int32),
        start_rank=jnp.searchsorted(state.loglike[order[k:]], state.loglike[starts]).astype(
            jnp.int32),
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


def iteration_memory(loglike_fn: Callable, prior, settings: Settings, dtype) -> CompiledMemory:
    """XLA's compiled memory analysis of one iteration (compile only, nothing runs).

    ``dtype`` is the floating dtype of the state (the prior's samples use JAX's default).
    """
    key = jax.random.key(0)
    state = jax.eval_shape(lambda k: init(k, loglike_fn, prior, settings)[0], key)
    state = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, dtype if jnp.issubdtype(a.dtype, jnp.floating)
                                       else a.dtype),
        state,
    )
    return compiled_memory(lambda s: step(key, s, loglike_fn, prior, settings), state)


# --- several iterations per dispatch ---------------------------------------------------

#: Termination codes the device loop reports, indexed by ``Block.stop``.
TERMINATIONS = (None, "plateau", "dlogz", "min_ess", "max_evals")

#: Terminations that end a run for good. A run stopped by a budget (``max_evals``,
#: ``max_iterations``, ``max_time``) is unfinished: its checkpoint continues it.
CONVERGED = ("plateau", "dlogz", "min_ess")


class Limits(NamedTuple):
    """Stopping rules of one dispatch. Dynamic values: changing them never recompiles.

    max_steps: shape=(), int32. Iterations this dispatch may run (at most the capacity).
    evals_left: shape=(), int32. Stop once the chains consumed this many evaluations
        (what ``max_evals`` leaves, clipped to int32).
    dlogz: shape=(), float. Stop when the live points could raise logZ by less.
    min_ess: shape=(), float. Stop once the ESS if stopped now reaches this (inf: never).
    """

    max_steps: jax.Array
    evals_left: jax.Array
    dlogz: jax.Array
    min_ess: jax.Array


class Block(NamedTuple):
    """Iterations of one dispatch, stacked: the host takes rows ``[:n_steps]``.

    info: StepInfo with a leading axis of length ``capacity``.
    n_steps: shape=(), int32. Iterations run.
    stop: shape=(), int32. Index into :data:`TERMINATIONS` (0: not stopped).
    """

    info: StepInfo
    n_steps: jax.Array
    stop: jax.Array


def block_capacity(num_delete: int, dim: int, target_bytes: int = 2**22,
                   keep_per_chain: int = 0) -> int:
    """Iterations per dispatch buffer: about ``target_bytes`` of dead and kept points, 1
    to 256."""
    row_bytes = num_delete * (dim + 4 + keep_per_chain * (dim + 1)) * 8
    return max(1, min(256, target_bytes // row_bytes))


def _stop_code(state: NSState, evals_used, limits: Limits, num_delete: int):
    logZ_live, plateau = _summary(state, num_delete)
    remaining = evidence.remaining_dlogz(state.logZ, logZ_live)
    ess = evidence.ess_if_stopped(state.logX, state.logZ, state.logW2, state.loglike)
    return jnp.select(
        [plateau, remaining < limits.dlogz, ess >= limits.min_ess,
         evals_used >= limits.evals_left],
        [1, 2, 3, 4],
        0,
    ).astype(jnp.int32)


def run_block(loop_key, state: NSState, iteration, limits: Limits, loglike_fn: Callable,
              prior, settings: Settings, capacity: int) -> tuple[NSState, Block]:
    """Up to ``limits.max_steps`` iterations on the device, stopping on the first
    termination criterion met; the dead points go to a fixed-size buffer, so the
    device's memory does not grow with the run.

    Iteration ``iteration + i`` uses the key ``fold_in(loop_key, iteration + i)``, so
    how the run is split into dispatches never changes its result.
    """
    _, template = jax.eval_shape(
        lambda s: step(jax.random.key(0), s, loglike_fn, prior, settings), state
    )
    buffer = jax.tree.map(lambda a: jnp.zeros((capacity,) + a.shape, a.dtype), template)

    def cond(carry):
        _, _, i, _, stop = carry
        return (i < limits.max_steps) & (stop == 0)

    def body(carry):
        state, buffer, i, evals, _ = carry
        key = jax.random.fold_in(loop_key, iteration + i)
        state, info = step(key, state, loglike_fn, prior, settings)
        buffer = jax.tree.map(lambda b, x: b.at[i].set(x), buffer, info)
        evals = evals + info.lanes.useful
        return state, buffer, i + 1, evals, _stop_code(state, evals, limits, settings.num_delete)

    zero = jnp.int32(0)
    stop = _stop_code(state, zero, limits, settings.num_delete)
    state, buffer, n_steps, _, stop = jax.lax.while_loop(
        cond, body, (state, buffer, zero, zero, stop)
    )
    return state, Block(info=buffer, n_steps=n_steps, stop=stop)
