"""Insertion ranks for the mixing tests: where each new point, and its chain's start,
falls among the survivors of an iteration. Pure JAX, computed once per iteration."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["RANK_STREAM", "survivor_ranks"]

#: ``fold_in`` index of an iteration key's stream for breaking ties in the ranks (the
#: chains use ``split(key)``, so their draws do not change).
RANK_STREAM = 2**31 - 2


def survivor_ranks(key, survivors, contour, new, start) -> dict:
    """Ranks of the new points and of the chains' starts among the sorted ``survivors``
    that lie above the ``contour``, for the mixing tests.

    Only survivors above the contour count: a new point lies above it by construction,
    so survivors tied at the contour (a plateau, or the ``-inf`` of a NaN region) would
    sit below every new point and push its rank up by as many, whatever the chains do.
    Ties among the rest (a likelihood of discrete levels) are broken uniformly at
    random: the new point and the survivors above the contour are exchangeable draws
    from the constrained prior, so with ties broken at random its rank is uniform on
    ``0 .. rank_count - 1``, as it is without ties. Without ties (and no survivor at the
    contour) these are the plain ranks ``searchsorted(survivors, new)``.
    """
    below = jnp.sum(survivors <= contour)
    key_new, key_start = jax.random.split(key)

    def ranks(key, value, others_tied):
        low = jnp.searchsorted(survivors, value, side="left")
        tied = jnp.searchsorted(survivors, value, side="right") - low - others_tied
        draw = jax.random.uniform(key, value.shape, survivors.dtype)
        pick = jnp.minimum(jnp.floor(draw * (tied + 1)).astype(low.dtype), tied)
        return (low + pick - below).astype(jnp.int32)

    # a start is one of the survivors: among the others, one fewer tie (itself)
    return dict(insertion_rank=ranks(key_new, new, 0), start_rank=ranks(key_start, start, 1),
                rank_count=(survivors.shape[0] - below + 1).astype(jnp.int32))
