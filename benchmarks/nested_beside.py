"""The nested-sampling estimate beside the importance-weighted one, over seeds
(``BoundedResult.logZ_nested``, slicens/host/bounded_nested.py).

    python benchmarks/nested_beside.py [--seeds 40] [--refine]

tests/test_bounds.py's 3-d Gaussian (n_live 100, ``min_ess`` 1,000; ellipsoids only unless
``--refine``), seed by seed: both estimates against the analytic logZ, and how far apart
they lie in combined errors. Then, over the seeds, for each estimate: the mean offset and
its standard error, the mean error, the mean and sd of z = offset / error (sd 1 where the
error is honest) and the count of |z| > 3; and the count of runs that warned (the two
apart by more than ``bounded_nested.DISAGREEMENT`` combined errors). The nested-sampling
estimate is also taken from the exploration's points alone, to show whether the sampling
phase's choice of bounds (made from the points) moves it.
"""

import argparse
import sys
import warnings
from pathlib import Path

import _common
import jax
import numpy as np

from slicens.host.bounded_nested import DISAGREEMENT, disagreement, nested_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' quick runs
from tests.test_bounds import _LOGZ, _quick_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--refine", action="store_true", help="networks refine the bounds")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    print(_common.machine())
    print(f"3-d Gaussian, n_live 100, min_ess 1,000, refine={args.refine}, truth {_LOGZ:.4f}")
    rows = {"importance weights": [], "nested sampling": [], "nested, exploration only": []}
    apart = []
    for seed in range(args.seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # counted below instead
            r = _quick_run(seed, refine=args.refine)
        explored = np.arange(r.n_evals) < r.phase_evals["exploration"]
        early = nested_view(r.loglike[explored], r.source[explored], r.bound_thresholds)
        rows["importance weights"].append((r.logZ - _LOGZ, r.logZ_err))
        rows["nested sampling"].append((r.logZ_nested - _LOGZ, r.logZ_nested_err))
        rows["nested, exploration only"].append((early.logZ - _LOGZ, early.logZ_err))
        apart.append(disagreement(r.logZ, r.logZ_err, r.nested))
        print(f"  seed {seed}: {r.n_evals} evaluations; importance weights "
              f"{r.logZ - _LOGZ:+.4f} +/- {r.logZ_err:.4f}; nested sampling "
              f"{r.logZ_nested - _LOGZ:+.4f} +/- {r.logZ_nested_err:.4f}; apart "
              f"{apart[-1]:.2f} combined errors", flush=True)
    print(f"{'estimate':<26} {'mean offset':>11} {'(se)':>8} {'mean err':>8} {'mean z':>7} "
          f"{'sd z':>5} {'|z|>3':>5}")
    for name, pairs in rows.items():
        offset, err = np.array(pairs).T
        z = offset / err
        print(f"{name:<26} {offset.mean():+11.4f} {offset.std(ddof=1) / np.sqrt(len(z)):8.4f} "
              f"{err.mean():8.4f} {z.mean():+7.2f} {z.std():5.2f} {int(np.sum(abs(z) > 3)):5d}")
    print(f"runs that warned (apart > {DISAGREEMENT:g} combined errors): "
          f"{int(np.sum(np.array(apart) > DISAGREEMENT))} of {len(apart)}")


if __name__ == "__main__":
    main()
