"""Lane-scheduler efficiency, side by side in one run on one machine.

    python benchmarks/efficiency.py [--n-live 32] [--chunk 4] [--skip-blackjax]

Prints:
1. physical / useful likelihood evaluations of the lane scheduler (while chains are
   queued, and in total including the drain);
2. wall time per useful evaluation of the whole run divided by the wall time per
   evaluation of a plain jitted ``vmap`` of the likelihood at batch ``chunk``;
3. wall time to converge on the laptop lens problem: slicens lanes, slicens reference
   (chunked) schedule, blackjax.nss, all with the same n_live, num_delete and
   num_inner_steps;
4. the same on a cheap 10-d Gaussian.
"""

import argparse
import sys
import time
from pathlib import Path

import _common
import jax

import slicens
from slicens.priors import as_prior
from slicens.problems import correlated_gaussian, lens_problem

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.blackjax_peer import run_blackjax_nss  # noqa: E402


def plain_vmap_ms_per_eval(loglike, prior, batch: int, repeats: int = 20) -> float:
    """Wall time per evaluation of jit(vmap(loglike)) at ``batch`` prior draws."""
    points = as_prior(prior).sample(jax.random.key(123), batch)
    f = jax.jit(jax.vmap(loglike))
    jax.block_until_ready(f(points))
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(f(points))
    return 1000 * (time.perf_counter() - start) / (repeats * batch)


def compare(name, problem, *, n_live, num_delete, chunk, skip_blackjax) -> None:
    steps = slicens.default_num_inner_steps(problem.dim)
    print(f"\n== {name}: n_live={n_live}, num_delete={num_delete}, num_inner_steps={steps}, "
          f"chunk_size={chunk}")
    baseline = plain_vmap_ms_per_eval(problem.loglike, problem.prior, chunk)
    print(f"plain vmap at batch {chunk}: {baseline:.3f} ms per evaluation")
    print(f"{'sampler':<22} {'wall s':>8} {'useful':>9} {'phys/useful':>11} "
          f"{'queued':>7} {'ms/useful':>9} {'/ vmap':>7} {'logZ':>10} {'err':>6}")
    walls = {}
    for schedule in ("lanes", "chunked"):
        start = time.perf_counter()
        r = slicens.run(problem.loglike, problem.prior, n_live=n_live, num_delete=num_delete,
                        num_inner_steps=steps, chunk_size=chunk, schedule=schedule, seed=0)
        wall = time.perf_counter() - start
        walls[schedule] = wall
        u = r.lane_usage
        queued = u["physical_queued"] / max(1, u["useful_queued"])
        ms = 1000 * wall / r.n_evals
        print(f"{'slicens ' + schedule:<22} {wall:8.1f} {r.n_evals:9d} "
              f"{u['physical'] / u['useful']:11.3f} {queued:7.3f} {ms:9.3f} "
              f"{ms / baseline:7.2f} {r.logZ:10.3f} {r.logZ_err:6.3f}", flush=True)
    if skip_blackjax:
        return
    peer = run_blackjax_nss(problem.loglike, as_prior(problem.prior), n_live=n_live,
                            num_delete=num_delete, num_inner_steps=steps, seed=0)
    ms = 1000 * peer.wall_time / peer.n_evals
    print(f"{'blackjax.nss (vmap ' + str(num_delete) + ')':<22} {peer.wall_time:8.1f} "
          f"{peer.n_evals:9d} {'':>11} {'':>7} {ms:9.3f} {ms / baseline:7.2f} "
          f"{peer.logZ:10.3f} {peer.logZ_err:6.3f}")
    print(f"speed-up of slicens lanes over blackjax.nss: {peer.wall_time / walls['lanes']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-live", type=int, default=32)
    parser.add_argument("--num-delete", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=4)
    parser.add_argument("--skip-blackjax", action="store_true")
    parser.add_argument("--only", choices=["lens", "gaussian"], default=None)
    args = parser.parse_args()
    print(_common.machine())
    common = dict(n_live=args.n_live, num_delete=args.num_delete, chunk=args.chunk,
                  skip_blackjax=args.skip_blackjax)
    if args.only in (None, "lens"):
        compare("laptop lens (sparse curvature)", lens_problem("laptop", curvature="sparse"),
                **common)
    if args.only in (None, "gaussian"):
        compare("correlated 10-d Gaussian", correlated_gaussian(10), **common)


if __name__ == "__main__":
    main()
