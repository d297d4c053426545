"""Posterior mass per mode: slicens against exact nested sampling, seed by seed; and
what the clustering costs where it finds one mode.

    python benchmarks/mode_weights.py [--seeds 20] [--n-live 500] [--problems ...]
                                      [--num-inner-steps auto]
    python benchmarks/mode_weights.py --cost [--cost-iterations 40] [--cost-repeats 6]

"Exact" nested sampling replaces each dead point by an independent draw from the prior
above the contour (rejection from bounding balls around the modes, guaranteed to hold
the contour, or from the whole prior box for the egg-box), with the same n_live,
num_delete and stopping rule as slicens. Its seed-to-seed scatter of each mode's mass is
what an ideal nested sampler with these settings achieves; issue 12 asks slicens for
at most twice that, no mode below a third of its true weight in any run, and logZ
unbiased. Prints, per problem and sampler: the mean and standard deviation of each
mode's mass over the seeds, the worst run's smallest ratio of mass to true weight, logZ
bias with its standard error, the standard deviation of (logZ - truth) / logZ_err (1 when
the errors are honest), and evaluations. Then what ``slicens.host.modes.find_modes`` (the
``result.modes`` of a run) reports for the same dead points, matched to the true modes:
how many modes it found, the mean reported mass error, the standard deviation over
seeds and modes of (mass - true weight) / mass_err (1 when the errors are honest), the
fraction of those beyond 3, and how many modes it flagged as depleted.

``--cost``: the 30-d correlated Gaussian (one mode, where most ellipsoid jumps miss, so
the live points are clustered whenever allowed) at n_live 1000, seed 0, for a fixed
number of iterations, at the defaults and with the clusters off
(``default_max_clusters`` patched to 1), alternately in one process, six times each:
the sampling seconds per iteration (median; wall clock and the process's CPU time, which a
busy virtual machine disturbs less) and what the clusters add. A third setting keeps the
union's slots but never clusters: what the slots alone cost. All take the same
evaluations (the clusters never split there), checked.
"""

import argparse
import time

import _common  # noqa: F401  (float64, threads)
import jax
import numpy as np
from scipy.special import gammaln, logsumexp

import slicens
from slicens.core import evidence
from slicens.host import modes
from slicens.problems import eggbox, weighted_mixture

WEIGHTS = (0.4, 0.3, 0.2, 0.1)


def mixture_problem():
    problem = weighted_mixture(5, WEIGHTS)
    m, dim, sigma = len(WEIGHTS), 5, 0.1
    means = np.outer(-0.5 + np.arange(m) / (m - 1), np.ones(dim))
    log_w = np.log(np.asarray(WEIGHTS) / np.sum(WEIGHTS))
    log_norm = -0.5 * dim * np.log(2 * np.pi * sigma**2)

    def loglike(x):  # numpy, (n, dim)
        r2 = np.sum((x[:, None, :] - means[None]) ** 2, axis=-1)
        return logsumexp(log_w[None] + log_norm - 0.5 * r2 / sigma**2, axis=1)

    def draw(contour, n, rng):
        # L > contour needs one term > contour - log(m): inside ball j of radius^2
        # 2 sigma^2 (log w_j + log_norm - contour + log m), a guaranteed bound
        r2 = 2 * sigma**2 * (log_w + log_norm - contour + np.log(m))
        radius = np.sqrt(np.maximum(r2, 0.0))
        return _uniform_in_balls(means, radius, n, rng, low=-1.0, high=1.0)

    return dict(problem=problem, loglike=loglike, draw=draw, centres=means,
                truth=np.asarray(WEIGHTS) / np.sum(WEIGHTS))


def eggbox_problem():
    problem = eggbox()
    low, high = problem.prior[0].low, problem.prior[0].high

    def loglike(x):
        return (2.0 + np.cos(x[:, 0] / 2) * np.cos(x[:, 1] / 2)) ** 5

    def draw(contour, n, rng):
        return rng.uniform(low, high, size=(n, 2))

    peaks = problem.mean
    return dict(problem=problem, loglike=loglike, draw=draw, centres=peaks,
                truth=np.full(len(peaks), 1.0 / len(peaks)))


PROBLEMS = {"mixture_5d": mixture_problem, "eggbox": eggbox_problem}


def _uniform_in_balls(centres, radius, n, rng, low, high):
    """n candidates uniform in the union of balls (kept with 1 / cover) inside the box;
    fewer than n may come back (the caller keeps drawing)."""
    dim = centres.shape[1]
    log_volume = dim * np.log(np.maximum(radius, 1e-300))
    log_unit_ball = 0.5 * dim * np.log(np.pi) - gammaln(0.5 * dim + 1)
    if logsumexp(log_volume) + log_unit_ball >= dim * np.log(high - low):
        return rng.uniform(low, high, size=(n, dim))  # the balls are no tighter than the box
    p = np.exp(log_volume - logsumexp(log_volume))
    pick = rng.choice(len(centres), size=n, p=p)
    z = rng.normal(size=(n, dim))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    x = centres[pick] + (radius[pick] * rng.uniform(size=n) ** (1 / dim))[:, None] * z
    cover = np.sum(np.sum((x[:, None, :] - centres[None]) ** 2, axis=-1) < radius**2, axis=1)
    keep = (rng.uniform(size=n) * np.maximum(cover, 1) < 1) & np.all((x > low) & (x < high), 1)
    return x[keep]


