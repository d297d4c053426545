"""Compiled temp bytes of one NS iteration vs chunk size, 20,000 x 1,000 mapping matrix,
and the chunk ``chunk_size="auto"`` chooses for budgets of 1, 2 and 4 GB.

    python benchmarks/memory.py [--chunks 1 2 4 8 16] [--budgets 1GB 2GB 4GB]

Compile only (XLA memory analysis); nothing is run at this scale.
"""

import argparse

import _common
import jax
import jax.numpy as jnp

import slicens
from slicens.core import blocks, kernel
from slicens.core.chunking import Execution
from slicens.host.compiled import Compiler
from slicens.host.memory import compiled_memory, format_bytes, parse_budget
from slicens.priors import as_prior
from slicens.problems.mapping import MAPPING_PRIOR, mapping_matrix_loglike

N_PIXELS, N_SOURCE, N_LIVE, NUM_DELETE = 20_000, 1_000, 64, 16
SETTINGS = kernel.Settings(N_LIVE, NUM_DELETE, num_inner_steps=4, max_expansions=10,
                           max_shrinkage=100)


def iteration_temp(loglike, prior, execution: Execution) -> int:
    """XLA's temp bytes of one float64 iteration (compile only, nothing runs)."""
    key = jax.random.key(0)
    state = jax.eval_shape(lambda k: kernel.init(k, loglike, prior, SETTINGS, execution)[0], key)
    state = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(
            a.shape, jnp.float64 if jnp.issubdtype(a.dtype, jnp.floating) else a.dtype),
        state)
    return compiled_memory(
        lambda s: kernel.step(key, s, loglike, prior, SETTINGS, execution), state).temp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--budgets", nargs="+", default=["1GB", "2GB", "4GB"])
    args = parser.parse_args()
    loglike = mapping_matrix_loglike(N_PIXELS, N_SOURCE)
    prior = as_prior(MAPPING_PRIOR)
    single = compiled_memory(loglike, jax.ShapeDtypeStruct((2,), jnp.float64)).temp
    print(_common.machine())
    print(f"mapping matrix {N_PIXELS} x {N_SOURCE} float64 = {N_PIXELS * N_SOURCE * 8 / 2**20:.0f}"
          f" MiB; one evaluation's temp = {single / 2**20:.0f} MiB; n_live=64, num_delete=16")
    print(f"{'chunk':>5} {'temp MiB':>9} {'temp / one eval':>16} {'temp / temp(1)':>15}")
    base = None
    for chunk in args.chunks:
        temp = iteration_temp(loglike, prior, Execution(chunk))
        base = base or temp
        print(f"{chunk:5d} {temp / 2**20:9.0f} {temp / single:16.2f} {temp / base:15.2f}",
              flush=True)
    auto_choice(loglike, prior, args.budgets)


def auto_choice(loglike, prior, budgets) -> None:
    """chunk_size="auto": chosen chunk, predicted and compiled peak against each budget."""
    run_settings = dict(n_live=N_LIVE, num_delete=NUM_DELETE, num_inner_steps=4)
    compiler = Compiler(loglike, prior, SETTINGS, "lanes", blocks.block_capacity(NUM_DELETE, 2))
    print(f"\n{'budget':>8} {'chosen':>6} {'predicted':>11} {'compiled peak':>14} "
          f"{'peak/budget':>11}")
    for budget in budgets:
        probe = slicens.probe_memory(loglike, prior, memory_budget=budget, **run_settings)
        peak = compiler.program(probe.chosen).peak
        predicted = dict(probe.rows)[probe.chosen]
        print(f"{budget:>8} {probe.chosen:6d} {format_bytes(predicted):>11} "
              f"{format_bytes(peak):>14} {peak / parse_budget(budget):11.3f}", flush=True)
    print(f"per lane {format_bytes(probe.model.per_lane)}, base {format_bytes(probe.model.base)}")


if __name__ == "__main__":
    main()
