"""Shares that forecast each point's future density (``exploration="reuse"``'s next step),
offline on recorded runs: BENCHMARKS.md, "The exploration reused, forecast shares".

    python benchmarks/reuse_forecast.py [--seeds 8] [--scales 3 10]
    python benchmarks/reuse_forecast.py --records mge.pkl   # autolens_fit.py --keep-record

Without ``--records`` it runs the 3-d Gaussian of tests/test_bounds.py (n_live 100,
min_ess 1,000; ellipsoids only, then with networks), the exploration discarded, and keeps
each run's record. For each rule it prints, over the records, the Kish ESS and logZ of
the whole record (a fixed length: no stopping rule chooses it) and the evaluations at
which the estimate first meets ``min_ess`` with the sampling phase's own ESS at least
``n_live`` (the built rule's floor), with logZ there.

A share may depend on the point: exploration batch ``t`` (drawn from bound ``b``, with
density ``d_t(x) = n_batch 1[x in B_b] / V_b``) takes ``lambda_t(x) = R_{t-1}(x) d_t(x) /
(d_t(x) + F_t(x))`` of what earlier batches left at ``x``, ``R_t = R_{t-1} F_t / (d_t +
F_t)``, where ``F_t(x)`` forecasts the density still to come at ``x`` (later batches and
the sampling phase). Any ``F_t`` fixed before batch ``t`` keeps the estimate unbiased
(it may use ``L(x)``, a fixed function of ``x``); the true future density gives every
point the weight ``L / D(x)`` of the every-point estimate. The forecast here, from the
points before bound ``b``'s first batch: ``X(l)``, the prior volume above likelihood
``l`` (each point standing for ``1 / D(x)``); future bounds shrink by the recent ratio
per bound ``s`` and get the draws past bounds got, ``G``, so the density to come at
``x`` is about ``G / (E X(L(x))) / (1 - s)``, ``E = V_b / X(threshold_b)``; scaled by
``scale`` (a larger scale forecasts more: less reuse, never more variance). The cube's
batches take no share (nothing before them forecasts). Rules: ``discard`` (the built
default), ``every`` (every point at ``L / D``: biased where bounds adapt; the ceiling
of the ESS), ``forecast xS``.
"""

import argparse
import pickle
import sys
from pathlib import Path

import _common
import _records
import jax
import numpy as np
from _records import kish
from scipy.special import logsumexp

from slicens.host.bounded import run_bounded
from slicens.priors import as_prior

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_bounds  # noqa: E402  (the problem the tests use)


def future_density(rec: dict, b: int) -> np.ndarray:
    """The forecast density to come at every point of ``rec``, from the points before
    bound ``b``'s first batch (module docstring)."""
    loglike, member, source = rec["loglike"], rec["member"], rec["source"]
    log_volume = rec["log_volume"]
    start = int(np.argmax(source == b))
    draws = np.bincount(source[:start], minlength=log_volume.size).astype(float)
    density = member[:start] @ (draws / np.exp(log_volume))
    order = np.argsort(-loglike[:start], kind="stable")
    above = np.cumsum(1.0 / density[order])  # volume above each earlier point, best first

    def volume_above(values):
        count = np.searchsorted(-loglike[:start][order], -np.asarray(values), side="left")
        return above[np.maximum(count - 1, 0)]

    enlarged = np.exp(log_volume[b]) / volume_above([rec["threshold"][b]])[0]
    shrink = min(0.9, float(np.exp(np.mean(np.diff(log_volume[max(0, b - 4): b + 1])))))
    per_bound = np.mean(draws[1:b]) if b > 1 else 4.0 * rec["n_batch"]
    return per_bound / (enlarged * volume_above(loglike)) / (1.0 - shrink)


