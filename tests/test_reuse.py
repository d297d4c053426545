"""The estimate that keeps the exploration's points (``exploration="reuse"``,
:mod:`slicens.core.reuse`, :mod:`slicens.host.bounded_reuse`).

On fixed bounds (balls around a 3-d Gaussian's mean, analytic evidence): it reduces to
the sampling phase's estimate where the exploration has no share, finds the evidence
within its error with shares that cover the posterior partly or wholly, and (slow) is
unbiased with an honest error over seeds. The shares are predictable: a batch's share
does not change when the points after it do. Whole runs: tests/test_bounds.py.
"""

import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slicens.core import reuse
from slicens.host import bounded_reuse
from slicens.host.bounded_record import Bounds, Points
from slicens.problems import gaussian
from tests.test_bounds import _ball, _contains, _count, _draw
from tests.test_bounds import _estimate as _importance

DIM = 3
N_BATCH = 25
#: Balls of 4, 2.5 and 1.5 posterior sd around the mean: the exploration's bounds.
RADII = (4.0, 2.5, 1.5)
BATCHES_PER_BOUND = 6
#: The sampling phase: prior draws, then draws from each ball.
N_PRIOR, N_PER_BOUND = 300, 600

_reuse = jax.jit(reuse.estimate, static_argnums=9)


def _record(seed):
    """Exploration batches from each ball (its source the ball), then the sampling
    phase's draws from the cube and the balls; every bound fixed, volumes counted."""
    problem = gaussian(DIM)
    centre = 0.5 + problem.mean / 6.0  # the box is [-3, 3]
    key = jax.random.key(seed)
    unions = [_ball(centre, r * 0.3 / 6.0) for r in RADII]
    counted = [_count(jax.random.fold_in(key, k), union, 8) for k, union in enumerate(unions)]
    log_volume = np.array([0.0] + [float(c.log_volume) for c in counted])
    log_volume_var = np.array([0.0] + [float(c.log_volume_var) for c in counted])

    def from_bound(k, n, stream):
        if k == 0:
            return jax.random.uniform(jax.random.fold_in(key, stream), (n, DIM))
        u, filled = _draw(jax.random.fold_in(key, stream), unions[k - 1], n, 100)
        assert int(filled) == n
        return u

    plan = [(k, N_BATCH) for k in range(1, len(RADII) + 1) for _ in range(BATCHES_PER_BOUND)]
    explored = len(plan) * N_BATCH
    plan += [(0, N_PRIOR)] + [(k, N_PER_BOUND) for k in range(1, len(RADII) + 1)]
    u = jnp.concatenate([from_bound(k, n, 1000 + i) for i, (k, n) in enumerate(plan)])
    source = np.concatenate([np.full(n, k, np.int32) for k, n in plan])
    member = np.stack([np.ones(u.shape[0], bool)]
                      + [np.asarray(_contains(union, u)) for union in unions], axis=1)
    loglike = np.asarray(jax.jit(jax.vmap(lambda x: problem.loglike(-3.0 + 6.0 * x)))(u))
    n_sampled = np.bincount(source[explored:], minlength=len(RADII) + 1).astype(float)
    return types.SimpleNamespace(
        problem=problem, u=np.asarray(u), loglike=loglike, member=member, source=source,
        explored=explored, n_sampled=n_sampled, log_volume=log_volume,
        log_volume_var=log_volume_var)


def _reuse_estimate(rec, batch_shares):
    """The reuse estimate of ``rec`` with each exploration batch's share."""
    n = rec.loglike.size
    log_share = np.full(n, -np.inf)
    with np.errstate(divide="ignore"):
        log_share[: rec.explored] = np.log(np.repeat(batch_shares, N_BATCH))
        log_n_sampled = np.log(rec.n_sampled)
    rows = np.arange(n)
    return _reuse(rec.loglike, rec.member, rec.source, rows // N_BATCH, log_share,
                  rows >= rec.explored, log_n_sampled, rec.log_volume, rec.log_volume_var,
                  N_BATCH)


def _shares(total):
    """Equal shares of every exploration batch, summing to ``total``."""
    n_batches = BATCHES_PER_BOUND * len(RADII)
    return np.full(n_batches, total / n_batches)


