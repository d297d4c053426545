"""A bare mapping-matrix likelihood for memory measurements at arbitrary scale.

Each evaluation scatters a dense ``(n_pixels, n_source)`` mapping matrix (two weights
per pixel, at source pixels that move with the two parameters), forms ``F = M^T M + I``
and solves it by Cholesky: the memory pattern of a pixelised-source lens inversion
without the lens physics. Compile it, measure it; it is not meant for sampling.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from slicens.priors import Uniform

__all__ = ["mapping_matrix_loglike", "MAPPING_PRIOR"]

MAPPING_PRIOR = [Uniform(0.5, 1.5, name="a"), Uniform(0.0, 1.0, name="b")]


def mapping_matrix_loglike(n_pixels: int = 20_000, n_source: int = 1_000) -> Callable:
    """``loglike(params)`` for ``params = (a, b)`` building an ``n_pixels x n_source`` matrix."""

    def loglike(params):
        a, b = params[0], params[1]
        dtype = params.dtype
        u = jnp.arange(n_pixels, dtype=dtype) / n_pixels
        position = jnp.mod(a * u + b, 1.0) * (n_source - 1)
        col = jnp.floor(position).astype(jnp.int32)
        w = position - col
        rows = jnp.concatenate([jnp.arange(n_pixels), jnp.arange(n_pixels)])
        cols = jnp.concatenate([col, jnp.minimum(col + 1, n_source - 1)])
        mapping = jnp.zeros((n_pixels, n_source), dtype).at[rows, cols].add(
            jnp.concatenate([1 - w, w])
        )
        curvature = mapping.T @ mapping + jnp.eye(n_source, dtype=dtype)
        chol = jnp.linalg.cholesky(curvature)
        source = jax.scipy.linalg.cho_solve((chol, True), mapping.T @ jnp.sin(10 * u))
        residual = jnp.sin(10 * u) - mapping @ source
        return -0.5 * jnp.sum(residual**2) - jnp.sum(jnp.log(jnp.diag(chol)))

    return loglike