def exact_nested_sampling(case, n_live, num_delete, dlogz, rng):
    """Dead points (positions, loglike, birth contours) of exact nested sampling."""
    loglike, draw = case["loglike"], case["draw"]
    acceptance = [1.0]  # of the last call: sizes the next batch

    def constrained(contour, n):
        out, tried = [], 0
        while sum(len(o) for o in out) < n:
            batch = int(min(2_000_000, max(1000, 2 * n / max(acceptance[0], 1e-7))))
            x = draw(contour, batch, rng)
            out.append(x[loglike(x) > contour])
            tried += batch
            acceptance[0] = max(sum(len(o) for o in out), 1) / tried
        return np.concatenate(out)[:n]

    live = constrained(-np.inf, n_live)
    live_l, live_birth = loglike(live), np.full(n_live, -np.inf)
    dead_x, dead_l, dead_birth = [], [], []
    logX, logZ = 0.0, -np.inf
    while True:
        order = np.argsort(live_l)
        dead = order[:num_delete]
        dead_x.append(live[dead])
        dead_l.append(live_l[dead])
        dead_birth.append(live_birth[dead])
        counts = n_live - np.arange(num_delete)
        log_shrink = -1.0 / counts
        log_dx = logX + np.cumsum(np.concatenate([[0.0], log_shrink[:-1]])) + np.log(
            -np.expm1(log_shrink))
        logZ = np.logaddexp(logZ, logsumexp(live_l[dead] + log_dx))
        logX += np.sum(log_shrink)
        contour = live_l[dead[-1]]
        live[dead] = constrained(contour, num_delete)
        live_l[dead] = loglike(live[dead])
        live_birth[dead] = contour
        logZ_live = logsumexp(live_l) - np.log(n_live) + logX
        if np.logaddexp(logZ, logZ_live) - logZ < dlogz:
            break
    order = np.argsort(live_l)
    positions = np.concatenate(dead_x + [live[order]])
    ll = np.concatenate(dead_l + [live_l[order]])
    birth = np.concatenate(dead_birth + [live_birth[order]])
    return positions, ll, birth


def mode_masses(positions, log_weights, centres):
    nearest = np.argmin(np.sum((positions[:, None, :] - centres[None]) ** 2, axis=-1), axis=1)
    w = np.exp(log_weights - logsumexp(log_weights))
    return np.bincount(nearest, weights=w, minlength=len(centres))


def found_modes(found, centres):
    """The modes slicens.host.modes found, matched to the true centres: mass and error per
    centre (modes nearest one centre add up), and how many modes were found."""
    nearest = np.argmin(np.sum((found.centre[:, None, :] - centres[None]) ** 2, -1), axis=1)
    mass = np.bincount(nearest, weights=found.mass, minlength=len(centres))
    err = np.sqrt(np.bincount(nearest, weights=found.mass_err**2, minlength=len(centres)))
    return dict(found_masses=mass, found_errors=err, n_found=found.mass.size,
                depleted=found.depleted().size)


def run_exact(case, seed, n_live, num_delete, dlogz):
    rng = np.random.default_rng(seed)
    positions, ll, birth = exact_nested_sampling(case, n_live, num_delete, dlogz, rng)
    counts = evidence.live_counts(ll, birth, birth == -np.inf)
    stats = evidence.statistics(ll, counts, rng)
    found = modes.find_modes(positions, ll, birth, stats.log_weights, n_live)
    return dict(masses=mode_masses(positions, stats.log_weights, case["centres"]),
                logZ=stats.logZ, err=stats.logZ_err, evals=None,
                **found_modes(found, case["centres"]))


def run_slicens(case, seed, n_live, steps):
    problem = case["problem"]
    r = slicens.run(problem.loglike, problem.prior, n_live=n_live, seed=seed,
                    num_inner_steps=steps, progress=False)
    return dict(masses=mode_masses(r.positions, r.log_weights, case["centres"]),
                logZ=r.logZ, err=r.logZ_err, evals=r.n_evals,
                **found_modes(r.modes, case["centres"]))


