"""How to share the evidence between the exploration's batches and the sampling phase
(``exploration="reuse"``), offline on recorded runs: BENCHMARKS.md, "The exploration
reused".

    python benchmarks/reuse_shares.py [--seeds 8] [--reserves 1e5 1e6]

Runs the 3-d Gaussian of tests/test_bounds.py (n_live 100, min_ess 1,000; with networks
and with ellipsoids only) with the exploration discarded, keeps each run's record (its
points, bounds and phases), then for each rule finds the shortest prefix of the
sampling phase at which the rule's estimate meets ``min_ess`` (and, where the rule has
one, the sampling phase's own ESS its floor), and prints the mean evaluations there, the
scatter of logZ about the analytic value, and the mean and sd of z over the seeds. The
seeds share their exploration between rules, so the rules compare like for like.

Rules: ``discard`` (the default); the built shares
(:func:`slicens.host.bounded_reuse.exploration_shares`) against 1 or 2 x ``min_ess``,
with or without the floor (the sampling phase's own ESS >= n_live); and point-dependent
shares with a fixed reserve ``K`` (the balance heuristic made predictable, in numpy
here: an exploration point of batch t weighs ``L K / ((D_<t + K)(D_<=t + K))``, a
sampling point ``L K / ((D_E + K) D_S)``, with ``D`` the densities of the batches' draws).
"""

import argparse
import copy
import sys
from pathlib import Path

import _common
import _records
import jax
import numpy as np
from scipy.special import logsumexp

from slicens.host import bounded_reuse
from slicens.host.bounded import run_bounded
from slicens.host.bounded_record import estimate as importance_estimate
from slicens.priors import as_prior

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_bounds  # noqa: E402  (the problem the tests use)


def recorded_run(seed: int, refine: bool):
    """A discard run's final state: (programs, points, bounds, progress, min_ess,
    n_batch)."""
    with _records.kept() as held:
        run_bounded(test_bounds._LOGLIKE, as_prior(test_bounds._PRIOR), n_live=100,
                    min_ess=1000, seed=seed, refine=refine, exploration="discard",
                    chunk_size=None)
    return held["state"]


def _prefix(points, m):
    """The first ``m`` points of a record (the likelihoods after them -inf: an estimate
    reads the padded rows)."""
    head = copy.copy(points)
    head.n = m
    head.loglike = points.loglike.copy()
    head.loglike[m:] = -np.inf
    return head


def _sampled(points, found, start, m):
    return np.bincount(points.source[start:m], minlength=len(found)).astype(float)


def shares_rule(budget, floor):
    def estimate_at(programs, points, found, p, min_ess, nb, m, cache):
        if "shares" not in cache:
            cache["shares"] = bounded_reuse.exploration_shares(
                programs, points, found, p.sampling_start, nb, budget * min_ess)
        head = _prefix(points, m)
        sampled = _sampled(points, found, p.sampling_start, m)
        est = bounded_reuse.estimate(programs, head, found, cache["shares"], sampled,
                                     p.sampling_start, nb)
        own = importance_estimate(programs, head, found, sampled, p.sampling_start)
        return est, float(own.ess) >= floor * programs.n_live
    return estimate_at


def discard_rule(programs, points, found, p, min_ess, nb, m, cache):
    head = _prefix(points, m)
    return importance_estimate(programs, head, found,
                               _sampled(points, found, p.sampling_start, m),
                               p.sampling_start), True


def reserve_rule(reserve):
    """Point-dependent shares with the fixed reserve ``reserve`` (numpy; no error)."""
    def estimate_at(programs, points, found, p, min_ess, nb, m, cache):
        start = p.sampling_start
        log_volume = np.array(found.log_volume)
        density = nb / np.exp(log_volume)
        member = points.member[:m, :len(found)].astype(float)
        loglike, source = points.loglike[:m], points.source[:m]
        log_w = np.empty(m)
        counts = np.zeros(len(found))
        for t in range(start // nb):
            rows = slice(t * nb, (t + 1) * nb)
            before = member[rows] @ (counts * density)
            b = source[t * nb]
            log_w[rows] = (loglike[rows] + np.log(reserve) - np.log(before + reserve)
                           - np.log(before + density[b] + reserve))
            counts[b] += 1
        explored = member[start:] @ (counts * density)
        n_s = _sampled(points, found, start, m)
        with np.errstate(divide="ignore"):
            per = np.where(member[start:] > 0, (np.log(n_s) - log_volume)[None, :], -np.inf)
        log_w[start:] = (loglike[start:] + np.log(reserve) - np.log(explored + reserve)
                         - logsumexp(per, axis=1))
        log_z = logsumexp(log_w)
        w = np.exp(log_w - log_z)
        return _Plain(log_z, np.nan, 1.0 / np.sum(w * w)), True
    return estimate_at


class _Plain:
    def __init__(self, logZ, logZ_err, ess):
        self.logZ, self.logZ_err, self.ess = logZ, logZ_err, ess


def first_met(rule, state):
    """The evaluations at which ``rule`` first meets min_ess (and its floor), and its
    estimate there."""
    programs, points, found, p, min_ess, nb = state
    cache = {}
    for m in range(p.sampling_start + nb, points.n + 1, nb):
        est, floor_met = rule(programs, points, found, p, min_ess, nb, m, cache)
        if float(est.ess) >= min_ess and floor_met:
            return m, est
    return points.n, est


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--reserves", type=float, nargs="+", default=[1e5, 1e6])
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    print(_common.machine())
    rules = {"discard": discard_rule}
    for budget in (1, 2):
        rules[f"shares / {budget} min_ess, no floor"] = shares_rule(budget, 0.0)
        rules[f"shares / {budget} min_ess, floor n_live"] = shares_rule(
            budget, bounded_reuse.SAMPLING_FLOOR)
    for reserve in args.reserves:
        rules[f"reserve K={reserve:g}"] = reserve_rule(reserve)
    truth = test_bounds._LOGZ
    for refine in (True, False):
        states = [recorded_run(seed, refine) for seed in range(args.seeds)]
        print(f"3-d Gaussian, n_live 100, min_ess 1,000, refine={refine}, seeds "
              f"0..{args.seeds - 1}", flush=True)
        for name, rule in rules.items():
            found = [first_met(rule, state) for state in states]
            evals = np.array([m for m, _ in found], float)
            delta = np.array([float(e.logZ) - truth for _, e in found])
            z = delta / np.array([float(e.logZ_err) for _, e in found])
            errors = ("(no error estimate)" if np.isnan(z).all() else
                      f"z mean {np.mean(z):+.2f} sd {np.std(z):.2f} min {np.min(z):+.2f}")
            print(f"  {name:<32} evaluations {evals.mean():7.0f}  scatter "
                  f"{delta.std(ddof=1):.4f}  mean dlogZ {delta.mean():+.4f}  {errors}",
                  flush=True)


if __name__ == "__main__":
    main()