def exploration_weights(rec: dict, scale: float | None):
    """The exploration points' log weights and every point's remainder ``R_E(x)`` under
    forecast shares at ``scale`` (None: the exploration discarded)."""
    loglike, member, source = rec["loglike"], rec["member"], rec["source"]
    n_batch, start = rec["n_batch"], rec["sampling_start"]
    per_batch = n_batch / np.exp(rec["log_volume"])
    log_w, remainder = np.full(loglike.size, -np.inf), np.ones(loglike.size)
    if scale is None:
        return log_w, remainder
    drawn, forecasts = np.zeros(loglike.size), {}
    for t in range(start // n_batch):
        b = int(source[t * n_batch])
        d = member[:, b] * per_batch[b]
        drawn += d
        if b == 0:
            continue
        if b not in forecasts:
            forecasts[b] = future_density(rec, b)
        to_come = np.maximum(scale * forecasts[b] - drawn, 0.0)
        rows = slice(t * n_batch, (t + 1) * n_batch)
        with np.errstate(divide="ignore"):
            log_w[rows] = (loglike[rows] + np.log(remainder[rows])
                           - np.log(d[rows] + to_come[rows]))
        inside = d > 0
        remainder[inside] *= to_come[inside] / (d[inside] + to_come[inside])
    return log_w, remainder


def log_weights(rec: dict, rule, upto: int) -> np.ndarray:
    """The first ``upto`` points' log weights under ``rule`` (``"every"``, or the pair
    of :func:`exploration_weights`)."""
    loglike, member, source = rec["loglike"], rec["member"], rec["source"]
    start = rec["sampling_start"]
    sampled = np.bincount(source[start:upto], minlength=rec["log_volume"].size)
    sampling_density = member[:upto] @ (sampled / np.exp(rec["log_volume"]))
    if rule == "every":
        explored = np.bincount(source[:start], minlength=rec["log_volume"].size)
        return loglike[:upto] - np.log(member[:upto] @ (explored / np.exp(rec["log_volume"]))
                                       + sampling_density)
    log_w, remainder = rule
    log_w = log_w[:upto].copy()
    with np.errstate(divide="ignore"):
        log_w[start:] = (loglike[start:upto] + np.log(remainder[start:upto])
                         - np.log(sampling_density[start:]))
    return log_w


def first_met(rec: dict, rule, own):
    """The evaluations at which the estimate first meets ``min_ess`` with the sampling
    phase's own ESS at least ``n_live``, and logZ there (the record's end where never)."""
    start, n_batch, n = rec["sampling_start"], rec["n_batch"], rec["loglike"].size
    for upto in range(start + n_batch, n + 1, n_batch):
        log_w = log_weights(rec, rule, upto)
        if kish(log_w) >= rec["min_ess"] and kish(log_weights(rec, own, upto)) >= rec["n_live"]:
            break
    return upto, float(logsumexp(log_w))


def gaussian_records(seeds: int, refine: bool) -> list:
    records = []
    for seed in range(seeds):
        with _records.kept() as held:
            run_bounded(test_bounds._LOGLIKE, as_prior(test_bounds._PRIOR), n_live=100,
                        min_ess=1000, seed=seed, refine=refine, exploration="discard",
                        chunk_size=None)
        records.append(dict(_records.record(held), truth=test_bounds._LOGZ))
    return records


def compare(records: list, scales: list) -> None:
    rules = {"discard": None, "every (biased)": "every",
             **{f"forecast x{s:g}": s for s in scales}}
    for name, rule in rules.items():
        ess, log_z, met, met_log_z = [], [], [], []
        for rec in records:
            weighed = "every" if rule == "every" else exploration_weights(rec, rule)
            own = exploration_weights(rec, None)
            log_w = log_weights(rec, weighed, rec["loglike"].size)
            ess.append(kish(log_w))
            log_z.append(float(logsumexp(log_w)))
            upto, at = first_met(rec, weighed, own)
            met.append(upto)
            met_log_z.append(at)
        line = (f"  {name:<16} whole record: ESS {np.mean(ess):7.0f}  first meets min_ess at "
                f"{np.mean(met):7.0f} evaluations")
        truths = [rec.get("truth") for rec in records]
        if None in truths:
            line += f"  logZ whole {np.mean(log_z):.3f}, at min_ess {np.mean(met_log_z):.3f}"
        else:
            whole, stopped = np.subtract(log_z, truths), np.subtract(met_log_z, truths)
            se = whole.std(ddof=1) / np.sqrt(len(whole))
            line += (f"  dlogZ whole {whole.mean():+.4f} (se {se:.4f}, scatter "
                     f"{whole.std(ddof=1):.4f}); at min_ess {stopped.mean():+.4f} "
                     f"(scatter {stopped.std(ddof=1):.4f})")
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--scales", type=float, nargs="+", default=[3.0, 10.0])
    parser.add_argument("--records", nargs="+", type=Path,
                        help="pickled records (autolens_fit.py --keep-record) instead")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    print(_common.machine())
    if args.records:
        records = [{**rec, "log_volume": np.asarray(rec["log_volume"], float),
                    "threshold": np.asarray(rec["threshold"], float)}
                   for rec in (pickle.loads(path.read_bytes()) for path in args.records)]
        print(f"{len(records)} records: {[str(p) for p in args.records]}", flush=True)
        compare(records, args.scales)
        return
    for refine in (False, True):
        print(f"3-d Gaussian, n_live 100, min_ess 1,000, refine={refine}, seeds "
              f"0..{args.seeds - 1}", flush=True)
        compare(gaussian_records(args.seeds, refine), args.scales)


if __name__ == "__main__":
    main()
