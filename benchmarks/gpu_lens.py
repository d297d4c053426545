"""The HST-scale lens cell on one GPU: cost per useful evaluation and peak memory.

    python benchmarks/gpu_lens.py [--iterations 3] [--chunk 16] [--blackjax]

15,380 image pixels x 1,521 source pixels, dense mapping matrix (187 MB per evaluation),
float64, n_live=200, num_delete=64, a fixed number of iterations. Prints ms per useful
evaluation of slicens (lanes), ms per evaluation of a plain vmap at the same batch,
peak device memory, and blackjax.nss's figures when --blackjax is given (it vmaps all 64
chains at once and may not fit). Sized to finish within 8 minutes on an H100 including
compilation; ``--scale tiny`` checks the script on a CPU.
"""

import argparse
import time

import _common
import jax

import slicens
from slicens.priors import as_prior
from slicens.problems import lens_problem


def peak_bytes() -> int | None:
    stats = jax.devices()[0].memory_stats()
    return None if stats is None else stats.get("peak_bytes_in_use")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="hst", choices=["tiny", "laptop", "hst"])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--n-live", type=int, default=200)
    parser.add_argument("--num-delete", type=int, default=64)
    parser.add_argument("--num-inner-steps", type=int, default=14)
    parser.add_argument("--blackjax", action="store_true")
    args = parser.parse_args()
    print(_common.machine())
    problem = lens_problem(args.scale, curvature="dense")
    print(f"lens {args.scale}: {problem.n_pixels} x {problem.n_source}, dense, float64; "
          f"n_live={args.n_live}, num_delete={args.num_delete}, chunk={args.chunk}, "
          f"num_inner_steps={args.num_inner_steps}, {args.iterations} iterations")

    points = as_prior(problem.prior).sample(jax.random.key(0), args.chunk)
    f = jax.jit(jax.vmap(problem.loglike))
    jax.block_until_ready(f(points))
    start = time.perf_counter()
    for _ in range(5):
        jax.block_until_ready(f(points))
    vmap_ms = 1000 * (time.perf_counter() - start) / (5 * args.chunk)
    print(f"plain vmap at batch {args.chunk}: {vmap_ms:.2f} ms per evaluation; "
          f"peak so far {peak_bytes()}")

    kwargs = dict(n_live=args.n_live, num_delete=args.num_delete,
                  num_inner_steps=args.num_inner_steps, chunk_size=args.chunk, seed=0)
    # A first call compiles; the timed call reuses the compiled functions.
    slicens.run(problem.loglike, problem.prior, max_iterations=1, **kwargs)
    start = time.perf_counter()
    r = slicens.run(problem.loglike, problem.prior, max_iterations=args.iterations, **kwargs)
    wall = time.perf_counter() - start
    ms = 1000 * wall / r.n_evals
    print(f"slicens lanes: {r.n_evals} useful evaluations "
          f"({r.n_evals_physical / r.n_evals:.3f} physical per useful) in {wall:.1f} s: "
          f"{ms:.2f} ms per useful evaluation = {ms / vmap_ms:.2f} x plain vmap; "
          f"peak bytes {peak_bytes()}")

    # chunk_size="auto" (default budget: 80% of the free device memory).
    auto = dict(kwargs, chunk_size="auto")
    r = slicens.run(problem.loglike, problem.prior, max_iterations=args.iterations, **auto)
    m = r.memory
    print(f"slicens auto: chose chunk_size={m['chunk_size']} for budget {m['budget']} bytes "
          f"({m['budget_source']}); predicted peak {m['predicted_peak']}, compiled peak "
          f"{m['compiled_peak']}; device peak_bytes_in_use {peak_bytes()}; "
          f"compile {r.compile_time:.1f} s of {r.wall_time:.1f} s")

    if args.blackjax:
        import blackjax

        prior = as_prior(problem.prior)
        algo = blackjax.nss(prior.log_density, problem.loglike,
                            num_inner_steps=args.num_inner_steps, num_delete=args.num_delete)
        state = algo.init(prior.sample(jax.random.key(1), args.n_live), rng_key=jax.random.key(2))
        step = jax.jit(algo.step)
        try:
            state, info = step(jax.random.key(3), state)  # compile
            jax.block_until_ready(state)
            start = time.perf_counter()
            evals = 0
            for i in range(args.iterations):
                state, info = step(jax.random.key(4 + i), state)
                u = info.update_info
                evals += int(u.num_expansions.sum() + u.num_shrink.sum()) + 2 * u.num_shrink.size
            jax.block_until_ready(state)
            wall = time.perf_counter() - start
            print(f"blackjax.nss: {evals} useful evaluations in {wall:.1f} s: "
                  f"{1000 * wall / evals:.2f} ms per useful evaluation; "
                  f"peak bytes {peak_bytes()}")
        except Exception as exc:  # report, e.g. RESOURCE_EXHAUSTED, and carry on
            print(f"blackjax.nss failed: {type(exc).__name__}: {str(exc)[:300]}")


if __name__ == "__main__":
    main()
