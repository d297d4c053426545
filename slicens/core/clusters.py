"""Modes of the live points: connected components of their nearest-neighbour graph.

Pure JAX with static shapes, computed once per iteration from the live points alone, so
the clustering is deterministic and does not depend on ``chunk_size`` or the schedule.
Used by :func:`slicens.core.jumps.jump_ellipsoids` to bound the contour by one ellipsoid per
mode instead of one around all of them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["NEIGHBOURS", "LINK_RATIO", "Clusters", "local_whitening", "locally_whitened",
           "neighbour_components", "find_clusters"]

#: Neighbours that link a live point to its mode. A component of the symmetrised
#: k-nearest-neighbour graph has at least ``NEIGHBOURS + 1`` points, so a mode needs that
#: many live points to be found; measured: one component for Gaussians of 2-30
#: dimensions at n_live 200-1000, one per mode for separated mixtures and shells.
NEIGHBOURS = 8


#: The local metric (:func:`local_whitening`) comes from each point's
#: ``METRIC_NEIGHBOURS`` nearest points and is refined ``METRIC_PASSES`` times: each pass
#: separates slab-shaped modes further (measured: four modes along the diagonal of a
#: 5-d box, the last down to 3-12 points, linked after one pass, apart in 16 of 18 cases
#: after three passes and in all 18 after five; one Gaussian blob stays one in 2-30
#: dimensions).
METRIC_NEIGHBOURS = 4
METRIC_PASSES = 5

#: A neighbour link is kept only within this factor of the neighbour's own distance to
#: its ``NEIGHBOURS``-th nearest point.
LINK_RATIO = 2.0


class Clusters(NamedTuple):
    """Up to ``max_clusters`` modes of the live points.

    label: shape=(n,), dtype=int32. Each point's cluster in ``[0, max_clusters)``, or -1
        for a point in a component too small or beyond the ``max_clusters`` largest.
    size: shape=(max_clusters,), dtype=int32. Points per cluster (0 for an unused slot).
    count: shape=(), dtype=int32. Connected components found (before keeping the largest).
    """

    label: jax.Array
    size: jax.Array
    count: jax.Array


def _nearest(whitened, neighbours: int):
    """Indices (n, k) of each point's ``k`` nearest other points, and their distances^2.

    Ties go to the smaller index. Each of the ``k`` rounds takes, per row, the smallest
    (distance, index) pair after the previous round's, with two plain reductions (the
    smallest distance, then the smallest index holding it): XLA:CPU's top_k sorts every
    row (10x slower) and its argmin, a variadic reduction, is 1.5x slower than the two,
    as is overwriting each found entry in a carried copy of the matrix.
    """
    n = whitened.shape[0]
    sq = jnp.sum(whitened**2, axis=1)
    dist2 = sq[:, None] + sq[None, :] - 2.0 * whitened @ whitened.T
    dist2 = jnp.where(jnp.eye(n, dtype=bool), jnp.inf, dist2)
    column = jnp.arange(n, dtype=jnp.int32)[None, :]

    def next_nearest(last, _):
        last_d2, last_j = last
        later = (dist2 > last_d2[:, None]) | (
            (dist2 == last_d2[:, None]) & (column > last_j[:, None]))
        remaining = jnp.where(later, dist2, jnp.inf)
        d2 = jnp.min(remaining, axis=1)
        j = jnp.min(jnp.where(remaining == d2[:, None], column, n), axis=1)
        return (d2, j), (j, d2)

    start = (jnp.full(n, -jnp.inf, dist2.dtype), jnp.full(n, -1, jnp.int32))
    _, (nearest, d2) = jax.lax.scan(next_nearest, start, None, length=min(neighbours, n - 1))
    return nearest.T, d2.T


def local_whitening(whitened, neighbours: int = NEIGHBOURS):
    """The points re-whitened by their *local* covariance: the mean outer product of the
    differences to their nearest neighbours. Modes spread along a line (the between-mode
    direction dominating the global covariance) are thin slabs after global whitening,
    as close to each other as their points are; the local metric stretches the thin
    direction and separates them. For one blob it is the global metric again."""
    nearest, _ = _nearest(whitened, neighbours)
    difference = whitened[:, None, :] - whitened[nearest]
    local = jnp.einsum("ika,ikb->ab", difference, difference) / (
        difference.shape[0] * difference.shape[1])
    dim = local.shape[0]
    local = local + 1e-10 * jnp.trace(local) / dim * jnp.eye(dim, dtype=local.dtype)
    factor = jnp.linalg.cholesky(local)
    return jax.scipy.linalg.solve_triangular(factor, whitened.T, lower=True).T


def neighbour_components(whitened, neighbours: int = NEIGHBOURS):
    """Each point's component of the symmetrised ``neighbours``-nearest-neighbour graph,
    without links longer than :data:`LINK_RATIO` times the far end's own reach,
    labelled by the smallest point index in it. ``whitened``: shape (n, dim)."""
    n = whitened.shape[0]
    nearest, dist2 = _nearest(whitened, neighbours)
    # An edge to a neighbour much farther than that neighbour's own k-th nearest point
    # joins two modes, not one: a mode down to a few points would otherwise link into
    # the nearest dense one.
    linked = dist2 <= LINK_RATIO**2 * dist2[nearest, -1]
    nearest = jnp.where(linked, nearest, jnp.arange(n)[:, None])

    def spread(carry):
        labels, _ = carry
        new = jnp.minimum(labels, jnp.min(labels[nearest], axis=1))
        new = new.at[nearest].min(jnp.broadcast_to(new[:, None], nearest.shape))  # both ways
        new = new[new]  # a label is a point of the same component: jump to its label
        return new, jnp.any(new != labels)

    labels = jnp.arange(n, dtype=jnp.int32)
    return jax.lax.while_loop(lambda c: c[1], spread, (labels, jnp.asarray(True)))[0]


def locally_whitened(positions, factor):
    """The points whitened by their covariance's Cholesky ``factor``, then
    :data:`METRIC_PASSES` times by their local covariance (:func:`local_whitening`): the
    metric in which modes are found. A linear map of the positions."""
    centred = positions - jnp.mean(positions, axis=0)[None, :]
    whitened = jax.scipy.linalg.solve_triangular(factor, centred.T, lower=True).T
    return jax.lax.fori_loop(  # a loop, not unrolled: one pass to compile
        0, METRIC_PASSES, lambda _, w: local_whitening(w, METRIC_NEIGHBOURS), whitened)


def find_clusters(positions, factor, max_clusters: int,
                  neighbours: int = NEIGHBOURS) -> Clusters:
    """The ``max_clusters`` largest components of the live points' nearest-neighbour graph,
    in the space whitened by the live covariance's Cholesky ``factor``. Ties in size go
    to the component with the smaller first index (deterministic)."""
    n = positions.shape[0]
    root = neighbour_components(locally_whitened(positions, factor), neighbours)
    sizes = jnp.zeros(n, jnp.int32).at[root].add(1)
    kept_size, kept_root = jax.lax.top_k(sizes, min(max_clusters, n))
    pad = max_clusters - kept_size.shape[0]
    kept_size = jnp.pad(kept_size, (0, pad))
    kept_root = jnp.pad(kept_root, (0, pad), constant_values=-1)
    match = (root[:, None] == kept_root[None, :]) & (kept_size[None, :] > 0)
    label = jnp.where(jnp.any(match, axis=1), jnp.argmax(match, axis=1), -1)
    return Clusters(label.astype(jnp.int32), kept_size.astype(jnp.int32),
                    jnp.sum(sizes > 0).astype(jnp.int32))
