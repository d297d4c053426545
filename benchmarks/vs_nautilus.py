"""Likelihood evaluations to a converged run: slicens (fixed ``3 x dim`` slice steps, and
the adaptive default) against Nautilus, in one process on the same likelihoods.

    python benchmarks/vs_nautilus.py [--seeds 5] [--n-live 500] [--problems ...]
                                     [--scale laptop|hst] [--curvature dense]
                                     [--samplers ...] [--per-seed]

For each problem and sampler, over the seeds: likelihood evaluations, sampling wall time,
logZ minus the reference (analytic or quadrature; none for the lens) as mean and scatter,
the mean reported logZ error, posterior ESS (Kish) and evaluations per ESS, and the
standard deviation of (logZ - reference) / logZ_err (1 when the errors are honest), and
the Kish ESS of slicens's boosted posterior (an upper bound: a chain's points are
correlated), and the mean dlogZ in standard errors of the mean (bias/se; within +/- 2
the runs show no bias at that resolution).
Nautilus reports no logZ error; its column shows 1 / sqrt(n_eff). "nautilus" runs it
with ``discard_exploration=True``: its estimate from the sampling phase's points only, as
slicens's ``method="bounds"`` does (the like-for-like comparison); "nautilus-keep" at its
default, every point kept (fewer evaluations, biased where bounds adapt to the points:
the 10-d shells, docs/design.md "Bounded draws" 7). The issue-27 table's Nautilus column
is "nautilus-keep". "bounds-reuse" / "bounds-discard": ``method="bounds"`` with
``exploration="reuse"`` / ``"discard"`` (whatever the default). ``--max-time`` caps
each run (slicens's ``max_time``, Nautilus's ``timeout``); each seed's line says what
stopped it. Runs unchanged on a GPU; the GPU check of issue 28 (both samplers on the
HST-scale lens cell within 10 minutes):

    python benchmarks/vs_nautilus.py --scale hst --problems lens --seeds 1 --per-seed \
        --samplers bounds nautilus-keep --n-live 200 --max-time 240

nautilus-sampler is a bench/test extra.
"""

import argparse
import time

import _common
import jax
import numpy as np

import slicens
from slicens.host.bounded import run_bounded
from slicens.priors import as_prior
from slicens.problems import (
    correlated_gaussian,
    eggbox,
    gaussian,
    lens_problem,
    rosenbrock,
    shells,
    weighted_mixture,
)

PROBLEMS = {
    "gaussian_5d": lambda a: gaussian(5),
    "shells_2d": lambda a: shells(2),
    "eggbox_2d": lambda a: eggbox(),
    "rosenbrock_2d": lambda a: rosenbrock(),
    "shells_10d": lambda a: shells(10),
    "mixture_5d": lambda a: weighted_mixture(5),
    "correlated_30d": lambda a: correlated_gaussian(30),
    "lens": lambda a: lens_problem(a.scale, curvature=a.curvature or (
        "sparse" if a.scale != "hst" else "dense")),
}


def run_slicens(problem, seed, n_live, steps, max_time=None):
    r = slicens.run(problem.loglike, problem.prior, n_live=n_live, num_inner_steps=steps,
                    seed=seed, progress=False, max_time=max_time)
    return dict(evals=r.n_evals, wall=r.sampling_time, logZ=r.logZ, err=r.logZ_err,
                ess=r.ess, boosted=r.boosted_ess, stopped=r.termination)


def run_bounds(problem, seed, n_live, refine=True, split_bounds=None, max_time=None,
               exploration=None, n_update=None, f_live=None):
    only_run_bounded = dict(split_bounds=split_bounds, n_update=n_update)  # not slicens.run's
    if any(v is not None for v in only_run_bounded.values()):
        given = dict(only_run_bounded, exploration=exploration, f_live=f_live)
        r = run_bounded(problem.loglike, as_prior(problem.prior), n_live=n_live, seed=seed,
                        refine=refine, max_time=max_time,
                        **{k: v for k, v in given.items() if v is not None})
    else:
        r = slicens.run(problem.loglike, problem.prior, n_live=n_live, method="bounds",
                        seed=seed, refine=refine, progress=False, max_time=max_time,
                        exploration=exploration, f_live=f_live)
    return dict(evals=r.n_evals, wall=r.sampling_time, logZ=r.logZ, err=r.logZ_err,
                ess=r.ess, boosted=np.nan, stopped=r.termination,
                nested=r.logZ_nested, nested_err=r.logZ_nested_err)


