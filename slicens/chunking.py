"""The one mechanism that bounds how many particles are evaluated at once.

Everything in slicens that evaluates many particles (the ``n_live`` initial likelihood
calls, the ``num_delete`` replacement chains) goes through :func:`chunked_map`. It knows
nothing about nested or slice sampling: it maps a per-item function over a batch, at
most ``chunk_size`` items at a time, always with one compiled shape.

It also holds the memory side: :func:`compiled_memory` reads XLA's compiled memory
analysis of a function without running it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["chunked_map", "resolve_chunk_size", "CompiledMemory", "compiled_memory"]


def resolve_chunk_size(chunk_size: int | None, batch_size: int) -> int:
    """The number of items evaluated together for a batch of ``batch_size``.

    ``None`` means the whole batch at once; a chunk larger than the batch is the batch.
    """
    if chunk_size is None:
        return batch_size
    return min(chunk_size, batch_size)


def chunked_map(fn: Callable, xs, chunk_size: int | None):
    """Map ``fn`` over the leading axis of the pytree ``xs``, ``chunk_size`` items at a time.

    Parameters
    ----------
    fn
        ``(item) -> pytree``, a function of one item (``xs`` with its leading axis
        removed). It is vmapped over a chunk, so it must be pure.
    xs
        Pytree of arrays sharing a leading batch axis of length ``n``.
    chunk_size
        At most this many items are evaluated in one batch. ``None`` evaluates all
        ``n`` at once. Default behaviour for a chunk that does not divide ``n``: the
        batch is padded to a whole number of chunks with copies of the last item, so
        there is exactly one compiled shape, and the padding results are dropped.

    Returns
    -------
    Pytree of ``fn``'s outputs stacked along a leading axis of length ``n``. The
    result for an item does not depend on ``chunk_size``.
    """
    leaves = jax.tree.leaves(xs)
    n = leaves[0].shape[0]
    chunk = resolve_chunk_size(chunk_size, n)
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n

    def to_chunks(a):
        if pad:
            a = jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)], axis=0)
        return a.reshape((n_chunks, chunk) + a.shape[1:])

    def from_chunks(a):
        return a.reshape((n_chunks * chunk,) + a.shape[2:])[:n]

    ys = jax.lax.map(jax.vmap(fn), jax.tree.map(to_chunks, xs))
    return jax.tree.map(from_chunks, ys)


class CompiledMemory(NamedTuple):
    """XLA's compiled memory analysis of one function, in bytes."""

    argument: int
    output: int
    temp: int
    generated_code: int

    @property
    def peak(self) -> int:
        """Arguments, outputs and temporaries alive together: the working set."""
        return self.argument + self.output + self.temp


def compiled_memory(fn: Callable, *args) -> CompiledMemory:
    """Compile ``fn(*args)`` (without running it) and read XLA's memory analysis.

    ``args`` may be arrays or ``jax.ShapeDtypeStruct``; nothing is allocated or run.
    """
    analysis = jax.jit(fn).lower(*args).compile().memory_analysis()
    if analysis is None:
        raise RuntimeError(
            f"XLA gives no compiled memory analysis on backend {jax.default_backend()!r}"
        )
    return CompiledMemory(
        argument=int(analysis.argument_size_in_bytes),
        output=int(analysis.output_size_in_bytes),
        temp=int(analysis.temp_size_in_bytes),
        generated_code=int(analysis.generated_code_size_in_bytes),
    )
