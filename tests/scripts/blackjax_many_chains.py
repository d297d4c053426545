"""The reported deadlock pattern: one jitted blackjax.nss step, num_delete chains vmapped
over the dense lens likelihood. ``python tests/scripts/blackjax_many_chains.py 16``.
Used by hand to reproduce the jaxlib 0.10.x hazard (see README, "Known hazard")."""

import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import blackjax  # noqa: E402

from slicens.priors import as_prior  # noqa: E402
from slicens.problems import lens_problem  # noqa: E402

num_delete = int(sys.argv[1]) if len(sys.argv) > 1 else 16
scale = sys.argv[2] if len(sys.argv) > 2 else "tiny"
problem = lens_problem(scale)
prior = as_prior(problem.prior)
algo = blackjax.nss(prior.log_density, problem.loglike, num_inner_steps=4,
                    num_delete=num_delete)
state = algo.init(prior.sample(jax.random.key(0), 2 * num_delete), rng_key=jax.random.key(1))
step = jax.jit(algo.step)
start = time.perf_counter()
for i in range(3):
    state, info = step(jax.random.key(10 + i), state)
    jax.block_until_ready(state)
    print(f"step {i} done after {time.perf_counter() - start:.1f} s", flush=True)
print(f"jax {jax.__version__}: blackjax.nss num_delete={num_delete} {scale} completed")