def report(name, sampler, runs, truth, reference_logZ):
    """One table row; returns each mode's seed-to-seed standard deviation of mass."""
    masses = np.array([r["masses"] for r in runs])
    sd = masses.std(axis=0, ddof=1)
    dz = np.array([r["logZ"] for r in runs]) - reference_logZ
    worst = np.min(masses / truth[None, :])
    per_mode = (" ".join(f"{masses[:, j].mean():.3f}+/-{sd[j]:.3f}" for j in range(len(truth)))
                if len(truth) <= 4 else "-")
    evals = f"{np.mean([r['evals'] for r in runs]):,.0f}" if runs[0]["evals"] else "-"
    z = dz / np.array([r["err"] for r in runs])
    found = np.array([r["found_masses"] for r in runs])
    errors = np.array([r["found_errors"] for r in runs])
    z_mass = (found - truth[None, :]) / errors
    n_found = np.array([r["n_found"] for r in runs])
    print(f"| {name} | {sampler} | {len(runs)} | {per_mode} | {sd.mean():.4f} | {sd.max():.4f} | "
          f"{worst:.2f} | {dz.mean():+.3f} +/- {dz.std(ddof=1) / np.sqrt(len(dz)):.3f} | "
          f"{z.std(ddof=1):.2f} | {evals} | {n_found.min()}-{n_found.max()} | "
          f"{errors.mean():.4f} | {np.std(z_mass, ddof=1):.2f} | "
          f"{np.mean(np.abs(z_mass) > 3):.3f} | {sum(r['depleted'] for r in runs)} |",
          flush=True)
    return sd


def cost_of_clusters(iterations: int, repeats: int) -> None:
    """Seconds per iteration with and without clusters on the 30-d correlated Gaussian."""
    from slicens.core import jumps
    from slicens.host import settings
    from slicens.problems import correlated_gaussian

    problem, default = correlated_gaussian(30), settings.default_max_clusters

    def never_clustered(x):  # another likelihood object: its own programs, traced with
        return problem.loglike(x)  # the clustering switched off (below)

    configs = {  # (max_clusters, likelihood, clustering allowed)
        "defaults": (default, problem.loglike, True),
        "clusters off (max_clusters 1)": (lambda n_live, dim: 1, problem.loglike, True),
        "slots kept, never clustered": (default, never_clustered, False),
    }
    print(f"30-d correlated Gaussian, n_live 1000, {iterations} iterations, seed 0, "
          f"{repeats} alternating repeats, jax {jax.__version__}")
    wall, cpu, evals = ({label: [] for label in configs} for _ in range(3))
    above = jumps.CLUSTER_ABOVE_MISS
    for _ in range(repeats):
        for label, (max_clusters, loglike, clustering) in configs.items():
            settings.default_max_clusters = max_clusters
            jumps.CLUSTER_ABOVE_MISS = above if clustering else 2.0  # read when traced
            start = time.process_time()
            r = slicens.run(loglike, problem.prior, n_live=1000, seed=0,
                            max_iterations=iterations, progress=False)
            cpu[label].append((time.process_time() - start - r.compile_time) / r.n_iterations)
            wall[label].append(r.sampling_time / r.n_iterations)
            evals[label].append(r.n_evals)
    settings.default_max_clusters, jumps.CLUSTER_ABOVE_MISS = default, above
    assert len({e for v in evals.values() for e in v}) == 1, evals  # the same chains
    base = "clusters off (max_clusters 1)"
    print("| setting | wall s per iteration (median) | CPU s per iteration (median) | "
          "wall over clusters off | evaluations |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label in configs:
        w, c = np.median(wall[label]), np.median(cpu[label])
        print(f"| {label} | {w:.3f} | {c:.3f} | "
              f"{w / np.median(wall[base]) - 1:+.1%} | {evals[label][0]:,} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n-live", type=int, default=500)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--num-inner-steps", default="auto")
    parser.add_argument("--cost", action="store_true",
                        help="only the cost of clustering on the 30-d correlated Gaussian")
    parser.add_argument("--cost-iterations", type=int, default=40)
    parser.add_argument("--cost-repeats", type=int, default=6)
    args = parser.parse_args()
    if args.cost:
        return cost_of_clusters(args.cost_iterations, args.cost_repeats)
    steps = args.num_inner_steps if args.num_inner_steps == "auto" else int(args.num_inner_steps)
    num_delete = args.n_live // 10
    print(f"n_live {args.n_live}, num_delete {num_delete}, seeds {args.seeds}, "
          f"slicens num_inner_steps={steps}, jax {jax.__version__}")
    print("| problem | sampler | runs | mass per mode (mean +/- sd) | mean sd | max sd | "
          "worst mass / truth | logZ - truth | sd(z) | evaluations | modes found | "
          "mean mass_err | sd(z_mass) | abs(z_mass) > 3 | depleted |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | "
          "---: | ---: | ---: |")
    for name in args.problems:
        case = PROBLEMS[name]()
        truth, reference = case["truth"], case["problem"].logZ
        t = time.time()
        exact = [run_exact(case, seed, args.n_live, num_delete, 0.01)
                 for seed in range(args.seeds)]
        sd_exact = report(name, "exact", exact, truth, reference)
        slice_runs = [run_slicens(case, seed, args.n_live, steps) for seed in range(args.seeds)]
        sd_slice = report(name, "slicens", slice_runs, truth, reference)
        print(f"  {name}: sd ratio slicens / exact per mode: max "
              f"{np.max(sd_slice / sd_exact):.2f}, mean {np.mean(sd_slice / sd_exact):.2f} "
              f"({time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
