"""Single bounded runs, one per seed, printed as they finish: the tiny lens or the 10-d
shells, or the 30-d correlated Gaussian under a time limit.

    python benchmarks/bounded_runs.py lens [--seeds 0 1 2] [--clusters] [--n-update 250]
    python benchmarks/bounded_runs.py shells_10d [--seeds 0 1 2 3] [--max-time 1800]
    python benchmarks/bounded_runs.py correlated_30d [--max-time 900]

Calls ``run_bounded`` directly, as ``split_bounds`` is an option of it only
(``--clusters``: one ellipsoid per mode instead of the split unions); each bound is
logged as it is fitted (logger ``slicens``, INFO).
"""

import argparse
import logging
import time

import _common
import jax

from slicens.host.bounded import run_bounded
from slicens.priors import as_prior
from slicens.problems import correlated_gaussian, lens_problem, shells

PROBLEMS = {"lens": lambda: lens_problem("tiny", curvature="sparse"),
            "shells_10d": lambda: shells(10),
            "correlated_30d": lambda: correlated_gaussian(30)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem", choices=list(PROBLEMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n-live", type=int, default=500)
    parser.add_argument("--clusters", action="store_true",
                        help="one ellipsoid per mode as the bounds (not split unions)")
    parser.add_argument("--max-time", type=float, default=None)
    parser.add_argument("--n-update", type=int, default=None,
                        help="run_bounded's n_update (default n_live // 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("jax").setLevel(logging.WARNING)
    print(_common.machine())
    problem = PROBLEMS[args.problem]()
    reference = getattr(problem, "logZ", None)
    for seed in args.seeds:
        start = time.perf_counter()
        r = run_bounded(problem.loglike, as_prior(problem.prior), n_live=args.n_live,
                        seed=seed, split_bounds=not args.clusters, max_time=args.max_time,
                        n_update=args.n_update,
                        chunk_size=None, report=True)  # the whole batch at once: it fits
        truth = "" if reference is None else f" (reference {reference:.3f})"
        print(f"{args.problem} clusters={args.clusters} seed {seed}: {r.termination}, evaluations "
              f"{r.n_evals} {r.phase_evals}, bounds {r.n_bounds}, logZ {r.logZ:.3f} +/- "
              f"{r.logZ_err:.3f}{truth} (nested sampling: {r.logZ_nested:.3f} +/- "
              f"{r.logZ_nested_err:.3f}), ESS {r.ess:.0f}, wall "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    jax.clear_caches()


if __name__ == "__main__":
    main()
