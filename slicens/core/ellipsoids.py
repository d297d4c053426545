"""Unions of ellipsoids: where chains jump, and the regions that shape their slice steps.

Pure JAX. Inside the lanes (:mod:`slicens.core.chunking`) only products and sums are used,
never a dot or a triangular solve, so the arithmetic is the same at every batch width.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Ellipsoids", "inverse_factor", "in_one_ellipsoid", "covers", "nearest",
           "log_unit_ball", "region_of", "region_direction", "single_region"]


class Ellipsoids(NamedTuple):
    """A union of ellipsoids ``{x : |factor_k^-1 (x - centre_k)| < radius_k}``, where
    ellipsoid jumps are drawn. A radius of 0 marks an unused slot.

    centre: shape=(K, dim), dtype=float.
    factor: shape=(K, dim, dim), dtype=float. Lower-triangular.
    radius: shape=(K,), dtype=float.
    inverse: shape=(K, dim, dim), dtype=float. The factors' inverses (:meth:`make`).
    split: shape=(), dtype=bool, or None. Whether slots other than slot 0 may be used
        (the live points split into clusters); where it is False, :func:`region_of`
        skips the distances to the ``K`` ellipsoids (one region). None: not known.
    """

    centre: jax.Array
    factor: jax.Array
    radius: jax.Array
    inverse: jax.Array
    split: jax.Array | None = None

    @classmethod
    def make(cls, centre, factor, radius) -> Ellipsoids:
        """Ellipsoids from centres (K, dim), factors (K, dim, dim) and radii (K,)."""
        return cls(centre, factor, radius, inverse_factor(factor))

    @classmethod
    def one(cls, centre, factor, radius) -> Ellipsoids:
        """The union of a single ellipsoid."""
        return cls.make(centre[None], factor[None], jnp.reshape(radius, (1,)))

    def distance2(self, x):
        """Squared Mahalanobis distance of ``x`` from each centre, shape (K,).

        Products and sums, no solve or dot: inside the lanes the same arithmetic must
        run whatever the batch width (a dot compiles differently for one lane)."""
        whitened = jnp.sum(self.inverse * (x[None, :] - self.centre)[:, None, :], axis=-1)
        return jnp.sum(whitened**2, axis=-1)

    def cover(self, x):
        """How many of the ellipsoids hold ``x``."""
        return jnp.sum(self.distance2(x) < self.radius**2).astype(jnp.int32)

    def contains(self, x):
        return self.cover(x) > 0

    def log_volume(self):
        """Log volume of each ellipsoid, less that of the unit ball (-inf where unused)."""
        dim = self.centre.shape[-1]
        log_det = jnp.sum(jnp.log(jnp.diagonal(self.factor, axis1=-2, axis2=-1)), axis=-1)
        return log_det + dim * jnp.log(self.radius)


def inverse_factor(factor):
    """Inverses of lower-triangular factors, shape (..., dim, dim)."""
    eye = jnp.broadcast_to(jnp.eye(factor.shape[-1], dtype=factor.dtype), factor.shape)
    return jax.scipy.linalg.solve_triangular(factor, eye, lower=True)


def in_one_ellipsoid(keys, union: Ellipsoids, n: int):
    """``n`` points, each uniform in one ellipsoid of ``union`` picked in proportion to
    its volume (``keys``: the pick's, the direction's and the radius's). Kept with
    probability ``1 / (ellipsoids holding it)``, such a point is uniform on the union."""
    k_pick, k_dir, k_radius = keys
    dim = union.centre.shape[-1]
    dtype = union.centre.dtype
    pick = jax.random.categorical(k_pick, union.log_volume(), shape=(n,))
    z = jax.random.normal(k_dir, (n, dim), dtype)
    z = z / jnp.linalg.norm(z, axis=1, keepdims=True)
    radius = union.radius[pick][:, None] * jax.random.uniform(
        k_radius, (n, 1), dtype) ** (1 / dim)
    return union.centre[pick] + jnp.einsum("jab,jb->ja", union.factor[pick], radius * z)


def covers(union: Ellipsoids, points):
    """How many ellipsoids of ``union`` hold each of ``points`` (n, dim): shape (n,).

    Outside the lanes (a dot per ellipsoid, memory ``n x K x dim``), for many points at
    once."""
    offset = points[:, None, :] - union.centre[None, :, :]
    whitened = jnp.einsum("kab,nkb->nka", union.inverse, offset)
    inside = jnp.sum(whitened**2, axis=-1) < union.radius[None, :] ** 2
    return jnp.sum(inside, axis=1).astype(jnp.int32)


def nearest(union: Ellipsoids, points):
    """The ellipsoid of ``union`` nearest to each of ``points`` (n, dim) in units of its
    radius (Mahalanobis distance over radius), among the used ones: shape (n,). Outside
    the lanes, as :func:`covers`."""
    offset = points[:, None, :] - union.centre[None, :, :]
    whitened = jnp.einsum("kab,nkb->nka", union.inverse, offset)
    used = union.radius > 0
    scaled = jnp.sum(whitened**2, axis=-1) / jnp.where(used, union.radius, 1.0)[None, :] ** 2
    return jnp.argmin(jnp.where(used[None, :], scaled, jnp.inf), axis=1).astype(jnp.int32)


def log_unit_ball(dim: int) -> float:
    """Log volume of the unit ball in ``dim`` dimensions."""
    return 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim + 1.0)


def region_of(shapes: Ellipsoids, radius, x):
    """The region of ``x``: the ellipsoid of the union (centres and factors of ``shapes``,
    this chain's ``radius``) with the smallest Mahalanobis distance in units of its
    radius, among the used ones. With a single slot, or where ``shapes.split`` is False
    (only slot 0 used), always 0.

    ``shapes.split`` is shared by every chain of an iteration, so inside the lanes the
    ``cond`` stays a branch and an iteration whose live points did not split pays for one
    region, not ``K`` (30-d, 17 slots: 87% of the time per evaluation went to distances
    to unused slots, measured)."""
    zero = jnp.zeros((), jnp.int32)
    if shapes.centre.shape[0] == 1:
        return zero

    def nearest():
        d2 = shapes._replace(radius=radius).distance2(x)
        scaled = jnp.where(radius > 0, d2 / jnp.where(radius > 0, radius, 1.0) ** 2, jnp.inf)
        return jnp.argmin(scaled).astype(jnp.int32)

    if shapes.split is None:
        return nearest()
    return jax.lax.cond(shapes.split, nearest, lambda: zero)


def region_direction(shapes: Ellipsoids, region, unit):
    """``factor[region] @ unit``, the direction a slice step of ``region`` takes, as a
    product and a sum (the same arithmetic at every batch width). Where
    ``shapes.split`` is False only slot 0 is used: its factor is taken as it is, not
    gathered per chain. Measured with ``kernel.step`` alone (30 dimensions, n_live 1000,
    17 slots, no clustering; medians of 7): 17% slower than one slot with the gather,
    4% without it; whole runs on this noisy 2-core machine could not separate the
    two."""
    def product(factor):
        return jnp.sum(factor * unit[None, :], axis=1)

    if shapes.centre.shape[0] == 1 or shapes.split is None:
        return product(shapes.factor[region])
    return jax.lax.cond(shapes.split, lambda: product(shapes.factor[region]),
                        lambda: product(shapes.factor[0]))


def single_region(factor) -> Ellipsoids:
    """One region with the covariance ``factor`` (its centre and radius are unused)."""
    dim = factor.shape[-1]
    return Ellipsoids.one(jnp.zeros(dim, factor.dtype), factor, jnp.ones((), factor.dtype))
