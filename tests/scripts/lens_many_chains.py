"""Jitted NS iterations vmapping 16+ slice chains over the lens likelihood (no chunking).

This is the pattern that deadlocks jaxlib 0.10.0-0.10.2 on multi-core CPUs (batched
Cholesky). Run as a subprocess by tests/test_platform.py and by hand to check an
environment: ``python tests/scripts/lens_many_chains.py [num_delete] [curvature]``.
"""

import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import slicens  # noqa: E402
from slicens.problems import lens_problem  # noqa: E402

num_delete = int(sys.argv[1]) if len(sys.argv) > 1 else 16
problem = lens_problem("tiny", curvature=sys.argv[2] if len(sys.argv) > 2 else "dense")
start = time.perf_counter()
result = slicens.run(problem.loglike, problem.prior, n_live=2 * num_delete,
                     num_delete=num_delete, num_inner_steps=4, max_iterations=3, seed=0)
print(f"jax {jax.__version__}: {result.n_iterations} iterations with num_delete={num_delete}, "
      f"{result.n_evals} evaluations in {time.perf_counter() - start:.1f} s")
