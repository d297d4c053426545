"""Run blackjax.nss the way its documentation does, for comparisons (tests, benchmarks).

blackjax is a peer, never a dependency of slicens: only tests and benchmarks import this.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp


class PeerResult(NamedTuple):
    logZ: float
    logZ_err: float
    n_evals: int
    n_iterations: int
    wall_time: float
    first_step_time: float  # compilation and the first step


def _evaluations(slice_info, num_delete, num_inner_steps) -> int:
    """Useful likelihood calls of one blackjax.nss step: per slice step, both initial
    bracket ends, each expansion and each shrinkage draw."""
    expansions = int(jnp.sum(slice_info.num_expansions))
    shrinks = int(jnp.sum(slice_info.num_shrink))
    return expansions + shrinks + 2 * num_delete * num_inner_steps


def run_blackjax_nss(loglike, prior, *, n_live, num_delete, num_inner_steps, seed=0,
                     dlogz=0.01, max_iterations=100_000) -> PeerResult:
    """blackjax.nss to the same dlogz criterion as slicens; logZ from 500 volume draws."""
    import blackjax
    from blackjax.ns.utils import finalise, log_weights

    start = time.perf_counter()
    algo = blackjax.nss(
        logprior_fn=prior.log_density,
        loglikelihood_fn=loglike,
        num_inner_steps=num_inner_steps,
        num_delete=num_delete,
    )
    key = jax.random.key(seed)
    key, init_key, sample_key = jax.random.split(key, 3)
    state = algo.init(prior.sample(sample_key, n_live), rng_key=init_key)
    step = jax.jit(algo.step)
    dead = []
    n_evals = n_live
    first_step_time = None
    for iteration in range(max_iterations):  # noqa: B007 (the count is reported)
        logZ, logZ_live = float(state.integrator.logZ), float(state.integrator.logZ_live)
        if np.isfinite(logZ) and np.logaddexp(logZ, logZ_live) - logZ < dlogz:
            break
        key, subkey = jax.random.split(key)
        began = time.perf_counter()
        state, info = step(subkey, state)
        if first_step_time is None:
            jax.block_until_ready(state)
            first_step_time = time.perf_counter() - began
        dead.append(info)
        n_evals += _evaluations(info.update_info, num_delete, num_inner_steps)
    final = finalise(state, dead)
    logw = log_weights(jax.random.key(seed + 1), final, shape=500)
    logZ_draws = np.asarray(logsumexp(np.asarray(logw), axis=0))
    return PeerResult(float(np.mean(logZ_draws)), float(np.std(logZ_draws)), n_evals,
                      iteration, time.perf_counter() - start, first_step_time or 0.0)
