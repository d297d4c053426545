"""Gaussian likelihoods in a uniform prior box, with analytic evidence and moments.

The likelihood is a normalised density, so Z is the prior-box average of it:
``Z = P(box) / V`` with ``V = (2 a)^d`` and ``P(box)`` the Gaussian mass inside the box.
For the diagonal problem ``P(box)`` is computed exactly from the normal CDF; the means
and widths of the others are chosen to lie more than 8 sigma inside the box, where the
mass outside (< 1e-15) is far below any sampling error, and ``log P(box) = 0`` is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from scipy.integrate import quad
from scipy.special import erf, gammaln
from scipy.stats import norm

from slicens.priors import Uniform

__all__ = ["GaussianProblem", "gaussian", "correlated_gaussian", "mixture", "weighted_mixture",
           "shells", "eggbox", "rosenbrock"]


@dataclass(frozen=True, eq=False)
class GaussianProblem:
    """A likelihood with its prior and the analytic answers."""

    name: str
    loglike: Callable
    prior: list
    logZ: float
    mean: np.ndarray
    cov: np.ndarray

    @property
    def dim(self) -> int:
        return len(self.prior)


def _box(dim: int, half_width: float) -> list:
    return [Uniform(-half_width, half_width, name=f"x{i}") for i in range(dim)]


def _mvn_loglike(mean: np.ndarray, cov: np.ndarray) -> Callable:
    precision = jnp.asarray(np.linalg.inv(cov))
    mean_j = jnp.asarray(mean)
    _, logdet = np.linalg.slogdet(cov)
    norm_const = -0.5 * (len(mean) * np.log(2 * np.pi) + logdet)

    def loglike(x):
        r = x - mean_j.astype(x.dtype)
        return norm_const - 0.5 * jnp.sum(r * (precision.astype(x.dtype) @ r))

    return loglike


def gaussian(dim: int, sigma: float = 0.3, half_width: float = 3.0) -> GaussianProblem:
    """Diagonal Gaussian, means spread over [-0.5, 0.5], in the box [-a, a]^d."""
    mean = np.linspace(-0.5, 0.5, dim) if dim > 1 else np.array([0.2])
    cov = np.eye(dim) * sigma**2
    log_mass = np.sum(
        np.log(norm.cdf((half_width - mean) / sigma) - norm.cdf((-half_width - mean) / sigma))
    )
    logZ = float(log_mass - dim * np.log(2 * half_width))
    return GaussianProblem(
        f"gaussian_{dim}d", _mvn_loglike(mean, cov), _box(dim, half_width), logZ, mean, cov
    )


def correlated_gaussian(
    dim: int = 10, rho: float = 0.9, half_width: float = 5.0
) -> GaussianProblem:
    """Gaussian with correlations ``rho^|i-j|`` and widths from 0.1 to 0.4."""
    scales = np.linspace(0.1, 0.4, dim)
    corr = rho ** np.abs(np.subtract.outer(np.arange(dim), np.arange(dim)))
    cov = corr * np.outer(scales, scales)
    mean = np.linspace(-1.0, 1.0, dim)
    logZ = float(-dim * np.log(2 * half_width))
    return GaussianProblem(
        f"correlated_gaussian_{dim}d",
        _mvn_loglike(mean, cov),
        _box(dim, half_width),
        logZ,
        mean,
        cov,
    )


def mixture(dim: int = 2, separation: float = 2.0, sigma: float = 0.2,
            half_width: float = 4.0) -> GaussianProblem:
    """Equal mixture of two Gaussians at ``+/- separation / 2`` along the diagonal."""
    centre = np.full(dim, separation / (2 * np.sqrt(dim)))
    means = np.stack([centre, -centre])
    cov1 = np.eye(dim) * sigma**2
    components = [_mvn_loglike(m, cov1) for m in means]

    def loglike(x):
        return logsumexp(jnp.stack([c(x) for c in components])) - jnp.log(2.0)

    cov = cov1 + np.outer(centre, centre)  # mixture covariance: within + between
    logZ = float(-dim * np.log(2 * half_width))
    return GaussianProblem(
        f"mixture_{dim}d", loglike, _box(dim, half_width), logZ, np.zeros(dim), cov
    )


def weighted_mixture(dim: int = 5, weights=(0.4, 0.3, 0.2, 0.1), sigma: float = 0.1,
                     half_width: float = 1.0) -> GaussianProblem:
    """Well-separated Gaussians with unequal weights, on the diagonal of ``[-a, a]^d``.

    Mode ``j`` sits at ``(-0.5 + j / (m - 1)) * a`` in every coordinate (neighbours
    ``a sqrt(d) / (m - 1)`` apart, far more than ``sigma``) with weight ``weights[j]``.
    """
    weights = np.asarray(weights, float) / np.sum(weights)
    m = len(weights)
    means = np.outer(-0.5 + np.arange(m) / max(m - 1, 1), np.full(dim, half_width))
    cov1 = np.eye(dim) * sigma**2
    components = [_mvn_loglike(mu, cov1) for mu in means]
    log_w = jnp.asarray(np.log(weights))

    def loglike(x):
        return logsumexp(jnp.stack([c(x) for c in components]) + log_w.astype(x.dtype))

    mean = weights @ means
    centred = means - mean
    cov = cov1 + (weights[:, None] * centred).T @ centred
    logZ = float(-dim * np.log(2 * half_width))
    return GaussianProblem(f"weighted_mixture_{dim}d", loglike, _box(dim, half_width), logZ,
                           mean, cov)


def shells(dim: int = 2, radius: float = 2.0, width: float = 0.1, offset: float = 3.5,
           half_width: float = 6.0) -> GaussianProblem:
    """Two Gaussian shells (Feroz & Hobson 2008): ``|x - c| ~ N(radius, width^2)`` around
    ``c = (+/- offset, 0, ...)``, in ``[-a, a]^d``; curved, bimodal posterior.

    logZ by radial quadrature (the shells do not overlap and lie inside the box); the
    posterior mean is 0 by symmetry and the covariance is diagonal: along the first
    axis ``offset^2 + E[r^2] / d``, along the others ``E[r^2] / d``.
    """
    centres = np.zeros((2, dim))
    centres[:, 0] = (offset, -offset)
    log_norm = -0.5 * np.log(2 * np.pi * width**2)
    centres_j = jnp.asarray(centres)

    def loglike(x):
        r = jnp.sqrt(jnp.sum((x[None, :] - centres_j.astype(x.dtype)) ** 2, axis=1))
        return logsumexp(log_norm - 0.5 * ((r - radius) / width) ** 2)

    log_area = np.log(2.0) + 0.5 * dim * np.log(np.pi) - gammaln(0.5 * dim)  # unit sphere
    lo, hi = max(0.0, radius - 12 * width), radius + 12 * width

    def shell(power):
        return quad(lambda r: np.exp(log_norm - 0.5 * ((r - radius) / width) ** 2)
                    * r ** (dim - 1 + power), lo, hi, epsabs=0, epsrel=1e-12)[0]

    one = shell(0)
    logZ = float(np.log(2 * one) + log_area - dim * np.log(2 * half_width))
    mean_r2 = shell(2) / one
    cov = np.eye(dim) * mean_r2 / dim
    cov[0, 0] += offset**2
    return GaussianProblem(f"shells_{dim}d", loglike, _box(dim, half_width), logZ,
                           np.zeros(dim), cov)


def eggbox(periods: int = 3, grid: int = 2048) -> GaussianProblem:
    """The egg-box likelihood ``log L = (2 + cos(x / 2) cos(y / 2))^5`` (Feroz et al. 2009)
    on ``[-pi, (4 periods - 1) pi]^2``: ``2 periods^2`` equal peaks (18 for 3 periods),
    each a distance ``pi`` or more from the box's edge (the usual ``[0, 10 pi]^2`` cuts
    peaks in halves and quarters, so their masses differ).

    logZ by the trapezoid rule on one period of the periodic integrand (spectrally
    accurate: ``grid`` points a side resolve the peaks' width ~0.1 many times over).
    ``mean`` holds the peaks' centres, shape (2 periods^2, 2) (not a posterior mean);
    ``cov`` is unused (zeros).
    """
    low, high = -np.pi, (4 * periods - 1) * np.pi
    u = np.arange(grid) * (4 * np.pi / grid)
    log_l = (2.0 + np.cos(u / 2)[:, None] * np.cos(u / 2)[None, :]) ** 5
    top = log_l.max()
    log_period = top + np.log(np.mean(np.exp(log_l - top)))  # mean of L over one period
    logZ = float(log_period)  # the box holds whole periods: the prior mean of L is this
    peaks = np.array([(2 * np.pi * a, 2 * np.pi * b) for a in range(2 * periods)
                      for b in range(2 * periods) if (a + b) % 2 == 0])

    def loglike(x):
        return (2.0 + jnp.cos(x[0] / 2) * jnp.cos(x[1] / 2)) ** 5

    prior = [Uniform(low, high, name=f"x{i}") for i in range(2)]
    return GaussianProblem("eggbox", loglike, prior, logZ, peaks, np.zeros((2, 2)))


def rosenbrock(half_width: float = 5.0, curvature: float = 100.0) -> GaussianProblem:
    """The 2-d Rosenbrock likelihood ``log L = -(1 - x)^2 - b (y - x^2)^2`` on
    ``[-a, a]^2``: a thin curved ridge along ``y = x^2`` (width ``1 / sqrt(2 b)``), the
    banana that ellipsoids fit badly.

    For each ``x`` the integral over ``y`` is a Gaussian's mass inside ``[-a, a]``
    (closed form; the box cuts the ridge where ``x^2`` nears ``a``), so logZ, the mean and
    the covariance come from one-dimensional quadratures over ``x`` (``y``'s moments from
    the truncated normal's).
    """
    a, b = half_width, curvature
    sd_y = 1.0 / np.sqrt(2.0 * b)

    def weight(x):  # integral over y of L(x, y)
        return (np.exp(-((1.0 - x) ** 2)) * np.sqrt(np.pi / b) / 2.0
                * (erf(np.sqrt(b) * (a - x * x)) - erf(np.sqrt(b) * (-a - x * x))))

    def y_moments(x):  # the truncated normal's mean and variance, written out (fast)
        low, high = (-a - x * x) / sd_y, (a - x * x) / sd_y
        mass = norm.cdf(high) - norm.cdf(low)
        if mass < 1e-300:  # the ridge lies outside the box: weight(x) is 0 there
            return a, 0.0
        shift = (norm.pdf(low) - norm.pdf(high)) / mass
        spread = (low * norm.pdf(low) - high * norm.pdf(high)) / mass
        return x * x + sd_y * shift, sd_y**2 * (1.0 + spread - shift**2)

    def integral(f):
        return quad(lambda x: weight(x) * f(x), -a, a, epsabs=0, epsrel=1e-11, limit=400)[0]

    mass = integral(lambda x: 1.0)
    mean_x = integral(lambda x: x) / mass
    mean_y = integral(lambda x: y_moments(x)[0]) / mass
    var_x = integral(lambda x: (x - mean_x) ** 2) / mass
    var_y = integral(lambda x: y_moments(x)[1] + (y_moments(x)[0] - mean_y) ** 2) / mass
    cov_xy = integral(lambda x: (x - mean_x) * (y_moments(x)[0] - mean_y)) / mass
    logZ = float(np.log(mass) - 2.0 * np.log(2.0 * a))

    def loglike(x):
        return -((1.0 - x[0]) ** 2) - b * (x[1] - x[0] ** 2) ** 2

    cov = np.array([[var_x, cov_xy], [cov_xy, var_y]])
    return GaussianProblem("rosenbrock_2d", loglike, _box(2, a), logZ,
                           np.array([mean_x, mean_y]), cov)
