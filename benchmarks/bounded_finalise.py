"""What finalising a ``method="bounds"`` run costs at a million evaluations: every point's
importance weight against the mixture of every bound (``importance.estimate``), the
sampling phase's choice of bound (``importance.log_need``) and one bound's membership
column over every point (a new bound's, refined by networks), each compiled as a run
compiles it (padded shapes) and timed after a warm-up call.

    python benchmarks/bounded_finalise.py [--points 10000 100000 1000000] [--bounds 32]
                                          [--dim 7]

Synthetic inputs of the run's shapes (points in the unit cube, nested balls as bounds,
a Gaussian log-likelihood): the cost depends on the shapes only. Compare with the
sampling time of a run of as many evaluations (BENCHMARKS.md).
"""

import argparse
import time

import _common
import jax
import jax.numpy as jnp
import numpy as np

from slicens.core import bounds, importance, network
from slicens.core.ellipsoids import Ellipsoids
from slicens.host import bounded
from slicens.host.bounded_record import membership


def _timed(fun, *args, repeats=3):
    jax.block_until_ready(fun(*args))  # compile and warm up
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fun(*args))
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--bounds", type=int, default=32)
    parser.add_argument("--dim", type=int, default=7)
    args = parser.parse_args()
    print(_common.machine())
    dim, k = args.dim, args.bounds
    rng = np.random.default_rng(0)
    radii = 0.5 * 0.8 ** np.arange(k)  # nested balls around the cube's centre
    estimate = jax.jit(importance.estimate)
    need = jax.jit(importance.log_need)
    union = Ellipsoids.make(jnp.full((4, dim), 0.5), jnp.broadcast_to(jnp.eye(dim), (4, dim, dim)),
                            jnp.full((4,), 0.3))
    train = jax.jit(network.train)
    nets = network.stack([train(
        jax.random.key(s), jnp.asarray(rng.uniform(size=(1024, dim))),
        jnp.asarray(-rng.uniform(size=1024) * 10), jnp.ones(1024, bool), -5.0,
        jnp.full(dim, 0.5), 0.3 * jnp.eye(dim)) for s in range(4)])
    programs = type("Programs", (), dict(contains=staticmethod(jax.jit(bounds.contains))))
    print(f"{k} bounds, dim {dim}; seconds per call")
    print(f"{'points':>9} {'estimate':>9} {'log_need':>9} {'membership':>11}")
    for n in args.points:
        u = rng.uniform(size=(n, dim))
        r = np.linalg.norm(u - 0.5, axis=1)
        member = jnp.asarray(r[:, None] <= np.r_[np.inf, radii[1:]][None, :])
        source = jnp.asarray(np.minimum(rng.integers(0, k, n), member.sum(1) - 1), jnp.int32)
        loglike = jnp.asarray(-0.5 * (r / 0.05) ** 2)
        log_n = jnp.full(k, np.log(n / k))
        log_volume = jnp.asarray(dim * np.log(np.r_[1.0, radii[1:]]))
        t_est = _timed(estimate, loglike, member, source, log_n, log_volume, jnp.zeros(k))
        t_need = _timed(need, loglike, member, log_n, log_n, log_volume)
        membership(programs, union, u[: bounds.BLOCK], nets)  # compiled for these blocks
        start = time.perf_counter()
        membership(programs, union, u, nets)
        t_member = time.perf_counter() - start
        print(f"{n:9d} {t_est:9.3f} {t_need:9.3f} {t_member:11.3f}", flush=True)
    print(f"(a run re-estimates at most {bounded.CHECKS_PER_RUN} times per doubling of its "
          "points, and computes one membership column per new bound)")


if __name__ == "__main__":
    main()
