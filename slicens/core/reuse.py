"""An unbiased estimate that keeps the exploration's points: each exploration batch
estimates the evidence inside the bound it was drawn from, the sampling phase the rest
(docs/design.md, "Reusing the exploration").

Exploration batch ``t`` holds ``n`` points drawn uniformly from bound ``B_t`` (fitted
and counted before the batch), so ``A_t = V_t / n x sum_{i in t} L_i`` is unbiased for
``Z_in(B_t) = int_{B_t} L dpi``. Give batch ``t`` a weight ``lambda_t`` known before it
is drawn (from the points before it only) with ``sum_t lambda_t <= 1``, and let
``Lambda(x) = sum_t lambda_t 1[x in B_t]`` be the share of the integrand at ``x`` that
the exploration covers. The sampling phase's importance weights ``w_j``
(:mod:`slicens.core.importance`), drawn from bounds fixed after the exploration, are
unbiased for the integral of ``L f`` for any ``f`` fixed before them, here ``1 -
Lambda``. So

    Z = sum_t lambda_t A_t + sum_j (1 - Lambda(x_j)) w_j

is unbiased: the first sum is a martingale transform (each ``lambda_t`` predictable),
so the number of batches, which stops on their values, does not bias it; the second is
unbiased given the exploration. Every point keeps a weight: exploration point ``i`` of
batch ``t`` ``lambda_t V_t L_i / n``, sampling point ``j`` ``(1 - Lambda(x_j)) w_j``.

Two traps this avoids (both measured biased, docs/design.md): pooling a bound's batches
as ``V / n_b x sum L`` divides by a count ``n_b`` that stops on the values, and weights
chosen from a batch's own values (inverse variance) or from the bounds fitted after it
depend on those values.

Pure JAX (``N`` points x ``K`` bounds); the host chooses ``lambda_t``
(:func:`slicens.host.bounded_reuse.exploration_shares`) and calls :func:`estimate`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from slicens.core.importance import (
    Estimate,
    draw_variance,
    log_mixture_density,
    volume_sensitivity,
)

__all__ = ["estimate", "batch_ess"]


def estimate(loglike, member, source, batch, log_share, sampled, log_n_sampled,
             log_volume, log_volume_var, n_batch: int) -> Estimate:
    """logZ, its error and every point's normalised weight.

    loglike: (N,), -inf for padding. member: (N, K) bool, whether point i lies in bound
    k. source: (N,) int, the bound point i was drawn from. batch: (N,) int, its batch's
    index (< N). log_share: (N,) log ``lambda_t`` of an exploration point's batch, -inf
    for the sampling phase's points and padding. sampled: (N,) bool, the sampling
    phase's points. log_n_sampled: (K,) log draws of the sampling phase from each bound
    (-inf for none). log_volume, log_volume_var: (K,) each bound's counted log volume
    and its variance. n_batch: points per exploration batch.
    """
    n_points, n_bounds = member.shape
    # Lambda per bound: the shares of the exploration's batches drawn from it (each of a
    # batch's points carries its batch's share); then per point.
    per_bound = jax.ops.segment_sum(jnp.exp(log_share), source, n_bounds) / n_batch
    covered = jnp.clip(member.astype(per_bound.dtype) @ per_bound, 0.0, 1.0)
    log_d = log_mixture_density(member, log_n_sampled, log_volume)
    log_sampled = jnp.where(sampled & jnp.isfinite(loglike) & (covered < 1.0),
                            loglike - log_d + jnp.log1p(-covered), -jnp.inf)
    log_explored = jnp.where(jnp.isfinite(loglike) & jnp.isfinite(log_share),
                             loglike + log_share + log_volume[source] - jnp.log(n_batch),
                             -jnp.inf)
    log_w = jnp.logaddexp(log_sampled, log_explored)  # each point is one or the other
    log_z = jax.nn.logsumexp(log_w)
    safe = jnp.where(jnp.isfinite(log_z), log_z, 0.0)
    w = jnp.exp(log_w - safe)
    w_explored = jnp.exp(log_explored - safe)
    w_sampled = jnp.exp(log_sampled - safe)
    # The draws: each exploration batch's sum, n iid terms; each sampling bound's draws.
    draw_var = (draw_variance(w_explored, batch, jnp.full(n_points, float(n_batch)), n_points)
                + draw_variance(w_sampled, source, jnp.exp(log_n_sampled), n_bounds))
    # The volumes: an exploration batch's sum is proportional to its bound's volume; a
    # sampling weight to the inverse of the mixture density (importance.estimate).
    sensitivity = (jax.ops.segment_sum(w_explored, source, n_bounds)
                   + volume_sensitivity(w_sampled, member, log_n_sampled, log_volume, log_d))
    volume_var = jnp.sum(sensitivity**2 * log_volume_var)
    ess = 1.0 / jnp.sum(w**2)
    return Estimate(log_z, jnp.sqrt(draw_var + volume_var), log_w - safe, ess, draw_var,
                    volume_var)


def batch_ess(log_ratio, log_weights, in_bound, log_volume, n_batch: int):
    """The effective sample size a batch of ``n_batch`` uniform draws from a bound adds,
    predicted from points weighed by ``log_weights`` (normalised to sum to one):
    ``n r^2 / s``, with ``r`` the posterior's share inside the bound and ``s = V
    E_post[L 1_B] / Z`` (the batch's estimate of the evidence inside the bound, over
    the whole evidence, has variance ``(s - r^2) / n``). 0 where no weighed point lies
    inside.

    log_ratio: (N,) ``log L - log Z``. log_weights, in_bound: (N,). log_volume: the
    bound's counted log volume."""
    log_w = jnp.where(in_bound & jnp.isfinite(log_ratio), log_weights, -jnp.inf)
    log_r = jax.nn.logsumexp(log_w)
    log_s = log_volume + jax.nn.logsumexp(log_w + jnp.where(jnp.isfinite(log_w), log_ratio,
                                                            0.0))
    ok = jnp.isfinite(log_r) & jnp.isfinite(log_s)
    return jnp.where(ok, n_batch * jnp.exp(2.0 * log_r - jnp.where(ok, log_s, 0.0)), 0.0)
