"""Laptop-scale lens problem with num_delete=16 at several chunk sizes: wall time, evals.

    python benchmarks/lens_chunks.py [--chunks 1 4 16] [--n-live 64] [--dense]

All runs use the same seed, so they take the same path (chunk invariance) and differ only
in how many chains are evaluated at once.
"""

import argparse
import time

import _common
import numpy as np

import slicens
from slicens.problems import lens_problem


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--n-live", type=int, default=64)
    parser.add_argument("--dense", action="store_true")
    args = parser.parse_args()
    problem = lens_problem("laptop", curvature="dense" if args.dense else "sparse")
    print(_common.machine())
    print(f"lens laptop ({problem.n_pixels} x {problem.n_source}, "
          f"{'dense' if args.dense else 'sparse'} curvature), n_live={args.n_live}, "
          "num_delete=16, default num_inner_steps, seed 0")
    print(f"{'chunk':>5} {'wall s':>8} {'evals':>9} {'ms/eval':>8} {'iters':>6} {'logZ':>10} "
          f"{'err':>6} {'max |mean-truth|/sd':>20}")
    for chunk in args.chunks:
        start = time.perf_counter()
        r = slicens.run(problem.loglike, problem.prior, n_live=args.n_live, num_delete=16,
                        chunk_size=chunk, seed=0)
        wall = time.perf_counter() - start
        sd = np.sqrt(np.diag(r.posterior_cov()))
        pull = np.max(np.abs(r.posterior_mean() - problem.truth) / sd)
        print(f"{chunk:5d} {wall:8.1f} {r.n_evals:9d} {1000 * wall / r.n_evals:8.2f} "
              f"{r.n_iterations:6d} {r.logZ:10.3f} {r.logZ_err:6.3f} {pull:20.2f}", flush=True)


if __name__ == "__main__":
    main()
