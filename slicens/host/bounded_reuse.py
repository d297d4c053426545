"""The estimate of a bounded run that keeps its exploration's points
(``exploration="reuse"``, :mod:`slicens.core.reuse`): each exploration batch's share
``lambda_t``, chosen from the points before it, and the estimate over every point.

A batch's share is what it is predicted to add to the effective sample size, over the
run's target ``min_ess``, taken from what the earlier batches left: ``lambda_t = rho_t
x (1 - sum_{s<t} lambda_s)``, ``rho_t = min(1, ESS_t / (BUDGET x min_ess))``, so the
shares never sum past one. ``ESS_t`` (:func:`slicens.core.reuse.batch_ess`) comes from the
every-point estimate of the points drawn before the batch's bound was first drawn from:
known before each of its batches, as the estimate's unbiasedness needs.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from slicens.core import reuse
from slicens.host.bounded_record import Bounds, Points, pad_to_compiled_sizes, per_bound
from slicens.host.bounded_record import estimate as estimate_rows
from slicens.host.platform import jit

__all__ = ["exploration_shares", "estimate", "BUDGET", "SAMPLING_FLOOR"]

#: The ESS the shares are measured against, in units of the run's ``min_ess``: at 1 the
#: exploration took 93% of the weight on a 3-d Gaussian without networks and the
#: evidence scattered twice as much as at 2 (0.020 against 0.011, 8 seeds; BENCHMARKS.md).
BUDGET = 2.0
#: The sampling phase's own ESS, in units of ``n_live``, before a run that reuses its
#: exploration may stop (:meth:`slicens.host.bounded_estimator.Estimator.sampled_enough`).
SAMPLING_FLOOR = 1.0


@functools.cache
def _programs():
    return (jit(reuse.estimate, static_argnums=9), jit(reuse.batch_ess, static_argnums=4))


def exploration_shares(programs, points: Points, found: Bounds, sampling_start: int,
                       n_batch: int, budget: float) -> np.ndarray:
    """``lambda_t`` of each exploration batch (rows ``[0, sampling_start)`` in batches
    of ``n_batch``), shape (sampling_start // n_batch,)."""
    source = points.source[:sampling_start]
    n_batches = sampling_start // n_batch
    first_source = source[::n_batch][:n_batches]
    predicted = {}
    for b in dict.fromkeys(first_source.tolist()):
        start = int(np.argmax(source == b))  # the points there were before its first batch
        predicted[b] = 0.0 if start == 0 else _predicted_ess(
            programs, points, found, b, start, n_batch)
    shares = np.zeros(n_batches)
    left = 1.0
    for t, b in enumerate(first_source.tolist()):
        shares[t] = min(1.0, predicted[b] / budget) * left
        left -= shares[t]
    return shares


def _predicted_ess(programs, points: Points, found: Bounds, b: int, start: int,
                   n_batch: int) -> float:
    """What a batch from bound ``b`` is predicted to add to the ESS, from the
    every-point estimate of the first ``start`` points."""
    _, batch_ess = _programs()
    draws = np.bincount(points.source[:start], minlength=len(found))
    before = estimate_rows(programs, points, found, draws, end=start)
    n_pad = before.log_weights.shape[0]
    log_ratio = points.loglike[:n_pad] - float(before.logZ)
    log_ratio[start:] = -np.inf
    return float(batch_ess(jnp.asarray(log_ratio), before.log_weights,
                           jnp.asarray(points.member[:n_pad, b]), found.log_volume[b],
                           n_batch))


def estimate(programs, points: Points, found: Bounds, shares: np.ndarray, sampled,
             sampling_start: int, n_batch: int):
    """The estimate over every point: the exploration's batches with ``shares``, the
    sampling phase's points (``sampled``: its draws per bound) for the rest."""
    estimate_program, _ = _programs()
    n_pad, k_pad = pad_to_compiled_sizes(points, found)
    rows = np.arange(n_pad)
    log_share = np.full(n_pad, -np.inf)
    with np.errstate(divide="ignore"):
        log_share[: shares.size * n_batch] = np.log(np.repeat(shares, n_batch))
        log_n_sampled = np.log(per_bound(sampled, k_pad))
    return estimate_program(
        points.loglike[:n_pad], points.member[:n_pad, :k_pad], points.source[:n_pad],
        rows // n_batch, log_share, (rows >= sampling_start) & (rows < points.n),
        log_n_sampled, per_bound(found.log_volume, k_pad),
        per_bound(found.log_volume_var, k_pad), n_batch)
