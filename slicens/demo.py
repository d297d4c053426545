"""The demo (``make demo``, ``slicens demo``): a strong-lens inversion likelihood.

At laptop scale: 5,024 masked image pixels x 400 source pixels, 7 lens parameters,
sampled with num_delete=16 replacement chains evaluated at most chunk_size=4 at a time.
Prints logZ with its error, the posterior mean against the truth, evaluations and time.
The likelihood uses the sparse-curvature form (same numbers as the dense mapping-matrix
form up to rounding, ~10x cheaper on a CPU); ``--dense`` for the dense one.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

__all__ = ["main", "add_arguments", "run_demo"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--scale", default="laptop", choices=["tiny", "laptop", "hst"])
    parser.add_argument("--dense", action="store_true", help="dense B^T B curvature")
    parser.add_argument("--n-live", type=int, default=64)
    parser.add_argument("--num-delete", type=int, default=16)
    parser.add_argument("--chunk-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def run_demo(args) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)  # the demo's own choice; slicens never sets it
    import slicens
    from slicens.problems import lens_problem

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S")
    logging.getLogger("slicens").setLevel(logging.INFO)
    problem = lens_problem(args.scale, curvature="dense" if args.dense else "sparse")
    print(f"lens problem '{args.scale}': {problem.n_pixels} image pixels x {problem.n_source} "
          f"source pixels, {problem.dim} parameters")
    print(f"n_live={args.n_live}, num_delete={args.num_delete}, chunk_size={args.chunk_size}")
    start = time.perf_counter()
    result = slicens.run(problem.loglike, problem.prior, n_live=args.n_live,
                         num_delete=args.num_delete, chunk_size=args.chunk_size, seed=args.seed)
    print()
    print(result.summary())
    mean = result.posterior_mean()
    sd = np.sqrt(np.diag(result.posterior_cov()))
    print(f"\n{'param':>6} {'truth':>8} {'mean':>8} {'sd':>7} {'(mean-truth)/sd':>16}")
    for name, t, m, s in zip(result.names, problem.truth, mean, sd, strict=True):
        print(f"{name:>6} {t:8.4f} {m:8.4f} {s:7.4f} {(m - t) / s:16.2f}")
    print(f"\n{result.n_evals} likelihood evaluations in {time.perf_counter() - start:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    run_demo(parser.parse_args(argv))


if __name__ == "__main__":
    main()
