"""Modes of the posterior from a finished run: which dead points belong to which mode,
each mode's posterior mass, and the error of that mass.

Host-side (NumPy, plus the JAX clustering of the live points), computed from the dead
points alone (positions, likelihoods, birth contours), so it works on any result,
loaded or fresh, and does not depend on the chunk size.

- **Modes** are the clusters (:func:`slicens.core.clusters.find_clusters`) of the live set at
  one of a few contours, those below which :data:`MASS_BELOW` of the posterior lies: the
  one whose live set has the most clusters (lower contours can join modes, higher ones
  lose dying ones). The live set at a contour, rebuilt from birth and death contours,
  is uniform above it, which is what the clustering is built for. The points inside the
  contour take the mode of their nearest live point; the points below it, from the
  highest likelihood down, that of their nearest point just above them, which lies up
  the slope of their own mode (as in quick-shift clustering), in the clustering's
  locally whitened metric. A mode that dies out below the chosen contour joins a
  neighbour.
- **Masses** are sums of the run's importance weights per mode, the same weights the
  posterior samples carry.
- **Errors** come from bootstrapping the run's threads (Higson et al. 2018,
  arXiv:1804.06406): a thread is the sequence of points that replaced one another in one
  live-point slot, so resampling threads with replacement and recomputing the live counts
  gives runs as the sampler could have made them. Unlike resampled volume shrinkages
  (which keep every point where it died), this moves mass between modes as the
  seed-to-seed allocation of live points does.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp
from scipy.stats import poisson

from slicens.core import clusters, evidence, jumps

__all__ = ["MASS_BELOW", "MIN_MODE_POINTS", "MAX_MODES", "DEPLETION_ALARM", "N_BOOTSTRAP",
           "Modes", "threads", "live_points_per_mode", "mode_labels", "bootstrap_masses",
           "find_modes"]

#: Modes are the clusters of the live set at one of the contours below which these
#: fractions of the posterior mass lie (the one that separates the most modes).
MASS_BELOW = (0.01, 0.03, 0.1, 0.2, 0.3, 0.5)

#: Clusters of fewer live points do not count when choosing the contour (a pair of
#: points can part from a blob by chance; a dying mode can be down to a few points).
MIN_MODE_POINTS = 3

#: The most modes reported; lighter clusters beyond them join their nearest mode.
MAX_MODES = 32

#: A mode is flagged as depleted (:meth:`Modes.depleted`) when it holds fewer live points
#: than half its volume share predicts with a Poisson probability below this. Live points
#: fall in each mode in proportion to its volume in exact nested sampling; a sampler whose
#: chains cannot move between modes lets the counts drift, and a mode that lost its points
#: loses its mass. The factor of 2 allows for the ellipsoids' rough volumes (measured:
#: counts 0.63-1.66 of the volume share on a four-mode mixture, exact and slicens alike).
DEPLETION_ALARM = 1e-3

#: Bootstrap replicas of the threads for each mode's mass error.
N_BOOTSTRAP = 200


class Modes(NamedTuple):
    """Posterior modes of a run, heaviest first.

    label: shape=(n_dead,). Each dead point's mode (0 the heaviest).
    mass: shape=(n_modes,). Posterior mass of each mode (sums to 1).
    mass_err: shape=(n_modes,). Its standard deviation over bootstrapped threads.
    centre: shape=(n_modes, dim). Posterior mean of each mode.
    contour: The log-likelihood contour whose live set defined the modes.
    live_points: shape=(n_modes,). Live points each mode held at that contour.
    volume_share: shape=(n_modes,). Each mode's share of the volume above that contour,
        from the ellipsoids of its live points (overlaps ignored).
    """

    label: np.ndarray
    mass: np.ndarray
    mass_err: np.ndarray
    centre: np.ndarray
    contour: float
    live_points: np.ndarray
    volume_share: np.ndarray

    def depleted(self) -> np.ndarray:
        """Indices of the modes holding implausibly few live points for their volume (see
        :data:`DEPLETION_ALARM`): their mass is then underestimated."""
        expected = self.live_points.sum() * self.volume_share
        return np.flatnonzero(poisson.cdf(self.live_points, expected / 2) < DEPLETION_ALARM)


def threads(loglike, loglike_birth, n_live: int) -> np.ndarray:
    """Each dead point's thread (``0 .. n_live - 1``); points in death order.

    The ``n_live`` lowest birth contours (the prior draws, born at ``-inf``) start the
    threads; every other point continues the thread of one point that died at or below
    its birth contour. A run deletes ``k`` points per iteration and the ``k``
    replacements are born at the highest of their likelihoods, so pairing the ``m``-th
    of those birth contours (ascending) with the ``m``-th death pairs each iteration's
    births with its deaths (any pairing within an iteration is as good).
    """
    birth = np.asarray(loglike_birth)
    by_birth = np.argsort(birth, kind="stable")
    starts, later = by_birth[:n_live], by_birth[n_live:]
    successor = np.full(birth.size, -1)
    successor[: later.size] = later
    thread = np.full(birth.size, -1)
    thread[starts] = np.arange(starts.size)
    for i in range(birth.size):  # a predecessor dies before its successor
        if successor[i] >= 0:
            thread[successor[i]] = thread[i]
    return thread


def live_points_per_mode(loglike, loglike_birth, label, n_modes: int) -> np.ndarray:
    """Live points of each mode at each death (points in death order): shape
    (n_dead, n_modes). A point is alive at a death when it dies at or after it and was
    born below it (a prior draw, born at ``-inf``, always was)."""
    loglike = np.asarray(loglike)
    birth = np.asarray(loglike_birth)
    out = np.empty((loglike.size, n_modes), np.int64)
    for k in range(n_modes):
        mine = label == k
        deaths = np.sort(loglike[mine])
        births = np.sort(birth[mine & (birth > -np.inf)])
        out[:, k] = (deaths.size - np.searchsorted(deaths, loglike, side="left")
                     - (births.size - np.searchsorted(births, loglike, side="left")))
    return out


def _covariance_factor(points):
    cov = np.atleast_2d(np.cov(points, rowvar=False))
    return np.linalg.cholesky(cov + 1e-12 * np.trace(cov) * np.eye(cov.shape[0]))


_find_clusters = jax.jit(clusters.find_clusters, static_argnums=2)


def _live_clusters(positions, loglike, loglike_birth, contour, max_modes):
    """The live set at ``contour`` (indices), its clusters' labels (-1: none) and the
    whitening factor of the set."""
    live = np.flatnonzero((loglike_birth <= contour) & (loglike > contour))
    factor = _covariance_factor(positions[live])
    if live.size <= positions.shape[1] + 1:  # too few points to tell modes apart
        return live, np.zeros(live.size, np.int64), factor
    found = _find_clusters(jnp.asarray(positions[live]), jnp.asarray(factor),
                           min(max_modes, live.size))
    return live, np.array(found.label), factor


def mode_labels(positions, loglike, loglike_birth, log_weights,
                mass_below=MASS_BELOW, max_modes: int = MAX_MODES):
    """Each dead point's cluster (unordered), the contour, its live set's indices and
    each cluster's log volume (up to a common constant).

    The contour is the one of ``mass_below`` (posterior mass below it) whose live set
    has the most clusters of at least :data:`MIN_MODE_POINTS` points (the lowest such):
    lower contours can join modes, higher ones can miss dying ones.
    """
    loglike = np.asarray(loglike)
    birth = np.asarray(loglike_birth)
    below = np.cumsum(np.exp(log_weights - logsumexp(log_weights)))
    best = None
    births = np.unique(birth[birth > -np.inf])
    for q in np.atleast_1d(mass_below):
        # the first iteration's contour (its replacements' birth) with this mass below:
        # the live set there is the survivors and the replacements, n_live points
        at = loglike[min(np.searchsorted(below, q), loglike.size - 1)]
        contour = births[min(np.searchsorted(births, at), births.size - 1)] if births.size \
            else -np.inf
        live, label, factor = _live_clusters(positions, loglike, birth, contour, max_modes)
        sizes = np.bincount(label[label >= 0], minlength=1)
        found = int(np.sum(sizes >= MIN_MODE_POINTS))
        if best is None or found > best[0]:
            best = (found, contour, live, label, factor)
    _, contour, live, label, factor = best
    if np.all(label < 0):
        label = np.zeros_like(label)
    label = np.unique(label, return_inverse=True)[1] - int(np.any(label < 0))
    shapes = _ellipsoids(positions[live][label >= 0], label[label >= 0])
    # unlabelled live points (clusters beyond max_modes) join their nearest cluster
    label[label < 0] = _nearest_cluster(positions[live][label < 0], shapes)
    coordinates = _local_coordinates(positions, positions[live], factor)
    return (_descend(coordinates, np.asarray(loglike), live, label), float(contour), live,
            shapes.log_volume())


_locally_whitened = jax.jit(clusters.locally_whitened)


def _local_coordinates(positions, live, factor):
    """Every point in the metric the clusters of ``live`` were found in
    (:func:`slicens.core.clusters.locally_whitened`, a linear map: recovered by least squares
    from the live points)."""
    white = np.asarray(_locally_whitened(jnp.asarray(live), jnp.asarray(factor)))
    centre = live.mean(axis=0)
    transform = np.linalg.lstsq(live - centre, white, rcond=None)[0]
    return (positions - centre) @ transform


def _descend(coordinates, loglike, live, label):
    """Each point's mode: the live set's points keep their cluster; the points inside its
    contour take their nearest live point's; the points below it, from the highest
    likelihood down, take the mode of their nearest point among the ``len(live)``
    labelled points just above them (a point's nearest slightly better point lies in its
    own mode, up the slope, as in quick-shift clustering), ``len(live) // 10`` at a time."""
    out = np.full(loglike.size, -1)
    out[live] = label
    contour = loglike[live].min()
    inside = np.flatnonzero((out < 0) & (loglike >= contour))
    out[inside] = _nearest_label(coordinates[inside], coordinates[live], label)
    labelled = list(live[np.argsort(-loglike[live], kind="stable")])
    below = np.flatnonzero(out < 0)
    below = below[np.argsort(-loglike[below], kind="stable")]
    memory, batch = live.size, max(1, live.size // 10)
    for start in range(0, below.size, batch):
        block = below[start:start + batch]
        pool = np.asarray(labelled[-memory:])
        out[block] = _nearest_label(coordinates[block], coordinates[pool], out[pool])
        labelled.extend(block)
    return out


def _nearest_label(points, labelled, labels):
    sq = np.sum(labelled**2, axis=1)
    return labels[np.argmin(sq[None, :] - 2.0 * points @ labelled.T, axis=1)]


class _Ellipsoids(NamedTuple):
    """One ellipsoid per cluster of a live set: mean, inverse covariance factor, and the
    squared Mahalanobis radius of its farthest live point."""

    centre: np.ndarray  # (k, dim)
    inverse: np.ndarray  # (k, dim, dim)
    radius2: np.ndarray  # (k,)

    def distance2(self, x):  # (n, k)
        white = np.einsum("kab,nkb->nka", self.inverse, x[:, None, :] - self.centre[None])
        return np.sum(white**2, axis=-1)

    def log_volume(self):  # up to the unit ball's volume, the same for every cluster
        log_det = -np.sum(np.log(np.abs(np.diagonal(self.inverse, axis1=1, axis2=2))), 1)
        return log_det + 0.5 * self.centre.shape[1] * np.log(self.radius2)


def _ellipsoids(live, label) -> _Ellipsoids:
    """The clusters' ellipsoids; each covariance shrunk toward the pooled one
    (:func:`slicens.core.jumps.cluster_shapes`), a cluster of one point given the median
    radius of the others."""
    n_clusters = int(label.max()) + 1
    centre, factor, _ = jumps.cluster_shapes(jnp.asarray(live), jnp.asarray(label),
                                              n_clusters)
    shapes = _Ellipsoids(np.asarray(centre), np.linalg.inv(np.asarray(factor)),
                         np.ones(n_clusters))
    own = shapes.distance2(live)[np.arange(live.shape[0]), label]
    counts = np.bincount(label, minlength=n_clusters)
    radius2 = np.array([own[label == k].max() if counts[k] >= 2 else np.nan
                        for k in range(n_clusters)])
    fill = np.nanmedian(radius2) if np.any(counts >= 2) else 1.0
    return shapes._replace(radius2=np.where(np.isnan(radius2), fill, radius2))


def _nearest_cluster(points, shapes: _Ellipsoids, batch: int = 4096):
    """Each point's cluster: the smallest Mahalanobis distance in units of the cluster's
    radius, as the sampler assigns slice regions."""
    out = np.empty(points.shape[0], np.int64)
    for start in range(0, points.shape[0], batch):
        d2 = shapes.distance2(points[start:start + batch])
        out[start:start + batch] = np.argmin(d2 / shapes.radius2[None, :], axis=1)
    return out


def _log_weights_of(loglike, loglike_birth, multiplicity):
    """Normalised log weights of a run holding each point ``multiplicity`` times."""
    keep = multiplicity > 0
    ll = np.repeat(loglike[keep], multiplicity[keep])
    birth = np.repeat(loglike_birth[keep], multiplicity[keep])
    counts = evidence.live_counts(ll, birth, birth == -np.inf)
    return evidence.weigh(ll, np.maximum(counts, 1))[1], keep


def bootstrap_masses(loglike, loglike_birth, n_live: int, label, n_modes: int, rng,
                     n_bootstrap: int = N_BOOTSTRAP) -> np.ndarray:
    """Each mode's mass in ``n_bootstrap`` runs of threads resampled with replacement:
    shape (n_bootstrap, n_modes)."""
    loglike = np.asarray(loglike, np.float64)
    birth = np.asarray(loglike_birth, np.float64)
    thread = threads(loglike, birth, n_live)
    n_threads = n_live
    masses = np.empty((n_bootstrap, n_modes))
    for b in range(n_bootstrap):
        picks = np.bincount(rng.integers(n_threads, size=n_threads), minlength=n_threads)
        multiplicity = picks[thread]
        log_w, keep = _log_weights_of(loglike, birth, multiplicity)
        lab = np.repeat(label[keep], multiplicity[keep])
        masses[b] = np.bincount(lab, weights=np.exp(log_w), minlength=n_modes)
    return masses


def find_modes(positions, loglike, loglike_birth, log_weights, n_live: int, seed: int = 0,
               n_bootstrap: int = N_BOOTSTRAP) -> Modes:
    """The posterior modes of a run's dead points (in death order; ``n_live`` prior draws
    among them), heaviest first (see the module docstring)."""
    positions = np.asarray(positions, np.float64)
    log_weights = np.asarray(log_weights, np.float64)
    raw, contour, live, log_volume = mode_labels(positions, loglike, loglike_birth,
                                                 log_weights)
    weights = np.exp(log_weights - logsumexp(log_weights))
    order = np.argsort(-np.bincount(raw, weights=weights, minlength=log_volume.size),
                       kind="stable")
    label = np.argsort(order)[raw]
    n_modes = order.size
    mass = np.bincount(label, weights=weights, minlength=n_modes)
    boot = bootstrap_masses(loglike, loglike_birth, n_live, label, n_modes,
                            np.random.default_rng(seed), n_bootstrap)
    centre = np.stack([weights[label == m] @ positions[label == m] / max(mass[m], 1e-300)
                       for m in range(n_modes)])
    log_volume = log_volume[order]
    return Modes(label, mass, boot.std(axis=0, ddof=1), centre, contour,
                 np.bincount(label[live], minlength=n_modes),
                 np.exp(log_volume - logsumexp(log_volume)))
