"""Compiled temp bytes of one NS iteration vs chunk size, 20,000 x 1,000 mapping matrix.

    python benchmarks/memory.py [--chunks 1 2 4 8 16]

Compile only (XLA memory analysis); nothing is run at this scale.
"""

import argparse

import _common
import jax
import jax.numpy as jnp

from slicens import kernel
from slicens.chunking import compiled_memory
from slicens.priors import as_prior
from slicens.problems.mapping import MAPPING_PRIOR, mapping_matrix_loglike

N_PIXELS, N_SOURCE, N_LIVE, NUM_DELETE = 20_000, 1_000, 64, 16


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
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
        settings = kernel.Settings(N_LIVE, NUM_DELETE, 4, chunk, 10, 100)
        temp = kernel.iteration_memory(loglike, prior, settings, jnp.float64).temp
        base = base or temp
        print(f"{chunk:5d} {temp / 2**20:9.0f} {temp / single:16.2f} {temp / base:15.2f}",
              flush=True)


if __name__ == "__main__":
    main()
