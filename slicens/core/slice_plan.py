"""The likelihood-independent randomness of one slice chain, drawn up front.

A :class:`SlicePlan` holds, per slice step, the direction, slice level, bracket offset,
split of the expansions and the key of the shrinkage draws (``fold_in(chain key, step)``),
and the chain's ellipsoid jump proposals (``fold_in(chain key, JUMP_STREAM)``). So a
chain's path depends only on its own keys and the values it sees
(:mod:`slicens.core.slice_mcmc` runs it), never on the batch or lane it runs in.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from slicens.core.ellipsoids import Ellipsoids, in_one_ellipsoid

__all__ = ["SlicePlan", "make_plan", "JUMP_STREAM"]

#: ``fold_in`` index of the jump proposals' key (the slice steps use 0, 1, 2, ...).
JUMP_STREAM = 2**31 - 1


class SlicePlan(NamedTuple):
    """The likelihood-independent randomness of one chain, one row per slice step.

    direction: shape=(num_steps, dim), dtype=float. Whitened directions of length
        ``bracket_width``; a step's direction is its region's factor times this.
    log_u_level: shape=(num_steps,), dtype=float. log U(0,1) setting the slice level.
    offset: shape=(num_steps,), dtype=float. Initial bracket is [-offset, 1 - offset].
    n_left: shape=(num_steps,), dtype=int32. Expansions allowed on the left end; the right
        end gets ``max_expansions - 1 - n_left``.
    shrink_key: shape=(num_steps,), dtype=key. Folded with the evaluation count for each
        shrinkage draw.
    num_steps: shape=(), dtype=int32. Slice steps this chain takes (at most the rows).
    radius: shape=(K,), dtype=float. This chain's radii of the regions' ellipsoids (the
        shared centres and factors come with the chain's functions); 0 for an unused slot.
    jump_point: shape=(max_jumps, dim), dtype=float. Ellipsoid jump proposals, in order.
    jump_log_u: shape=(max_jumps,), dtype=float. log U(0,1) of each jump's Metropolis test.
    num_jumps: shape=(), dtype=int32. Jumps this chain may try (0 when its start lies
        outside the ellipsoid, where no jump can be accepted; at most ``max_jumps``).
    jump_until_accepted: shape=(), dtype=bool. Stop jumping at the first accepted jump.
        Exact only where the prior density is constant on its support (then every point
        inside the ellipsoid and the contour accepts a jump with the same probability);
        otherwise all ``num_jumps`` jumps are tried, each a Metropolis step.
    """

    direction: jax.Array
    log_u_level: jax.Array
    offset: jax.Array
    n_left: jax.Array
    shrink_key: jax.Array
    num_steps: jax.Array
    radius: jax.Array
    jump_point: jax.Array
    jump_log_u: jax.Array
    num_jumps: jax.Array
    jump_until_accepted: jax.Array


def make_plan(chain_key, shapes: Ellipsoids, num_steps: int, max_expansions: int, *,
              radius=None, steps=None, max_jumps: int = 0, num_jumps=None,
              until_accepted: bool = False, bracket_width: float = 2.0) -> SlicePlan:
    """Draw the likelihood-independent randomness of one chain.

    ``shapes``: the regions' ellipsoids (centres and factors;
    :func:`slicens.core.ellipsoids.single_region` for one), with this chain's ``radius``
    (default: ``shapes.radius``).
    ``num_steps`` rows of slice randomness are drawn (step ``s`` uses only
    ``fold_in(chain_key, s)``); the chain takes ``steps`` of them (default all).
    ``max_jumps`` ellipsoid jump proposals, uniform in the union of ``shapes`` with
    ``radius``, come from ``fold_in(chain_key, 2**31 - 1)``; the chain may try
    ``num_jumps`` of them (default all).
    ``bracket_width``: the initial bracket's width in units of the region's standard
    deviation along the direction (the direction's Mahalanobis length).
    """
    dim = shapes.factor.shape[-1]
    dtype = shapes.factor.dtype
    radius = shapes.radius if radius is None else radius

    def one_step(step):
        k_dir, k_level, k_offset, k_split, k_shrink = jax.random.split(
            jax.random.fold_in(chain_key, step), 5
        )
        z = jax.random.normal(k_dir, (dim,), dtype)
        direction = bracket_width * z / jnp.linalg.norm(z)
        log_u_level = jnp.log(jax.random.uniform(k_level, (), dtype))
        offset = jax.random.uniform(k_offset, (), dtype)
        n_left = jnp.floor(max_expansions * jax.random.uniform(k_split, ())).astype(jnp.int32)
        return direction, log_u_level, offset, n_left, k_shrink

    rows = jax.vmap(one_step)(jnp.arange(num_steps))
    steps = num_steps if steps is None else steps
    jumps = shapes._replace(radius=radius) if max_jumps else None
    jump_point, jump_log_u = _jump_proposals(jax.random.fold_in(chain_key, JUMP_STREAM), jumps,
                                             max_jumps, dim, dtype)
    if num_jumps is None:
        num_jumps = max_jumps
    return SlicePlan(*rows, num_steps=jnp.asarray(steps, jnp.int32),
                     radius=jnp.asarray(radius, dtype), jump_point=jump_point,
                     jump_log_u=jump_log_u, num_jumps=jnp.asarray(num_jumps, jnp.int32),
                     jump_until_accepted=jnp.asarray(until_accepted, bool))


def _jump_proposals(key, ellipsoids: Ellipsoids | None, max_jumps: int, dim: int, dtype):
    """``max_jumps`` points uniform in the union of ``ellipsoids`` and the log uniforms
    of their Metropolis tests.

    Each point is drawn uniformly in one ellipsoid picked in proportion to its volume, and
    kept with probability ``1 / cover(point)`` (the ellipsoids holding it), which makes it
    uniform on the union. A point not kept is a void try: its log uniform is ``+inf``, so
    no jump there is accepted and :func:`slicens.core.slice_mcmc.settle` rejects it
    without an evaluation.
    """
    if ellipsoids is None or max_jumps == 0:
        return jnp.zeros((max_jumps, dim), dtype), jnp.zeros((max_jumps,), dtype)
    k_pick, k_dir, k_radius, k_test, k_keep = jax.random.split(key, 5)
    points = in_one_ellipsoid((k_pick, k_dir, k_radius), ellipsoids, max_jumps)
    cover = _cover(ellipsoids, points)
    kept = jax.random.uniform(k_keep, (max_jumps,), dtype) * jnp.maximum(cover, 1) < 1.0
    log_u = jnp.log(jax.random.uniform(k_test, (max_jumps,), dtype))
    return points, jnp.where(kept, log_u, jnp.inf)


def _cover(ellipsoids: Ellipsoids, points):
    """How many of the ellipsoids hold each of ``points``: 1 where only slot 0 is used
    (``ellipsoids.split`` False: every point drawn lies in it, and a point that rounding
    puts just outside is kept all the same), without the ``K`` distances."""
    def count():
        return jax.vmap(ellipsoids.cover)(points)

    if ellipsoids.split is None:
        return count()
    return jax.lax.cond(ellipsoids.split, count,
                        lambda: jnp.ones(points.shape[0], jnp.int32))