def run_nautilus(problem, seed, n_live, n_networks=4, discard_exploration=True,
                 max_time=None):
    import nautilus

    prior = as_prior(problem.prior)
    loglike = jax.jit(jax.vmap(problem.loglike))
    lows = np.array([c.low for c in prior.components])
    widths = np.array([c.high - c.low for c in prior.components])
    def batched(x):  # padded to a power of two: a handful of compilations, not one per size
        x = np.atleast_2d(x)
        size = 1 << max(0, int(np.ceil(np.log2(x.shape[0]))))
        padded = np.concatenate([x, np.repeat(x[:1], size - x.shape[0], axis=0)])
        return np.asarray(loglike(padded))[: x.shape[0]]

    sampler = nautilus.Sampler(lambda u: lows + u * widths, batched, n_dim=prior.dim,
                               n_live=n_live, vectorized=True, seed=seed,
                               n_networks=n_networks)
    for size in (1, 64, 128, 256, 512):  # compile the usual sizes outside the timing
        batched(np.full((size, prior.dim), 0.5) * widths + lows)
    start = time.perf_counter()
    finished = sampler.run(verbose=False, discard_exploration=discard_exploration,
                           timeout=np.inf if max_time is None else max_time)
    wall = time.perf_counter() - start
    n_eff = sampler.n_eff
    return dict(evals=sampler.n_like, wall=wall, logZ=sampler.log_z, err=1 / np.sqrt(n_eff),
                ess=n_eff, boosted=np.nan, stopped="converged" if finished else "max_time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--n-live", type=int, default=500)
    parser.add_argument("--scale", default="laptop", choices=("tiny", "laptop", "hst"))
    parser.add_argument("--curvature", default=None, choices=("sparse", "dense"),
                        help="the lens's curvature matrix (default: sparse, dense for hst; "
                             "dense suits a GPU)")
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--samplers", nargs="+", default=["fixed", "auto", "nautilus"],
                        choices=("fixed", "auto", "bounds", "bounds-reuse", "bounds-discard",
                                 "bounds-ell", "bounds-clusters",
                                 "nautilus", "nautilus-keep", "nautilus-ell"))
    parser.add_argument("--per-seed", action="store_true",
                        help="print each run as it finishes (for long background runs)")
    parser.add_argument("--max-time", type=float, default=None,
                        help="seconds each run may take (slicens's max_time, Nautilus's "
                             "timeout); a run stopped by it says so per seed")
    parser.add_argument("--n-update", type=int, default=None,
                        help="the bounded runs' n_update (run_bounded's; default n_live // 2)")
    parser.add_argument("--f-live", type=float, default=None,
                        help="the bounded runs' f_live (default "
                             "slicens.host.bounded.DEFAULT_F_LIVE)")
    args = parser.parse_args()
    limit = dict(max_time=args.max_time)  # every run's
    bounded = dict(limit, n_update=args.n_update, f_live=args.f_live)  # every bounded run's
    print(_common.machine())
    print(f"n_live={args.n_live}, seeds {args.first_seed}.."
          f"{args.first_seed + args.seeds - 1}, slicens defaults otherwise "
          f"(num_delete = n_live // 10, dlogz 0.01); fixed = 3 x dim steps, no jumps")
    print(f"{'problem':<16} {'sampler':<9} {'evals':>10} {'wall s':>8} {'dlogZ':>8} "
          f"{'scatter':>8} {'err':>7} {'sd(z)':>6} {'ESS':>7} {'evals/ESS':>9} "
          f"{'boosted ESS':>11} {'bias/se':>7}")
    for name in args.problems:
        problem = PROBLEMS[name](args)
        reference = getattr(problem, "logZ", None)
        for sampler in args.samplers:
            rows = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                if sampler == "nautilus":
                    rows.append(run_nautilus(problem, seed, args.n_live, **limit))
                elif sampler == "nautilus-keep":  # its default: the exploration kept
                    rows.append(run_nautilus(problem, seed, args.n_live,
                                             discard_exploration=False, **limit))
                elif sampler == "nautilus-ell":  # its bounds: unions of ellipsoids only
                    rows.append(run_nautilus(problem, seed, args.n_live, n_networks=0,
                                             **limit))
                elif sampler == "bounds":
                    rows.append(run_bounds(problem, seed, args.n_live, **bounded))
                elif sampler in ("bounds-reuse", "bounds-discard"):  # exploration=...
                    rows.append(run_bounds(problem, seed, args.n_live, **bounded,
                                           exploration=sampler.split("-")[1]))
                elif sampler == "bounds-ell":  # method="bounds" without networks
                    rows.append(run_bounds(problem, seed, args.n_live, refine=False, **bounded))
                elif sampler == "bounds-clusters":  # one ellipsoid per mode, not split
                    rows.append(run_bounds(problem, seed, args.n_live, split_bounds=False,
                                           **bounded))
                else:
                    steps = (slicens.default_num_inner_steps(problem.dim) if sampler == "fixed"
                             else "auto")
                    rows.append(run_slicens(problem, seed, args.n_live, steps, **limit))
                if args.per_seed:
                    r = rows[-1]
                    delta = r["logZ"] - reference if reference is not None else np.nan
                    print(f"  {name} {sampler} seed {seed}: evals {r['evals']:.0f} wall "
                          f"{r['wall']:.1f} s logZ {r['logZ']:.4f} +/- {r['err']:.4f} "
                          f"dlogZ {delta:+.4f} ESS {r['ess']:.0f} stopped by {r['stopped']}"
                          + (f" | nested-sampling logZ {r['nested']:.4f} +/- "
                             f"{r['nested_err']:.4f}" if "nested" in r else ""), flush=True)
            col = {k: np.array([r[k] for r in rows], float) for k in rows[0] if k != "stopped"}
            delta = col["logZ"] - (reference if reference is not None else np.mean(col["logZ"]))
            z = np.std(delta / col["err"]) if reference is not None else np.nan
            # the mean's offset in standard errors of the mean (|.| < 2: unbiased at 2 se)
            bias_se = (np.mean(delta) / (np.std(delta, ddof=1) / np.sqrt(len(delta)))
                       if reference is not None and len(delta) > 1 else np.nan)
            print(f"{name:<16} {sampler:<9} {np.mean(col['evals']):10.0f} "
                  f"{np.mean(col['wall']):8.1f} "
                  f"{np.mean(delta) if reference is not None else np.nan:+8.3f} "
                  f"{np.std(delta):8.3f} {np.mean(col['err']):7.3f} {z:6.2f} "
                  f"{np.mean(col['ess']):7.0f} {np.mean(col['evals'] / col['ess']):9.1f} "
                  f"{np.mean(col['boosted']):11.0f} {bias_se:+7.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
