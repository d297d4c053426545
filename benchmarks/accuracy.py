"""logZ accuracy per analytic problem: deviation from the truth in units of logZ_err.

    python benchmarks/accuracy.py [--seeds 3]
"""

import argparse
import time

import _common
import numpy as np

import slicens
from slicens.problems import correlated_gaussian, gaussian, mixture

PROBLEMS = [gaussian(2), gaussian(5), gaussian(10), correlated_gaussian(10), mixture(2)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(_common.machine())
    print("n_live=200, num_delete=20, default num_inner_steps, dlogz=0.01")
    print(f"{'problem':<24} {'truth':>9} {'mean logZ':>10} {'mean err':>9} "
          f"{'z per seed':<24} {'evals':>9} {'s/run':>6}")
    for problem in PROBLEMS:
        results, times = [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            results.append(slicens.run(problem.loglike, problem.prior, n_live=200,
                                       num_delete=20, seed=seed))
            times.append(time.perf_counter() - start)
        z = [(r.logZ - problem.logZ) / r.logZ_err for r in results]
        print(f"{problem.name:<24} {problem.logZ:9.3f} {np.mean([r.logZ for r in results]):10.3f} "
              f"{np.mean([r.logZ_err for r in results]):9.3f} "
              f"{' '.join(f'{v:+.2f}' for v in z):<24} "
              f"{int(np.mean([r.n_evals for r in results])):9d} {np.mean(times):6.1f}")


if __name__ == "__main__":
    main()
