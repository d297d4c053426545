"""Importance weights of points drawn from a sequence of bounds: the deterministic
mixture estimator (Owen & Zhou 2000; Feroz et al. 2019's importance nested sampling).

Points are drawn uniformly from bounds ``B_0 .. B_{K-1}`` in the prior's unit cube
(``B_0`` the cube itself), ``n_k`` from bound ``k`` of volume ``V_k``. Every point, from
whichever bound, is weighed against the mixture of all of them,

    D(x) = sum_k n_k 1[x in B_k] / V_k,        w(x) = L(x) / D(x),

and ``Z = sum_i w(x_i)`` is unbiased for the evidence whatever the bounds are, as long
as their union covers the posterior (``B_0`` does): a bound that misses part of the
posterior costs variance there, not bias. Its variance has two parts, both estimated
here: the draws' (``sum_k n_k Var_k(w)``, from the spread of the weights of each
bound's own points) and the counted volumes' (``log V_k`` has the binomial variance of
its count, :func:`slicens.core.bounds.count_volume`; ``d log Z / d log V_k`` is the
posterior mean of bound ``k``'s share of ``D``).

Pure JAX (shapes ``N`` points x ``K`` bounds); the host calls it between batches and at
the end.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Estimate", "log_mixture_density", "estimate", "draw_variance",
           "volume_sensitivity", "log_need", "live_share"]


class Estimate(NamedTuple):
    """The evidence and weights of a set of points drawn from bounds.

    logZ, logZ_err: shape=(). The estimate and its standard deviation.
    log_weights: shape=(N,). Normalised log weights (``exp`` sums to 1).
    ess: shape=(). Kish effective sample size of the weights.
    draw_var, volume_var: shape=(). The two parts of ``Var(log Z)``.
    """

    logZ: jax.Array
    logZ_err: jax.Array
    log_weights: jax.Array
    ess: jax.Array
    draw_var: jax.Array
    volume_var: jax.Array


def log_mixture_density(member, log_n, log_volume):
    """``log D(x_i) = log sum_k n_k 1[x_i in B_k] / V_k`` per point, shape (N,).

    member: (N, K) bool, whether point i lies in bound k. log_n, log_volume: (K,)."""
    per_bound = jnp.where(member, (log_n - log_volume)[None, :], -jnp.inf)
    return jax.nn.logsumexp(per_bound, axis=1)


def estimate(loglike, member, source, log_n, log_volume, log_volume_var) -> Estimate:
    """logZ, its error and the normalised weights of ``N`` points.

    loglike: (N,), -inf outside every contour. member: (N, K) bool. source: (N,) int,
    the bound each point was drawn from. log_n, log_volume, log_volume_var: (K,), log
    points drawn from each bound, its log counted volume and that volume's variance.
    """
    n_bounds = log_n.shape[0]
    log_d = log_mixture_density(member, log_n, log_volume)
    log_w = jnp.where(jnp.isfinite(loglike), loglike - log_d, -jnp.inf)
    log_z = jax.nn.logsumexp(log_w)
    safe = jnp.where(jnp.isfinite(log_z), log_z, 0.0)
    w = jnp.exp(log_w - safe)  # sums to 1
    # The draws: sum_k n_k Var_k(w), from each bound's own points (relative to Z^2).
    draw_var = draw_variance(w, source, jnp.exp(log_n), n_bounds)
    # The volumes: d log Z / d log V_k = sum_i w_i r_ik, r_ik bound k's share of D(x_i).
    sensitivity = volume_sensitivity(w, member, log_n, log_volume, log_d)
    volume_var = jnp.sum(sensitivity**2 * log_volume_var)
    ess = 1.0 / jnp.sum(w**2)
    return Estimate(log_z, jnp.sqrt(draw_var + volume_var), log_w - safe, ess, draw_var,
                    volume_var)


def draw_variance(w, group, count, n_groups: int):
    """``sum_g n_g Var_g(w)``: the variance of the groups' sums of ``n_g`` iid terms
    ``w``, from each group's own spread (``count``: ``n_g`` per group; 0 or 1 adds
    nothing)."""
    s1 = jax.ops.segment_sum(w, group, n_groups)
    s2 = jax.ops.segment_sum(w**2, group, n_groups)
    n = count[:n_groups]
    within = jnp.where(n > 1, (s2 - s1**2 / jnp.maximum(n, 1.0)) * n / jnp.maximum(n - 1, 1.0),
                       0.0)
    return jnp.sum(jnp.maximum(within, 0.0))


def volume_sensitivity(w, member, log_n, log_volume, log_d):
    """``d log Z / d log V_k = sum_i w_i r_ik`` per bound, ``r_ik`` bound k's share of
    the mixture density ``D(x_i)`` (``log_d``; points in no bound drawn from, ``log_d =
    -inf``, have no weight and no share)."""
    held = member & jnp.isfinite(log_d)[:, None]
    share = jnp.where(held, jnp.exp((log_n - log_volume)[None, :] - log_d[:, None]), 0.0)
    return jnp.sum(w[:, None] * share, axis=0)


def log_need(loglike, member, log_n_target, log_n_drawn, log_volume):
    """Log of each bound's need for more draws, shape (K,): how much ``n`` more draws
    from bound ``k`` would lower the variance of an estimate whose draws are
    ``log_n_target`` (:func:`estimate` with those counts).

    That variance is ``int L^2 / D_t - Z^2`` per draw; ``d / d n_k`` of it is ``-int_{B_k}
    L^2 / (D_t^2 V_k)``, estimated from the points (drawn from the mixture of
    ``log_n_drawn``, density ``D_d``) as ``sum_{i in B_k} (L_i / D_t(x_i))^2 / (V_k
    D_d(x_i))``. With disjoint shells and ``D_t = D_d`` it is ``(Z_k / n_k)^2``, the
    square of Nautilus's rule for the shell to sample next (``Z_k / sqrt(n_k n_eff,k)``,
    ``n_eff,k = n_k``). Normalised by the largest likelihood (only its order matters)."""
    log_target = log_mixture_density(member, log_n_target, log_volume)
    log_drawn = log_mixture_density(member, log_n_drawn, log_volume)
    top = jnp.max(jnp.where(jnp.isfinite(loglike), loglike, -jnp.inf))
    ok = jnp.isfinite(loglike) & jnp.isfinite(log_target) & jnp.isfinite(log_drawn)
    term = jnp.where(ok, 2.0 * (loglike - top - log_target) - log_drawn, -jnp.inf)
    need = jax.nn.logsumexp(jnp.where(member, term[:, None], -jnp.inf), axis=0) - log_volume
    return jnp.where(log_n_drawn > -jnp.inf, need, -jnp.inf)


def live_share(loglike, log_weights, n_live: int):
    """The share of the evidence held by the ``n_live`` points of highest likelihood
    (Nautilus's ``f_live``): while it is large, the region they bound still holds
    evidence the bounds have not resolved."""
    top = jax.lax.top_k(loglike, n_live)[1]
    return jnp.exp(jax.nn.logsumexp(log_weights[top]) - jax.nn.logsumexp(log_weights))
