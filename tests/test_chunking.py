"""The bounded-batch mechanism on its own."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slicens.chunking import chunked_map, compiled_memory, resolve_chunk_size


@pytest.mark.parametrize("chunk", [None, 1, 2, 3, 7, 10, 50])
def test_chunked_map_matches_plain_map(chunk):
    xs = {"a": jnp.arange(10.0), "b": jnp.arange(20.0).reshape(10, 2)}

    def fn(item):
        return item["a"] * 2 + item["b"].sum(), item["b"][::-1]

    got = jax.jit(lambda x: chunked_map(fn, x, chunk))(xs)
    want = jax.vmap(fn)(xs)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
        assert g.shape == w.shape


def test_resolve_chunk_size():
    assert resolve_chunk_size(None, 8) == 8
    assert resolve_chunk_size(3, 8) == 3
    assert resolve_chunk_size(100, 8) == 8


def test_one_compiled_shape_for_uneven_chunks():
    """A chunk that does not divide the batch pads; the per-item function sees one shape."""
    shapes = []

    def fn(x):
        shapes.append(x.shape)
        return x + 1

    jax.jit(lambda x: chunked_map(fn, x, 4))(jnp.arange(10.0))
    assert shapes == [()]


def test_chunked_map_bounds_temporary_memory():
    """Temp bytes of a big per-item intermediate scale with the chunk, not the batch."""

    def fn(x):
        big = jnp.outer(jnp.arange(512.0) + x, jnp.arange(512.0))  # 2 MiB in float64
        return jnp.sum(jnp.sin(big))

    xs = jax.ShapeDtypeStruct((64,), jnp.float64)
    temp = {c: compiled_memory(lambda x, c=c: chunked_map(fn, x, c), xs).temp for c in (1, 16)}
    one = 512 * 512 * 8
    assert temp[1] < 3 * one
    assert temp[16] > 10 * one
