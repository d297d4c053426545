"""The README example: a 3-d Gaussian in a box, with its analytic evidence."""

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import slicens  # noqa: E402
from slicens.priors import Uniform  # noqa: E402


def loglike(x):
    return -0.5 * jnp.sum((x / 0.1) ** 2) - 3 * jnp.log(0.1 * jnp.sqrt(2 * jnp.pi))


result = slicens.run(loglike, [Uniform(-1, 1)] * 3, n_live=300, num_delete=30, chunk_size=8)
print(result.summary())
print("analytic logZ =", -3 * jnp.log(2.0))
samples = result.equal_weight_samples(1000)
print("posterior sd:", samples.std(axis=0))
