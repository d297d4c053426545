"""Bounds: unions of ellipsoids in the unit cube, drawn from uniformly, with volumes
counted from draws.

A run that draws from bounds (``method="bounds"``, :mod:`slicens.host.bounded`) works in
the prior's unit cube, where the prior is uniform: the prior mass of a region is its
volume. Each bound is the union of the ellipsoids fitted to the run's best points (one
around all of them, or one per cluster where they split: the ellipsoids the chains jump
into, :func:`slicens.core.jumps.jump_ellipsoids`), intersected with the cube. Its volume
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

from slicens.core import ellipsoids, jumps
from slicens.core.ellipsoids import Ellipsoids

__all__ = ["Bound", "BLOCK", "fit", "in_cube", "contains", "count_volume", "draw"]

#: Tries made at once by :func:`count_volume` and :func:`draw` (memory: ``BLOCK x K x
#: dim`` for the covers).
BLOCK = 4096


class Bound(NamedTuple):
    """A union of ellipsoids intersected with the unit cube, and its counted volume.

    union: the ellipsoids (:class:`slicens.core.ellipsoids.Ellipsoids`; radius 0 marks an
        unused slot).
    log_volume: shape=(), dtype=float. Log of the counted volume (the prior mass).
    log_volume_var: shape=(), dtype=float. Variance of ``log_volume`` from the counts.
    """

    union: Ellipsoids
    log_volume: jax.Array
    log_volume_var: jax.Array


def fit(points, max_clusters: int, enlargement: float) -> Ellipsoids:
    """The union of ellipsoids around ``points`` (n, dim) in the unit cube: each
    ellipsoid with its points' mean and covariance shape and the cross-validated radius
    of :func:`slicens.core.jumps.jump_ellipsoids`, scaled to ``enlargement`` times the
    volume of the one through the farthest point (instead of the jumps' 1.5)."""
    dim = points.shape[1]
    cov = jnp.atleast_2d(jnp.cov(points, rowvar=False))
    jitter = 1e-10 * jnp.trace(cov) / dim
    factor = jnp.linalg.cholesky(cov + jitter * jnp.eye(dim, dtype=cov.dtype))
    nobody = jnp.full((1,), -1, jnp.int32)  # no point left out for a start
    union, _ = jumps.jump_ellipsoids(points, factor, nobody, max_clusters)
    scale = (enlargement / jumps.JUMP_VOLUME_ENLARGEMENT) ** (1.0 / dim)
    return union._replace(radius=union.radius[0] * scale, split=None)


def in_cube(points):
    """Whether each of ``points`` (n, dim) lies strictly inside the unit cube."""
    return jnp.all((points > 0.0) & (points < 1.0), axis=-1)


def contains(union: Ellipsoids, points):
    """Whether each of ``points`` (n, dim) lies in the bound of ``union``."""
    return in_cube(points) & (ellipsoids.covers(union, points) > 0)


def _tries(key, union: Ellipsoids, n: int):
    """``n`` tries: points uniform in one ellipsoid each, and whether each is kept (so
    that the kept ones are uniform in the bound)."""
    k_pick, k_dir, k_radius, k_keep = jax.random.split(key, 4)
    points = ellipsoids.in_one_ellipsoid((k_pick, k_dir, k_radius), union, n)
    cover = ellipsoids.covers(union, points)
    u = jax.random.uniform(k_keep, (n,), points.dtype)
    return points, in_cube(points) & (u * jnp.maximum(cover, 1) < 1.0)


def _log_total_volume(union: Ellipsoids):
    dim = union.centre.shape[-1]
    return jax.nn.logsumexp(union.log_volume()) + ellipsoids.log_unit_ball(dim)


def count_volume(key, union: Ellipsoids, blocks: int) -> Bound:
    """The bound of ``union`` with its volume counted from ``blocks x BLOCK`` tries:
    ``V = sum of the ellipsoids' volumes x kept / tries``, variance of ``log V``
    ``(1 - a) / (a x tries)`` for the kept share ``a``."""
    def block(i, kept):
        _, keep = _tries(jax.random.fold_in(key, i), union, BLOCK)
        return kept + jnp.sum(keep, dtype=jnp.int32)

    kept = jax.lax.fori_loop(0, blocks, block, jnp.zeros((), jnp.int32))
    dtype = union.centre.dtype
    tries = jnp.asarray(blocks * BLOCK, dtype)
    share = jnp.maximum(kept.astype(dtype), 0.5) / tries
    log_volume = _log_total_volume(union) + jnp.log(share)
    return Bound(union, log_volume, (1.0 - share) / (share * tries))


def draw(key, union: Ellipsoids, n: int, max_rounds: int):
    """``n`` points uniform in the bound of ``union``, from rounds of ``BLOCK`` tries
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
        tried, keep = _tries(jax.random.fold_in(key, r), union, BLOCK)
        slot = jnp.where(keep, filled + jnp.cumsum(keep, dtype=jnp.int32) - 1, n)
        points = points.at[slot].set(tried, mode="drop")
        return r + 1, jnp.minimum(filled + jnp.sum(keep, dtype=jnp.int32), n), points

    start = (jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), jnp.zeros((n, dim), dtype))
    _, filled, points = jax.lax.while_loop(go_on, one_round, start)
    return points, filled

