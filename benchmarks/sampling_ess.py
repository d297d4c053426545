"""Where a bounded run's evaluations and ESS go: the exploration bound by bound, each
bound's recall, and the weights the sampling phase's ESS is lost to.

    python benchmarks/sampling_ess.py [--n-live 200] [--min-ess 2900] [--seeds 0 1]
                                      [--f-live 0.01] [--max-evals N] [--keep DIR]
    python benchmarks/sampling_ess.py --records run.pkl [...]   # a kept record instead

Runs ``run_bounded`` on the tiny lens (7-d, sparse curvature; the real client's
``n_live`` 200 and ``min_ess`` 2,900 by default) and prints, from its record
(benchmarks/_records.py):

- per exploration bound: its threshold, counted log volume, the draws made from it and
  the share of them above its own threshold (the bound's efficiency; n_update of them
  end it);
- per bound, its **recall**: of the sampling phase's draws from looser bounds (drawn
  after it was fitted, so not its training points) that lie above its threshold, the
  share it holds. A refined bound that cuts its contour costs the sampling phase ESS,
  not bias (the looser bounds and the cube hold what it cuts);
- the sampling phase's ESS, and the ESS the same draws would have were every point
  above a bound's threshold inside it (the cut removed: not an estimator, the ceiling
  the cuts leave);
- the ten heaviest points: their share of the weight, how many bounds' thresholds they
  lie above and how many bounds hold them.

Under ``benchmarks/with_networks.py`` the networks' settings apply (``--per-mode
--hidden 100 50 20 ...``). ``--keep DIR`` pickles each run's record there.
"""

import argparse
import logging
import pickle
import time
from pathlib import Path

import _common
import _records
import numpy as np
from scipy.special import logsumexp

from slicens.core.importance import log_mixture_density
from slicens.host.bounded import DEFAULT_F_LIVE, run_bounded
from slicens.priors import as_prior
from slicens.problems import lens_problem


def run(seed: int, args) -> dict:
    problem = lens_problem("tiny", curvature="sparse")
    start = time.perf_counter()
    with _records.kept() as held:
        r = run_bounded(problem.loglike, as_prior(problem.prior), n_live=args.n_live,
                        min_ess=args.min_ess, f_live=args.f_live, seed=seed,
                        max_evals=args.max_evals, chunk_size=None)
    record = _records.record(held)
    record["run"] = (f"seed {seed}: {r.termination}, {r.n_evals} evaluations "
                     f"{r.phase_evals}, logZ {r.logZ:.3f} +/- {r.logZ_err:.3f}, ESS "
                     f"{r.ess:.0f}, nested-sampling logZ {r.logZ_nested:.3f} +/- "
                     f"{r.logZ_nested_err:.3f}, wall {time.perf_counter() - start:.0f} s")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / f"seed{seed}.pkl").write_bytes(pickle.dumps(record))
    return record


def exploration(rec: dict) -> None:
    loglike, source, start = rec["loglike"], rec["source"], rec["sampling_start"]
    explored = np.arange(loglike.size) < start
    print("  bound  threshold   log V   draws  above its threshold")
    for k, threshold in enumerate(rec["threshold"]):
        drawn = explored & (source == k)
        if drawn.any():
            print(f"  {k:5d} {threshold:10.2f} {rec['log_volume'][k]:7.2f} {drawn.sum():7d} "
                  f"{np.mean(loglike[drawn] >= threshold):8.2f}")


def sampling_weights(member, loglike, counts, log_volume, rows):
    """The sampling phase's log weights (``rows``) against the mixture of its draws."""
    with np.errstate(divide="ignore"):
        log_counts = np.log(counts)
    return loglike[rows] - np.asarray(log_mixture_density(member[rows], log_counts,
                                                          log_volume))


def sampling(rec: dict) -> None:
    loglike, member, source = rec["loglike"], rec["member"], rec["source"]
    threshold, log_volume = rec["threshold"], rec["log_volume"]
    sampled = np.arange(loglike.size) >= rec["sampling_start"]
    if not sampled.any():
        print("  no sampling phase")
        return
    counts = np.bincount(source[sampled], minlength=threshold.size).astype(float)
    log_weights = sampling_weights(member, loglike, counts, log_volume, sampled)
    uncut = member | (loglike[:, None] >= threshold[None, :])
    ess = _records.kish(log_weights)
    ceiling = _records.kish(sampling_weights(uncut, loglike, counts, log_volume, sampled))
    print(f"  sampling phase: {sampled.sum()} draws, ESS {ess:.0f} "
          f"({ess / sampled.sum():.2f} a draw); were no contour cut: "
          f"{ceiling:.0f} ({ceiling / sampled.sum():.2f} a draw)")
    recalls = []
    for k in range(1, threshold.size):
        judged = sampled & (source < k) & (loglike >= threshold[k])
        if judged.sum() >= 20:
            recalls.append((k, judged.sum(), member[judged, k].mean()))
    if recalls:
        shown = " ".join(f"{k}:{r:.2f}" for k, _, r in recalls)
        print(f"  recall by bound (bound:recall, {len(recalls)} bounds with 20+ judged "
              f"draws): mean {np.mean([r for *_, r in recalls]):.3f}\n    {shown}")
    share = np.exp(log_weights - logsumexp(log_weights))
    for i in np.argsort(share)[::-1][:10]:
        row = np.flatnonzero(sampled)[i]
        above, held = np.flatnonzero(loglike[row] >= threshold), np.flatnonzero(member[row])
        print(f"  weight share {share[i]:.4f}: log L {loglike[row]:.2f}, drawn from bound "
              f"{source[row]}, above the thresholds of {above.size} bounds (deepest "
              f"{above.max()}), held by {held.size} (deepest {held.max()})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-live", type=int, default=200)
    parser.add_argument("--min-ess", type=float, default=2900)
    parser.add_argument("--f-live", type=float, default=DEFAULT_F_LIVE)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-evals", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="pickle each run's record here")
    parser.add_argument("--records", type=Path, nargs="+", default=None,
                        help="study these pickled records instead of running")
    args = parser.parse_args()
    logging.getLogger("jax").setLevel(logging.WARNING)
    print(_common.machine())
    if args.records is not None:
        records = [pickle.loads(path.read_bytes()) for path in args.records]
    else:
        print(f"tiny lens, n_live {args.n_live}, min_ess {args.min_ess:g}, f_live "
              f"{args.f_live:g}")
        records = (run(seed, args) for seed in args.seeds)
    for rec in records:
        print(rec.get("run", "a kept record"), flush=True)
        exploration(rec)
        sampling(rec)


if __name__ == "__main__":
    main()
