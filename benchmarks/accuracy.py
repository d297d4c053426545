"""logZ accuracy per analytic problem: deviation from the truth in units of logZ_err.

    python benchmarks/accuracy.py [--seeds 50] [--problems gaussian_2d ...]

Per problem, over seeds 0 .. N-1 at n_live 200, num_delete 20 and the default
``num_inner_steps`` ("auto"): the mean deviation from the truth with its standard error,
the mean reported logZ_err, the standard deviation of z = (logZ - truth) / logZ_err
(1 for honest errors) and its root mean square, evaluations and seconds per run. The
last line pools z over every problem run.
"""

import argparse
import time

import _common
import numpy as np

import slicens
from slicens.problems import correlated_gaussian, gaussian, mixture

PROBLEMS = {p.name: p for p in
            [gaussian(2), gaussian(5), gaussian(10), correlated_gaussian(10), mixture(2)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = parser.parse_args()
    print(_common.machine())
    print(f"n_live=200, num_delete=20, default num_inner_steps, dlogz=0.01, "
          f"seeds 0-{args.seeds - 1}")
    print("| problem | truth | logZ - truth | mean logZ_err | sd(z) | rms z | max abs(z) | "
          "evaluations | s per run |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    pooled = []
    for name in args.problems:
        problem = PROBLEMS[name]
        results, times = [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            results.append(slicens.run(problem.loglike, problem.prior, n_live=200,
                                       num_delete=20, seed=seed, progress=False))
            times.append(time.perf_counter() - start)
        dz = np.array([r.logZ for r in results]) - problem.logZ
        err = np.array([r.logZ_err for r in results])
        z = dz / err
        pooled.extend(z)
        print(f"| {name} | {problem.logZ:.3f} | {dz.mean():+.3f} +/- "
              f"{dz.std(ddof=1) / np.sqrt(dz.size):.3f} | {err.mean():.3f} | "
              f"{z.std(ddof=1):.2f} | {np.sqrt(np.mean(z**2)):.2f} | {np.max(np.abs(z)):.2f} | "
              f"{np.mean([r.n_evals for r in results]):,.0f} | "
              f"{np.median(times[1:] or times):.1f} |",
              flush=True)
    pooled = np.array(pooled)
    print(f"pooled over {pooled.size} runs: mean z {pooled.mean():+.2f} +/- "
          f"{pooled.std(ddof=1) / np.sqrt(pooled.size):.2f}, sd(z) {pooled.std(ddof=1):.2f}, "
          f"rms z {np.sqrt(np.mean(pooled**2)):.2f}")


if __name__ == "__main__":
    main()
