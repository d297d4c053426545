"""Cost of slicens's CPU compiler option (Eigen intra-op threading off, which avoids
jaxlib 0.11.2's batched-FFT deadlock; see slicens.host.platform).

    python benchmarks/cpu_threads.py [--scale laptop] [--batch 16] [--calls 20]

1. The lens likelihood (dense curvature: mapping-matrix products and a Cholesky solve)
   vmapped over a batch of points, as slicens's lanes evaluate it, compiled with and
   without the option: milliseconds per evaluation, measured alternately in one process.
2. A short slicens run (tiny lens) with and without it: how far apart the dead points are
   (the option may change the last bits of some reductions; within one setting runs stay
   bit-identical across chunk sizes).
"""

import argparse
import time

import _common
import jax
import jax.numpy as jnp
import numpy as np

import slicens
from slicens.host import platform
from slicens.problems import lens_problem

OPTIONS = {"eigen threads off (slicens default)": {"xla_cpu_multi_thread_eigen": False},
           "eigen threads on": {}}


def per_evaluation_ms(problem, batch: int, calls: int, repeats: int = 3) -> dict:
    points = jax.vmap(lambda k: jnp.array(problem.truth) + 0.01 * jax.random.normal(
        k, (len(problem.truth),)))(jax.random.split(jax.random.key(0), batch))
    compiled = {label: jax.jit(jax.vmap(problem.loglike)).lower(points).compile(
        compiler_options=option) for label, option in OPTIONS.items()}
    best = dict.fromkeys(OPTIONS, np.inf)
    for _ in range(repeats):
        for label, fn in compiled.items():
            fn(points).block_until_ready()
            start = time.perf_counter()
            for _ in range(calls):
                fn(points).block_until_ready()
            best[label] = min(best[label], 1000 * (time.perf_counter() - start) / calls / batch)
    values = [np.asarray(fn(points)) for fn in compiled.values()]
    return best, float(np.max(np.abs(values[0] - values[1])))


def same_run_both_ways() -> str:
    problem = lens_problem("tiny", curvature="dense")
    results = []
    for option in OPTIONS.values():
        platform.CPU_COMPILER_OPTIONS = option

        def loglike(x):  # a fresh function: no program from the compilation cache
            return problem.loglike(x)

        results.append(slicens.run(loglike, problem.prior, n_live=50, num_delete=10,
                                   chunk_size=5, max_iterations=5, progress=False))
    a, b = results
    if a.positions.shape != b.positions.shape:
        return f"no: {a.positions.shape[0]} against {b.positions.shape[0]} points"
    return (f"identical: {np.array_equal(a.positions, b.positions)}; max |position "
            f"difference| {np.max(np.abs(a.positions - b.positions)):.1e}; logZ "
            f"{a.logZ:.6f} against {b.logZ:.6f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="laptop")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    print(_common.machine())
    problem = lens_problem(args.scale, curvature="dense")
    best, difference = per_evaluation_ms(problem, args.batch, args.calls)
    print(f"lens {args.scale} ({problem.n_pixels} x {problem.n_source}, dense), vmap over "
          f"{args.batch} points, best of 3 x {args.calls} calls:")
    for label, ms in best.items():
        print(f"  {label:<38} {ms:8.2f} ms per evaluation")
    print(f"  max |logL difference| between the two programs: {difference:.1e}")
    print(f"tiny lens, 5 iterations, dead points with and without: {same_run_both_ways()}")


if __name__ == "__main__":
    main()