@pytest.fixture(scope="module")
def records():
    return [_record(seed) for seed in range(3)]


def test_without_shares_it_is_the_sampling_phase_estimate(records):
    rec = records[0]
    alone = _reuse_estimate(rec, _shares(0.0))
    loglike = rec.loglike.copy()
    loglike[: rec.explored] = -np.inf
    with np.errstate(divide="ignore"):
        log_n = np.log(rec.n_sampled)
    sampling = _importance(loglike, rec.member, rec.source, log_n, rec.log_volume,
                           rec.log_volume_var)
    np.testing.assert_allclose(float(alone.logZ), float(sampling.logZ), rtol=0, atol=1e-12)
    np.testing.assert_allclose(float(alone.logZ_err), float(sampling.logZ_err), rtol=1e-9)
    np.testing.assert_allclose(np.exp(alone.log_weights), np.exp(sampling.log_weights),
                               atol=1e-12)


@pytest.mark.parametrize("total", [0.1, 0.5, 1.0])
def test_shares_find_the_analytic_evidence_and_keep_every_batch(records, total):
    for rec in records:
        est = _reuse_estimate(rec, _shares(total))
        assert abs(float(est.logZ) - rec.problem.logZ) < 3 * float(est.logZ_err)
        w = np.exp(np.asarray(est.log_weights))
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(w[: rec.explored][rec.loglike[: rec.explored] > -np.inf] > 0)
        # with the whole share, the sampling phase's points inside every ball weigh
        # nothing: the exploration covers all of the integrand there
        inside = rec.member[:, 1:].all(axis=1)
        if total == 1.0:
            assert np.all(w[rec.explored:][inside[rec.explored:]] < 1e-12)
        # shares near the exploration's part of the points (450 of 2,550 here) raise the
        # ESS above the sampling phase's alone; larger ones overweigh its few points
        if total == 0.1:
            assert float(est.ess) > float(_reuse_estimate(rec, _shares(0.0)).ess)


@pytest.mark.slow
def test_fixed_shares_are_unbiased_and_their_error_honest_over_seeds():
    z = []
    for seed in range(40):
        rec = _record(seed)
        est = _reuse_estimate(rec, _shares(0.8))
        z.append((float(est.logZ) - rec.problem.logZ) / float(est.logZ_err))
    z = np.array(z)
    assert abs(np.mean(z)) < 2 * 1.3 / math.sqrt(z.size)
    assert 0.7 < np.std(z) < 1.3


def _run_record(rec):
    """``rec``'s points and bounds as a run holds them, exploration only."""
    points, found = Points(DIM), Bounds()
    for k in range(1, len(RADII) + 1):
        found.log_volume.append(float(rec.log_volume[k]))
        found.log_volume_var.append(float(rec.log_volume_var[k]))
        found.unions.append(None)
        found.draws.append(0)
    n = rec.explored
    points.add(rec.u[:n], rec.loglike[:n], 0, rec.member[:n])
    points.source[:n] = rec.source[:n]
    # the first batches from the cube: the exploration starts there
    points.source[:N_BATCH] = 0
    return points, found


def test_a_batchs_share_depends_on_the_points_before_it_only(records):
    programs = types.SimpleNamespace(estimate=_importance)
    points, found = _run_record(records[0])
    shares = bounded_reuse.exploration_shares(programs, points, found, points.n, N_BATCH,
                                              500.0)
    assert shares[0] == 0 and np.all(shares[1:] > 0) and shares.sum() <= 1
    for cut in (BATCHES_PER_BOUND, 2 * BATCHES_PER_BOUND - 1):
        changed, _ = _run_record(records[0])
        changed.loglike[cut * N_BATCH: points.n] += np.random.default_rng(cut).normal(
            0, 3, points.n - cut * N_BATCH)
        again = bounded_reuse.exploration_shares(programs, changed, found, points.n,
                                                 N_BATCH, 500.0)
        np.testing.assert_array_equal(again[: cut + 1], shares[: cut + 1])
        assert not np.array_equal(again, shares)
