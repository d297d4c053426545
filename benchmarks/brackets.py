"""Slice brackets: calls per slice step and what the steps buy, side by side.

    python benchmarks/brackets.py [--seeds 8]

With a fixed number of slice steps (``max(5, 3 dim)``, no ellipsoid jumps) on analytic
problems, compares the bracket of fixed-step runs (2 live standard deviations along the
direction, stepping out up to 9 times) with brackets that only shrink (``max_expansions
= 1``) at 4 and 6 standard deviations (6 is what ``num_inner_steps="auto"`` uses), and
the same 6-sd bracket at a third of the steps. Prints likelihood calls per slice step,
evaluations, logZ bias (mean of logZ - truth, with its standard error) and the mean
squared error of the posterior mean in units of its expected error (sd / sqrt(ESS);
about 1 when the chains mix).
"""

import argparse

import _common
import numpy as np

import slicens
from slicens.host import settings as slicens_settings
from slicens.problems import correlated_gaussian, gaussian

PROBLEMS = {"gaussian_5d": gaussian(5), "correlated_gaussian_10d": correlated_gaussian(10)}
BRACKETS = [(2.0, 10, 1.0), (4.0, 1, 1.0), (6.0, 1, 1.0), (6.0, 1, 1 / 3)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    print(_common.machine())
    print(f"n_live 200, num_delete 20, seeds 0..{args.seeds - 1}, fixed steps, no jumps")
    print(f"{'problem':<24} {'width':>5} {'max_exp':>7} {'steps':>5} {'calls/step':>10} "
          f"{'evals':>9} {'logZ bias':>15} {'mean err^2':>10}")
    for name, problem in PROBLEMS.items():
        sd = np.sqrt(np.diag(problem.cov))
        for width, max_expansions, fraction in BRACKETS:
            slicens_settings.FIXED_BRACKET_WIDTH = width
            steps = max(1, round(fraction * slicens.default_num_inner_steps(problem.dim)))
            bias, evals, calls, err2 = [], [], [], []
            for seed in range(args.seeds):
                r = slicens.run(problem.loglike, problem.prior, n_live=200, num_delete=20,
                                num_inner_steps=steps, max_expansions=max_expansions,
                                seed=seed, progress=False)
                bias.append(r.logZ - problem.logZ)
                evals.append(r.n_evals)
                calls.append((r.n_evals - 200) / (r.n_iterations * 20 * steps))
                err2.append(np.mean(((r.posterior_mean() - problem.mean) / sd) ** 2 * r.ess))
            print(f"{name:<24} {width:5.0f} {max_expansions:7d} {steps:5d} "
                  f"{np.mean(calls):10.2f} {np.mean(evals):9.0f} "
                  f"{np.mean(bias):+7.3f} +/- {np.std(bias) / np.sqrt(len(bias)):.3f} "
                  f"{np.mean(err2):10.2f}", flush=True)
    slicens_settings.FIXED_BRACKET_WIDTH = 2.0


if __name__ == "__main__":
    main()
