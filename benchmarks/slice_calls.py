"""Likelihood calls per slice step, with and without rejecting known-outside proposals
without the likelihood (prior density below the slice level, e.g. outside a uniform
prior's support), on the same runs.

    python benchmarks/slice_calls.py [--seeds 0 1]

Both settings take exactly the same path (same dead points, same logZ: checked and
printed); only the number of likelihood evaluations differs.
"""

import argparse

import _common
import numpy as np

import slicens
from slicens.core import kernel
from slicens.priors import Normal
from slicens.problems import gaussians, lens_problem


def problems():
    g10 = gaussians.gaussian(10)
    mix = gaussians.mixture(5)
    lens = lens_problem("tiny", curvature="dense")
    normal_prior = [Normal(0.0, 1.0, name=f"x{i}") for i in range(5)]
    return {
        "10-d Gaussian, uniform prior": (g10.loglike, g10.prior, {}),
        "5-d mixture, uniform prior": (mix.loglike, mix.prior, {}),
        "tiny lens, uniform prior": (lens.loglike, lens.prior, dict(num_delete=10)),
        "5-d Gaussian, normal prior": (
            lambda x: -0.5 * float(1 / 0.3**2) * (x @ x), normal_prior, {}),
    }


def run(loglike, prior, seed, settle: bool, extra: dict):
    original = kernel.chain_item

    def without_settle(*args):
        return original(*args)._replace(settle=None)

    kernel.chain_item = original if settle else without_settle
    try:
        def fresh(x):  # a fresh function: no program from the compilation cache
            return loglike(x)

        steps = slicens.default_num_inner_steps(len(prior))  # fixed steps, no jumps
        return slicens.run(fresh, prior, **dict(dict(n_live=200, seed=seed, progress=False,
                                                     num_inner_steps=steps), **extra))
    finally:
        kernel.chain_item = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    print(_common.machine())
    print(f"n_live 200, default num_delete (n_live // 10), fixed num_inner_steps = "
          f"max(5, 3 dim), seeds {args.seeds}")
    print(f"{'problem':<30} {'calls/step before':>18} {'after':>7} {'evals before':>13} "
          f"{'after':>9} {'saved':>6} {'same run':>9}")
    for name, (loglike, prior, extra) in problems().items():
        before, after, evals_b, evals_a, same = [], [], 0, 0, True
        for seed in args.seeds:
            b = run(loglike, prior, seed, False, extra)
            a = run(loglike, prior, seed, True, extra)
            steps = b.n_iterations * b.settings["num_delete"] * b.settings["num_inner_steps"]
            before.append(b.n_evals / steps)
            after.append(a.n_evals / steps)
            evals_b, evals_a = evals_b + b.n_evals, evals_a + a.n_evals
            same &= bool(np.array_equal(a.positions, b.positions) and a.logZ == b.logZ)
        print(f"{name:<30} {np.mean(before):18.2f} {np.mean(after):7.2f} {evals_b:13,d} "
              f"{evals_a:9,d} {1 - evals_a / evals_b:6.1%} {str(same):>9}", flush=True)


if __name__ == "__main__":
    main()
