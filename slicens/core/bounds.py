"""Bounds: unions of ellipsoids in the unit cube, drawn from uniformly, with volumes
counted from draws.

A run that draws from bounds (``method="bounds"``, :mod:`slicens.host.bounded`) works in
the prior's unit cube, where the prior is uniform: the prior mass of a region is its
volume. Each bound is the union of the ellipsoids fitted to the run's best points (one
per mode, :func:`fit`; or split further along contours one ellipsoid cannot follow,
:func:`split_union`), intersected with the cube. Its volume
is counted: the ellipsoids' analytic volumes times the share of draws kept (a draw is
kept with probability ``1 / (ellipsoids holding it)`` and only inside the cube), with the
binomial variance of that share. Nothing here evaluates a likelihood: a void try costs an
array of random numbers.

Pure JAX; every function's result depends on its key and arguments only.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from slicens.core import clusters, ellipsoids, jumps, kernel, network
from slicens.core.ellipsoids import Ellipsoids
from slicens.core.network import Network

__all__ = ["Bound", "BLOCK", "SPLIT_ABOVE", "SPLIT_MIN_POINTS", "fit", "split_union", "in_cube",
           "contains", "count_volume", "draw"]

#: Tries made at once by :func:`count_volume` and :func:`draw` (memory: ``BLOCK x K x
#: dim`` for the covers).
BLOCK = 4096
#: Where the union's bounding box, clipped to the unit cube, is smaller than the sum of
#: its ellipsoids' volumes, draw the tries uniformly in that box (kept where an ellipsoid
#: holds them) instead of from the ellipsoids: in many dimensions an early bound's
#: ellipsoids reach far outside the cube (on the 11-d PyAutoLens MGE fit, 1 try in 30,000
#: was kept, and the exploration stalled), while the box never leaves it. Off: on the
#: tiny lens it took 1.27x the evaluations over 3 seeds, one with a long sampling tail
#: (BENCHMARKS.md, "eleventh part"). Read when a program is traced, so set it before a
#: run compiles (README, "PyAutoFit": a model whose exploration stalls).
BOX_TRIES = False


class Bound(NamedTuple):
    """A union of ellipsoids intersected with the unit cube, and its counted volume.

    union: the ellipsoids (:class:`slicens.core.ellipsoids.Ellipsoids`; radius 0 marks an
        unused slot).
    log_volume: shape=(), dtype=float. Log of the counted volume (the prior mass).
    log_volume_var: shape=(), dtype=float. Variance of ``log_volume`` from the counts.
    network: the learned refinement (:mod:`slicens.core.network`, one ensemble per
        ellipsoid, :func:`slicens.core.network.stack`): only the union's points that the
        networks of their nearest ellipsoid place inside the contour belong to the
        bound. None: the whole union.
    """

    union: Ellipsoids
    log_volume: jax.Array
    log_volume_var: jax.Array
    network: Network | None = None


def fit(points, max_clusters: int, enlargement: float) -> Ellipsoids:
    """The union of ellipsoids around ``points`` (n, dim) in the unit cube: each
    ellipsoid with its points' mean and covariance shape and the cross-validated radius
    of :func:`slicens.core.jumps.jump_ellipsoids`, scaled to ``enlargement`` times the
    volume of the one through the farthest point (instead of the jumps' 1.5)."""
    dim = points.shape[1]
    factor = kernel.covariance_factor(points)
    nobody = jnp.full((1,), -1, jnp.int32)  # no point left out for a start
    union, _ = jumps.jump_ellipsoids(points, factor, nobody, max_clusters)
    scale = (enlargement / jumps.JUMP_VOLUME_ENLARGEMENT) ** (1.0 / dim)
    return union._replace(radius=union.radius[0] * scale, split=None)


#: A bound's ellipsoids are split while their union's volume (before enlargement) exceeds
#: this many times the volume the fitted points represent (their share of the prior mass
#: under the run's weights): a contour one ellipsoid cannot follow (a ring, a curved
#: ridge) is then covered by several along it.
SPLIT_ABOVE = 2.0
#: Points an ellipsoid of a split union keeps at least (beyond ``dim``), as Nautilus's
#: ``n_points_min``: fewer give a covariance too noisy to bound anything.
SPLIT_MIN_POINTS = 10
#: Lloyd iterations of the two-means split.
SPLIT_ITERATIONS = 8


def _slot_shapes(points, label, slots: int):
    """Each slot's mean, covariance factor, inverse factor, squared cross-validated
    radius (the largest over its points) and size; radius 0 where a slot holds fewer
    than ``dim + 2`` points."""
    n, dim = points.shape
    weight = (label[None, :] == jnp.arange(slots)[:, None]).astype(points.dtype)
    size = jnp.sum(weight, axis=1)
    centre = weight @ points / jnp.maximum(size, 1.0)[:, None]
    offset = points[None, :, :] - centre[:, None, :]
    cov = jnp.einsum("kn,kna,knb->kab", weight, offset, offset) / jnp.maximum(
        size - 1.0, 1.0)[:, None, None]
    scale = jnp.trace(cov, axis1=1, axis2=2) / dim
    jitter = 1e-10 * jnp.where(scale > 0, scale, 1.0)
    factor = jnp.linalg.cholesky(cov + jitter[:, None, None] * jnp.eye(dim, dtype=cov.dtype)[None])
    inverse = ellipsoids.inverse_factor(factor)
    d2 = jnp.sum(jnp.einsum("kab,knb->kna", inverse, offset) ** 2, axis=-1)
    loo = jumps._cross_validated(d2, jnp.maximum(size, 3.0)[:, None])
    r2 = jnp.max(jnp.where(weight > 0, loo, 0.0), axis=1)
    r2 = jnp.where(size >= dim + 2, r2, 0.0)
    return centre, factor, inverse, r2, size


def _log_volumes(factor, r2):
    dim = factor.shape[-1]
    log_det = jnp.sum(jnp.log(jnp.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)
    return jnp.where(r2 > 0, log_det + 0.5 * dim * jnp.log(jnp.where(r2 > 0, r2, 1.0)),
                     -jnp.inf)


def _two_means(points, members, centre, inverse, cov_factor):
    """Split ``members`` in two: by the side of the principal axis first, then
    :data:`SPLIT_ITERATIONS` Lloyd steps in the slot's whitened metric. Returns whether
    each point goes to the second half."""
    cov = cov_factor @ cov_factor.T
    axis = jnp.linalg.eigh(cov)[1][:, -1]
    side = (points - centre[None, :]) @ axis > 0

    def lloyd(_, side):
        halves = jnp.stack([members & ~side, members & side]).astype(points.dtype)
        means = halves @ points / jnp.maximum(jnp.sum(halves, axis=1), 1.0)[:, None]
        white = jnp.einsum("ab,jnb->jna", inverse, points[None] - means[:, None])
        d2 = jnp.sum(white**2, axis=-1)
        return d2[1] < d2[0]

    return members & jax.lax.fori_loop(0, SPLIT_ITERATIONS, lloyd, side)


def _initial_clusters(points, slots: int):
    """The points' modes as the jumps find them (:func:`slicens.core.clusters.find_clusters`,
    connected components of the nearest-neighbour graph), each point of no cluster in
    its nearest cluster's (whitened distance to the means); slot labels and the slots
    used."""
    dim = points.shape[1]
    factor = kernel.covariance_factor(points)
    found = clusters.find_clusters(points, factor, slots)
    used = jnp.maximum(jnp.sum(found.size > 0), 1).astype(jnp.int32)
    weight = (found.label[None, :] == jnp.arange(slots)[:, None]).astype(points.dtype)
    means = weight @ points / jnp.maximum(jnp.sum(weight, axis=1), 1.0)[:, None]
    white = jax.scipy.linalg.solve_triangular(
        factor, (points[:, None, :] - means[None, :, :]).reshape(-1, dim).T, lower=True)
    d2 = jnp.sum(white**2, axis=0).reshape(points.shape[0], slots)
    d2 = jnp.where(jnp.arange(slots)[None, :] < used, d2, jnp.inf)
    nearest = jnp.argmin(d2, axis=1).astype(jnp.int32)
    label = jnp.where(found.label >= 0, found.label, nearest)
    return jnp.where(found.size[0] > 0, label, 0), used


def split_union(points, slots: int, enlargement: float, target_log_volume) -> Ellipsoids:
    """A union of up to ``slots`` ellipsoids around ``points``: one around all, then the
    largest split in two (:func:`_two_means`) while the union's volume exceeds
    :data:`SPLIT_ABOVE` times ``target_log_volume``'s and both halves keep ``dim +``
    :data:`SPLIT_MIN_POINTS` points; of the unions met along the way the smallest is
    returned (as the ellipsoids' volumes say, before enlargement); each radius the
    cross-validated one, scaled to ``enlargement`` times its volume. Deterministic."""
    n, dim = points.shape
    min_points = dim + SPLIT_MIN_POINTS
    label, used = _initial_clusters(points, slots)
    unit = ellipsoids.log_unit_ball(dim)

    def union_volume(label):
        _, factor, _, r2, _ = _slot_shapes(points, label, slots)
        return jax.nn.logsumexp(_log_volumes(factor, r2))

    def one_split(_, carry):
        label, used, frozen, best, best_volume = carry
        centre, factor, inverse, r2, size = _slot_shapes(points, label, slots)
        log_volume = _log_volumes(factor, r2) + unit
        total = jax.nn.logsumexp(log_volume)
        # the smallest union met along the way is kept: one split can enlarge a union
        # that later ones shrink (a ring's halves take more volume than its ellipsoid,
        # its quarters less), while in 10-d halves of a few dozen points have noisy
        # shapes and large cross-validated radii, and a union split to the end came out
        # larger than the last bound at every fit (the 10-d shells stalled at log V -16.4)
        better = total < best_volume
        best = jnp.where(better, label, best)
        best_volume = jnp.where(better, total, best_volume)
        wanted = total > target_log_volume + jnp.log(SPLIT_ABOVE)
        open_ = ~frozen & (size >= 2 * min_points)
        slot = jnp.argmax(jnp.where(open_, log_volume, -jnp.inf))
        members = label == slot
        second = _two_means(points, members, centre[slot], inverse[slot], factor[slot])
        halves = jnp.sum(second), jnp.sum(members & ~second)
        fits = (halves[0] >= min_points) & (halves[1] >= min_points)
        go = wanted & open_[slot] & (used < slots)
        split = go & fits
        label = jnp.where(split & second, used, label)
        frozen = frozen.at[slot].set(frozen[slot] | (go & ~fits))
        return label, used + split.astype(jnp.int32), frozen, best, best_volume

    start = (label, used, jnp.zeros(slots, bool), label, jnp.asarray(jnp.inf, points.dtype))
    label, _, _, best, best_volume = jax.lax.fori_loop(0, slots - 1, one_split, start)
    label = jnp.where(union_volume(label) + unit < best_volume, label, best)
    centre, factor, inverse, r2, _ = _slot_shapes(points, label, slots)
    radius = jnp.sqrt(r2) * enlargement ** (1.0 / dim)
    return Ellipsoids(centre, factor, radius, inverse)


def in_cube(points):
    """Whether each of ``points`` (n, dim) lies strictly inside the unit cube."""
    return jnp.all((points > 0.0) & (points < 1.0), axis=-1)


def _refined(union: Ellipsoids, refinement: Network | None, points, inside):
    """``inside`` where no ``refinement`` is given, else also inside by the networks of
    each point's nearest ellipsoid (:func:`slicens.core.network.inside_by_slot`)."""
    if refinement is None:
        return inside
    slot = ellipsoids.nearest(union, points)
    return inside & network.inside_by_slot(refinement, slot, points)


def contains(union: Ellipsoids, points, refinement: Network | None = None):
    """Whether each of ``points`` (n, dim) lies in the bound of ``union`` (and, where a
    ``refinement`` is given, inside its networks' contour)."""
    return _refined(union, refinement, points,
                    in_cube(points) & (ellipsoids.covers(union, points) > 0))


def _tries(key, union: Ellipsoids, n: int, refinement: Network | None = None):
    """``n`` tries: points uniform in one ellipsoid each (or, under :data:`BOX_TRIES`,
    in the union's box where it is the smaller), and whether each is kept (so that the
    kept ones are uniform in the bound, refined where ``refinement`` is given)."""
    def from_ellipsoids(_):
        k_pick, k_dir, k_radius, k_keep = jax.random.split(key, 4)
        points = ellipsoids.in_one_ellipsoid((k_pick, k_dir, k_radius), union, n)
        cover = ellipsoids.covers(union, points)
        u = jax.random.uniform(k_keep, (n,), points.dtype)
        return points, in_cube(points) & (u * jnp.maximum(cover, 1) < 1.0)

    def from_box(box):
        low, high = box
        points = low[None, :] + (high - low)[None, :] * jax.random.uniform(
            jax.random.fold_in(key, 7), (n, low.shape[0]), low.dtype)
        return points, ellipsoids.covers(union, points) > 0  # the box lies in the cube

    if BOX_TRIES:
        low, high, log_box = _box(union)
        points, keep = jax.lax.cond(log_box < _log_union_volume(union), from_box,
                                    from_ellipsoids, (low, high))
    else:
        points, keep = from_ellipsoids(None)
    return points, _refined(union, refinement, points, keep)


def _box(union: Ellipsoids):
    """The union's axis-aligned bounding box clipped to the unit cube: ``(low, high,
    log volume)``. Ellipsoid ``k`` reaches ``radius_k x |row i of factor_k|`` from its
    centre along axis ``i``."""
    used = (union.radius > 0)[:, None]
    reach = union.radius[:, None] * jnp.linalg.norm(union.factor, axis=-1)
    low = jnp.clip(jnp.min(jnp.where(used, union.centre - reach, jnp.inf), axis=0), 0.0, 1.0)
    high = jnp.clip(jnp.max(jnp.where(used, union.centre + reach, -jnp.inf), axis=0), 0.0,
                    1.0)
    return low, high, jnp.sum(jnp.log(high - low))


def _log_union_volume(union: Ellipsoids):
    dim = union.centre.shape[-1]
    return jax.nn.logsumexp(union.log_volume()) + ellipsoids.log_unit_ball(dim)


def _log_total_volume(union: Ellipsoids):
    """Log volume of the region the tries are drawn from: the ellipsoids' summed volumes
    (or, under :data:`BOX_TRIES`, the union's box where that is smaller)."""
    if BOX_TRIES:
        return jnp.minimum(_box(union)[2], _log_union_volume(union))
    return _log_union_volume(union)


def count_volume(key, union: Ellipsoids, blocks: int,
                 refinement: Network | None = None) -> Bound:
    """The bound of ``union`` (refined by ``refinement`` where given) with its volume
    counted from ``blocks x BLOCK`` tries: ``V = sum of the ellipsoids' volumes x kept /
    tries``, variance of ``log V`` ``(1 - a) / (a x tries)`` for the kept share ``a``."""
    def block(i, kept):
        _, keep = _tries(jax.random.fold_in(key, i), union, BLOCK, refinement)
        return kept + jnp.sum(keep, dtype=jnp.int32)

    kept = jax.lax.fori_loop(0, blocks, block, jnp.zeros((), jnp.int32))
    dtype = union.centre.dtype
    tries = jnp.asarray(blocks * BLOCK, dtype)
    share = jnp.maximum(kept.astype(dtype), 0.5) / tries
    log_volume = _log_total_volume(union) + jnp.log(share)
    return Bound(union, log_volume, (1.0 - share) / (share * tries), refinement)


def draw(key, union: Ellipsoids, n: int, max_rounds: int, refinement: Network | None = None):
    """``n`` points uniform in the bound of ``union`` (refined by ``refinement`` where
    given), from rounds of ``BLOCK`` tries
    (round ``r`` keyed ``fold_in(key, r)``) until ``n`` are kept or ``max_rounds`` are
    spent. Returns ``(points, filled)``: ``points`` (n, dim), valid for the first
    ``filled`` rows (``filled < n`` only when the rounds ran out)."""
    dim = union.centre.shape[-1]
    dtype = union.centre.dtype

    def go_on(carry):
        r, filled, _ = carry
        return (filled < n) & (r < max_rounds)

    def one_round(carry):
        r, filled, points = carry
        tried, keep = _tries(jax.random.fold_in(key, r), union, BLOCK, refinement)
        slot = jnp.where(keep, filled + jnp.cumsum(keep, dtype=jnp.int32) - 1, n)
        points = points.at[slot].set(tried, mode="drop")
        return r + 1, jnp.minimum(filled + jnp.sum(keep, dtype=jnp.int32), n), points

    start = (jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), jnp.zeros((n, dim), dtype))
    _, filled, points = jax.lax.while_loop(go_on, one_round, start)
    return points, filled

