"""slicens on a likelihood with independent batched FFTs (four PSF-style convolutions),
the pattern that deadlocks jaxlib 0.11.2 on a multi-core CPU (see slicens.host.platform).

    python fft_many_chains.py [unprotected]

Prints "completed N iterations" on success. ``unprotected`` compiles without slicens's
CPU compiler options, to show the deadlock they avoid (the caller needs a timeout).
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import slicens  # noqa: E402
from slicens.host import platform  # noqa: E402
from slicens.priors import Uniform  # noqa: E402

N = 100  # pixels per side


def loglike(x):
    grid = jnp.arange(N, dtype=x.dtype)
    image = jnp.outer(jnp.sin(x[0] * grid), jnp.cos(x[1] * grid))
    convolved = [jnp.fft.irfft2(jnp.fft.rfft2(image**k) * jnp.fft.rfft2(image.T + k),
                                s=image.shape) for k in range(1, 5)]
    return -0.5 * sum(jnp.sum(c**2) for c in convolved) / N**2


if __name__ == "__main__":
    if sys.argv[1:] == ["unprotected"]:
        platform.CPU_COMPILER_OPTIONS = {}
    result = slicens.run(loglike, [Uniform(0.5, 2.0)] * 2, n_live=40, num_delete=10,
                         num_inner_steps=3, chunk_size=10, max_iterations=4, progress=False)
    print(f"completed {result.n_iterations} iterations")
