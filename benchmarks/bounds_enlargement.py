"""The bias adaptive bounds give ``method="bounds"``, against their enlargement: points
that shaped a bound lie inside it, so their mixture density is higher than at a random
point of the same place (docs/design.md, "Bounded draws").

    python benchmarks/bounds_enlargement.py [--seeds 8] [--n-live 200] [--enlargements 1.5 3 6]

Per enlargement, over the seeds on the 3-d Gaussian (``min_ess=2000``): evaluations,
dlogZ mean and scatter, mean reported error, mean and sd of z = dlogZ / logZ_err.
"""

import argparse

import _common
import numpy as np

from slicens.host.bounded import run_bounded
from slicens.priors import as_prior
from slicens.problems import gaussian


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--n-live", type=int, default=200)
    parser.add_argument("--enlargements", type=float, nargs="+", default=[1.5, 3.0, 6.0])
    args = parser.parse_args()
    print(_common.machine())
    problem = gaussian(3)
    for enlargement in args.enlargements:
        runs = [run_bounded(problem.loglike, as_prior(problem.prior), n_live=args.n_live,
                            seed=seed, chunk_size=None, min_ess=2000, enlargement=enlargement)
                for seed in range(args.seeds)]
        delta = np.array([r.logZ - problem.logZ for r in runs])
        err = np.array([r.logZ_err for r in runs])
        print(f"enlargement {enlargement}: evals {np.mean([r.n_evals for r in runs]):.0f} "
              f"dlogZ {np.mean(delta):+.4f} scatter {np.std(delta):.4f} err {np.mean(err):.4f} "
              f"mean z {np.mean(delta / err):+.2f} sd z {np.std(delta / err):.2f}", flush=True)


if __name__ == "__main__":
    main()
