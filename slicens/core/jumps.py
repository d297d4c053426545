"""Where chains jump (one ellipsoid around the live points or one per cluster of them),
and how the jumps' success sets the slice steps under ``num_inner_steps="auto"``.

Pure JAX, computed once per iteration from the live points alone (so the regions do not
depend on ``chunk_size`` or the schedule). :func:`jump_ellipsoids` gives every chain its
jump region; the chains draw their jump proposals from it
(:func:`slicens.core.slice_mcmc.make_plan`) and take their slice directions from the region
each point lies in.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from slicens.core import clusters, ellipsoids

__all__ = ["JUMP_VOLUME_ENLARGEMENT", "CLUSTER_ABOVE_MISS", "CLUSTER_AGAIN_ABOVE",
           "jump_ellipsoids", "cluster_shapes", "cluster_decision", "cluster_interval",
           "next_cluster_wait", "running_miss", "adapted_steps"]

#: Volume of the jump ellipsoid over that of the smallest one (of the live covariance's
#: shape) holding every live point: the live points under-cover the contour a little.
JUMP_VOLUME_ENLARGEMENT = 1.5


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
                    cluster=True) -> tuple[ellipsoids.Ellipsoids, jax.Array]:
    """Each chain's jump region: one ellipsoid around the live points or, where the live
    points fall into several clusters (:func:`slicens.core.clusters.find_clusters`) whose
    ellipsoids take less volume together, one ellipsoid per cluster.

    Each ellipsoid has its points' mean and covariance shape and the radius that would
    hold every one of its points other than the chain's start had each been left out of
    the mean and covariance (the cross-validated radius), enlarged by
    :data:`JUMP_VOLUME_ENLARGEMENT` in volume. Returns ``(ellipsoids, start_inside)``:
    ``1 + max_clusters`` slots (slot 0: the single ellipsoid; unused slots have radius 0)
    whose ``radius`` has one row per start (centres and factors are shared) and whose
    ``split`` says whether the clusters are used, and whether each start lies inside its
    own union (a start outside cannot jump).

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
    inverses = ellipsoids.inverse_factor(factors)
    r2 = (r2_single * enlarge)[:, None]
    split = None  # one slot
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
    union = ellipsoids.Ellipsoids(centres, factors, radius, inverses, split)
    start_inside = jax.vmap(
        lambda x, r: union._replace(radius=r).contains(x))(positions[starts], radius)
    return union, start_inside


def _cluster_ellipsoids(positions, factor, starts, max_clusters: int, r2_single_all,
                        enlarge):
    """One ellipsoid per cluster of the live points (see :func:`jump_ellipsoids`):
    centres, factors, inverse factors, squared radii per start (zero for unused slots
    and where the clusters do not split) and whether they split."""
    dim = positions.shape[1]
    label = clusters.find_clusters(positions, factor, max_clusters).label
    c_centre, c_factor, c_size = cluster_shapes(positions, label, max_clusters)
    c_inverse = ellipsoids.inverse_factor(c_factor)
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


#: The live points are clustered (:func:`jump_ellipsoids`) only while more
#: than this fraction of recent chains missed their ellipsoid jump, or the last iteration
#: split.
#: Where jumps from the single ellipsoid mostly succeed it already bounds the contour
#: well and moves chains between modes in proportion to their volume, and the
#: clustering, ~24 ms per iteration at n_live 500 on a CPU, would be spent for nothing
#: (measured at n_live 500: 84-98% of chains jump on the 5-d Gaussian, which never
#: splits; 36-76% in the iterations before the 5-d mixture splits, 54-84% before the
#: egg-box does).
CLUSTER_ABOVE_MISS = 0.25


def cluster_interval(n_live: int, num_delete: int) -> int:
    """Iterations between two clusterings of live points that do not split: the
    ``n_live // num_delete`` iterations of one e-fold of compression (``n_live``
    deaths).

    Where the contour is not shaped like one ellipsoid but has one mode (a Gaussian in
    30 dimensions, where most jumps miss) every clustering finds one component. It costs
    ``n_live^2 dim``: measured at n_live 1000, dim 30 (2-core CPU), 55-90 ms against
    about 145 ms for the rest of an iteration. Once per e-fold (10 iterations there) that
    is 4-6% of an iteration; modes that separate are found at most one e-fold late (the
    mode benchmarks did not change: BENCHMARKS.md, "Mass per mode").
    """
    return max(1, n_live // num_delete)


#: Rise of the running jump miss since the last clustering that found one component
#: that makes the next iteration cluster again before its wait is over: modes drawing
#: apart leave the single ellipsoid emptier, so more jumps miss (measured on a 3-d
#: four-mode mixture at n_live 200: the miss climbs from about 0.15 to 0.4 in the 15
#: iterations before the split), while on one mode in 30 dimensions it only falls.
CLUSTER_AGAIN_ABOVE = 0.05


def cluster_decision(state):
    """Whether this iteration clusters the live points (``state``: a
    :class:`slicens.core.kernel.NSState`): where the last one split, or where recent
    jumps mostly missed and either the wait since the last clustering that found one
    component is over (:func:`cluster_interval`) or more jumps miss than then (by
    :data:`CLUSTER_AGAIN_ABOVE`; ``cluster_miss``, the miss at that clustering)."""
    miss = state.jump_miss
    due = (state.cluster_wait <= 0) | (miss > state.cluster_miss + CLUSTER_AGAIN_ABOVE)
    return state.split | ((miss > CLUSTER_ABOVE_MISS) & due)


def next_cluster_wait(clustered, split, state, n_live: int, num_delete: int) -> dict:
    """The next iteration's ``cluster_wait`` and ``cluster_miss`` (fields of
    :class:`slicens.core.kernel.NSState`) from this one's ``state``, whether it
    ``clustered`` and whether its live points ``split``: after a clustering that found
    one component, a full interval and the miss it saw; else one iteration less to wait
    (never below 0) and the same miss."""
    found_one = clustered & ~split
    rest = cluster_interval(n_live, num_delete) - 1
    wait = jnp.where(found_one, rest, jnp.maximum(state.cluster_wait - 1, 0))
    miss = jnp.where(found_one, state.jump_miss, state.cluster_miss)
    return dict(cluster_wait=wait.astype(jnp.int32),
                cluster_miss=miss.astype(state.cluster_miss.dtype))


def running_miss(previous, jumped, num_delete: int, n_live: int):
    """Fraction of chains without an accepted jump, averaged over ~``n_live`` chains."""
    weight = min(1.0, num_delete / n_live)
    miss = 1.0 - jnp.mean(jumped.astype(previous.dtype))
    return previous + weight * (miss - previous)


def adapted_steps(jump_miss, num_inner_steps: int):
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
    full = num_inner_steps
    miss = jnp.maximum(jump_miss, 1e-12)
    steps = jnp.ceil(full * (1.0 + jnp.log(miss) / 3.0))
    return jnp.clip(steps, -(-full // 3), full).astype(jnp.int32)
