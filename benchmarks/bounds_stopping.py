"""Does the sampling phase's stopping rule bias ``method="bounds"``'s logZ low?

    python benchmarks/bounds_stopping.py observed 16
    python benchmarks/bounds_stopping.py predicted 16

Hypothesis: stopping when the ESS of the sampling phase's own weights reaches
``min_ess`` biases logZ low (optional stopping: runs that have not yet met a rare large
weight stop sooner). ``predicted`` stops instead when the ESS the exploration's points
predict for the sampling phase's counts reaches ``min_ess``, a stopping time independent
of the sampling phase's values; ``observed`` is the rule as built. Seeds of
tests/test_bounds.py's quick 3-d runs; prints z = dlogZ / logZ_err per seed, their mean
(with its standard error) and sd.
"""

import math
import sys
from pathlib import Path

import _common  # noqa: F401  (float64)
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' quick runs

from slicens.core import importance  # noqa: E402
from slicens.host import bounded  # noqa: E402
from slicens.host import bounded_record as rec  # noqa: E402
from tests.test_bounds import _LOGZ, _quick_run  # noqa: E402


def predicted_ess(points, found, sampled, start) -> float:
    """``(sum_j L_j / D_d)^2 / sum_j L_j^2 / (D_t D_d)`` over the exploration's points
    (drawn with density D_d), D_t the sampling phase's mixture; 0 where a point of
    non-negligible likelihood lies in no bound sampled yet."""
    k = len(found)
    with np.errstate(divide="ignore"):
        log_t = jnp.log(jnp.asarray(sampled, float))
        log_d = jnp.log(jnp.asarray(np.asarray(found.draws, float) - np.asarray(sampled, float)))
    member = jnp.asarray(points.member[:start, :k])
    loglike = jnp.asarray(points.loglike[:start])
    log_volume = jnp.asarray(found.log_volume)
    dt = importance.log_mixture_density(member, log_t, log_volume)
    dd = importance.log_mixture_density(member, log_d, log_volume)
    ok = jnp.isfinite(loglike) & jnp.isfinite(dd)
    top = jnp.max(jnp.where(ok, loglike, -jnp.inf))
    z = jax.nn.logsumexp(jnp.where(ok, loglike - top - dd, -jnp.inf))
    var = jax.nn.logsumexp(jnp.where(ok & jnp.isfinite(dt), 2 * (loglike - top) - dt - dd,
                                     -jnp.inf))
    miss = jnp.any(ok & ~jnp.isfinite(dt) & (loglike - top > -50))
    return float(jnp.where(miss, 0.0, jnp.exp(2 * z - var)))


_as_built = bounded._check


def _check_predicted(programs, points, found, p, rules, report):
    if p.phase == "sampling" and sum(p.sampled) > 0:
        p.next_bound = rec.neediest(programs, points, found, p.sampled, p.sampling_start)
        est = rules["estimator"](programs, points, found, p)  # shown, not the rule
        met = predicted_ess(points, found, p.sampled, p.sampling_start) >= rules["min_ess"]
        return ("min_ess" if met else None), est
    return _as_built(programs, points, found, p, rules, report)


def main() -> None:
    mode, seeds = sys.argv[1], int(sys.argv[2])
    if mode not in ("observed", "predicted"):
        raise SystemExit(f"mode must be observed or predicted, got {mode!r}")
    if mode == "predicted":
        bounded._check = _check_predicted
    zs, ess = [], []
    for seed in range(seeds):
        r = _quick_run(seed)
        zs.append((r.logZ - _LOGZ) / r.logZ_err)
        ess.append(r.ess)
        print(f"{mode} seed {seed}: z {zs[-1]:+.2f} ess {r.ess:.0f} evals {r.n_evals} "
              f"sampling {r.phase_evals['sampling']}", flush=True)
    zs = np.array(zs)
    print(f"{mode}: mean z {zs.mean():+.2f} (se {zs.std(ddof=1) / math.sqrt(len(zs)):.2f}) "
          f"sd {zs.std():.2f}; ESS {np.mean(ess):.0f}", flush=True)


if __name__ == "__main__":
    main()
