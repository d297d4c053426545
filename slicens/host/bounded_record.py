"""What a run that draws from bounds holds (``method="bounds"``,
:mod:`slicens.host.bounded`): every evaluated point and the bounds, how a new bound is
made from the points (fitted, refined by networks, counted), which bound the sampling
phase draws from next, and the importance estimate over them.

``programs`` below is the run's :class:`slicens.host.bounded._Programs` (its compiled
functions).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from slicens.core import bounds, network
from slicens.host.platform import jit

__all__ = ["Points", "Bounds", "Progress", "TRAIN_POINTS", "MIN_KEPT_SHARE", "new_bound",
           "estimate", "neediest", "membership", "learn_program", "kept_share",
           "pad_to_compiled_sizes", "per_bound"]

class Points:
    """Every evaluated point (unit cube), its log-likelihood, source bound and which
    bounds hold it; arrays grown by doubling."""

    def __init__(self, dim: int):
        self.n = 0
        self.u = np.zeros((0, dim))
        self.loglike = np.zeros(0)
        self.source = np.zeros(0, np.int32)
        self.member = np.zeros((0, 0), bool)

    def _grow(self, n_points: int, n_bounds: int):
        rows = max(self.u.shape[0], 1024)
        while rows < n_points:
            rows *= 2
        cols = max(self.member.shape[1], 8)
        while cols < n_bounds:
            cols *= 2
        if rows > self.u.shape[0] or cols > self.member.shape[1]:
            u = np.zeros((rows, self.u.shape[1]))
            u[: self.n] = self.u[: self.n]
            loglike = np.full(rows, -np.inf)
            loglike[: self.n] = self.loglike[: self.n]
            source = np.zeros(rows, np.int32)
            source[: self.n] = self.source[: self.n]
            member = np.zeros((rows, cols), bool)
            member[: self.n, : self.member.shape[1]] = self.member[: self.n]
            self.u, self.loglike, self.source, self.member = u, loglike, source, member

    def add(self, u, loglike, source: int, member_row):
        n_new = u.shape[0]
        self._grow(self.n + n_new, member_row.shape[1])
        end = self.n + n_new
        self.u[self.n:end] = u
        self.loglike[self.n:end] = loglike
        self.source[self.n:end] = source
        self.member[self.n:end, : member_row.shape[1]] = member_row
        self.n = end

    def add_bound_column(self, k: int, column):
        self._grow(self.n, k + 1)
        self.member[: self.n, k] = column


class Bounds:
    """The run's bounds: unions (None for the cube), counted log volumes, variances,
    draws made from each."""

    def __init__(self):
        self.unions: list = [None]
        self.refinements: list = [None]
        self.log_volume = [0.0]
        self.log_volume_var = [0.0]
        self.draws = [0]
        self.threshold = [-np.inf]
        self.refined = [False]

    def __len__(self):
        return len(self.unions)

    def add(self, bound: bounds.Bound, threshold: float):
        self.threshold.append(threshold)
        self.unions.append(bound.union)
        self.refinements.append(bound.network)
        self.refined.append(bound.network is not None)
        self.log_volume.append(float(bound.log_volume))
        self.log_volume_var.append(float(bound.log_volume_var))
        self.draws.append(0)


@dataclasses.dataclass
class Progress:
    """Where a run's loop stands between batches (with the points and bounds, what a
    checkpoint stores).

    phase: ``"exploration"`` or ``"sampling"``. phase_evals: evaluations in each.
    threshold: the newest fitted bound's threshold; above: new points above it since;
    since_bound: evaluations since a bound was last fitted. batch: batches drawn (keys
    the next one). next_bound: the bound the sampling phase draws from next.
    sampling_start: the first point of the sampling phase; sampled: its draws per bound.
    """

    phase: str = "exploration"
    phase_evals: dict = dataclasses.field(
        default_factory=lambda: {"exploration": 0, "sampling": 0})
    threshold: float = -math.inf
    above: int = 0
    since_bound: int = 0
    batch: int = 0
    next_bound: int = 0
    sampling_start: int = 0
    sampled: list = dataclasses.field(default_factory=list)


def estimate(programs, points: Points, found: Bounds, draws,
              start: int = 0, end: int | None = None):
    """The importance estimate over the points of rows ``start`` to ``end`` (default:
    every row from ``start`` on), with ``draws`` made from each bound."""
    n_pad, k_pad = pad_to_compiled_sizes(points, found)
    with np.errstate(divide="ignore"):
        log_n = np.log(per_bound(draws, k_pad))
    loglike = points.loglike[:n_pad].copy()
    loglike[:start] = -np.inf
    if end is not None:
        loglike[end:] = -np.inf
    return programs.estimate(loglike, points.member[:n_pad, :k_pad], points.source[:n_pad],
                             log_n, per_bound(found.log_volume, k_pad),
                             per_bound(found.log_volume_var, k_pad))


def pad_to_compiled_sizes(points: Points, found: Bounds) -> tuple[int, int]:
    """Grow the record's arrays to a few compiled sizes, not one per batch: rows to a
    power of two of at least 1024, bounds to one of at least 8. Returns both sizes."""
    n_pad = _padded(points.n, 1024)
    k_pad = _padded(len(found), 8)
    points._grow(n_pad, k_pad)
    return n_pad, k_pad


def per_bound(values, k_pad: int):
    """A per-bound list padded with zeros to ``k_pad`` bounds."""
    values = np.asarray(values, float)
    return np.concatenate([values, np.zeros(k_pad - values.size)])


def _padded(n: int, least: int) -> int:
    return max(least, 1 << max(0, math.ceil(math.log2(max(n, 1)))))


def _in_blocks(program, u, dtype):
    """``program(rows)`` for each row of ``u``, in blocks of at most ``BLOCK`` rows padded
    to a power of two (a few compiled shapes serve every count, and a batch of
    ``n_batch`` points is not padded to ``BLOCK``)."""
    out = np.zeros(u.shape[0], dtype)
    size = min(bounds.BLOCK, _padded(u.shape[0], 1))
    for begin in range(0, u.shape[0], size):
        block = u[begin: begin + size]
        pad = np.zeros((size, u.shape[1]))
        pad[: block.shape[0]] = block
        out[begin: begin + block.shape[0]] = np.asarray(program(pad))[: block.shape[0]]
    return out


def membership(programs, union, u, refinement=None):
    """Whether each row of ``u`` lies in the bound of ``union`` (and ``refinement``)."""
    return _in_blocks(lambda rows: programs.contains(union, rows, refinement), u, bool)


class Fitted(NamedTuple):
    """What became of a fitted bound: its first count's log volume, whether networks
    refine it, whether it was kept (smaller than the newest)."""

    log_volume: float
    refined: bool
    kept: bool


def new_bound(programs, points: Points, found: Bounds, key,
              network_key) -> tuple[float, Fitted]:
    """Fit a bound to the ``n_live`` best points (refined by networks trained on every
    point inside it, where the run refines); keep it if it is smaller than the newest.
    Returns the threshold new points are counted above (the ``n_live``-th best
    likelihood) and the fitted bound's :class:`Fitted` (its first count; whether kept)."""
    union, refinement, threshold = fit_bound(programs, points, found, network_key)
    # Whether to keep the bound (and its networks) is decided on a first, smaller count;
    # the volume the estimate uses is counted anew, independently: a count that decided
    # the keep is biased low (a bound is kept where it came out below the newest's).
    trial = programs.precount(key, union, refinement)
    if refinement is not None and kept_share(float(trial.log_volume_var),
                                             programs.precount_tries) < MIN_KEPT_SHARE:
        # the networks keep too few of the union's tries to draw from or count: the
        # union alone (recorded in found.refined)
        refinement = None
        trial = programs.precount(key, union, None)
    fitted = Fitted(float(trial.log_volume), refinement is not None,
                    float(trial.log_volume) < found.log_volume[-1])
    if fitted.kept:
        bound = programs.count(jax.random.fold_in(key, 1), union, refinement)
        found.add(bound, threshold)
        column = membership(programs, bound.union, points.u[: points.n], bound.network)
        points.add_bound_column(len(found) - 1, column)
    return threshold, fitted


def fit_bound(programs, points: Points, found: Bounds, network_key):
    """The next bound's union of the ``n_live`` best points and its networks (None where
    the run does not refine, or no ellipsoid gets networks), before any count decides
    whether it is kept; and its threshold, the ``n_live``-th best likelihood."""
    loglike = points.loglike[: points.n]
    best = np.argsort(loglike, kind="stable")[-programs.n_live:]
    threshold = float(loglike[best[0]])
    # Only the split unions use the volume the best points stand for.
    target = _represented_log_volume(points, found, best) if programs.split_bounds else 0.0
    best_u = jnp.asarray(points.u[best])
    union = programs.union(best_u, target)
    refinement = None
    if programs.refine:
        # the union of modes is fitted (and compiled) only where an ellipsoid needs it
        modes = (lambda: programs.modes(best_u)) if programs.split_bounds else None
        refinement, union = _learn(programs, points, union, threshold, network_key, modes)
    return union, refinement, threshold


#: A refined bound must keep at least this share of its union's tries (else the union
#: alone is the bound): below it a batch takes over ``n_batch / share`` tries and the
#: counted log volume's error exceeds ``1 / sqrt(share x tries)`` = 0.06.
MIN_KEPT_SHARE = 1e-3
#: Points each ellipsoid's (or mode's) networks train on at most (its points above the
#: threshold, and as many of those below as fit, chosen at random), or ``4 n_live``.
TRAIN_POINTS = 4096
#: Points above and below the threshold an ellipsoid (or a mode) needs for networks of
#: its own; an ellipsoid with fewer takes its mode's, and where its mode has fewer too
#: it keeps every point it holds (as an unrefined union).
MIN_TRAIN = 20
#: Every ellipsoid of a split union takes the networks of its mode (Nautilus's neural
#: bounds: one ensemble per mode), not only those with fewer than ``MIN_TRAIN`` points.
#: Off: with Nautilus's network size and mini-batch training it drew 64% of a middle lens
#: bound's draws above the threshold against 39%, and two of three lens runs took a third
#: fewer evaluations, but the third's networks cut a region far above their contour and
#: its sampling phase took 94,000 draws; the 5-d mixture took 16-46% more
#: (BENCHMARKS.md, "Bounded draws, seventh part").
NETWORKS_PER_MODE = False


def _learn(programs, points: Points, union, threshold: float, key, modes=None):
    """Networks per ellipsoid of ``union`` (:func:`slicens.core.network.stack`) and the
    union to refine. Each ellipsoid's ensemble trains on the run's points inside the
    union whose nearest ellipsoid it is (at most ``max(TRAIN_POINTS, 4 n_live)`` of
    them, padded to a power of two), whitened by its ellipsoid's shape. An ellipsoid
    with too few points above or below the threshold (``MIN_TRAIN``) takes the networks
    of its mode instead (``modes()``: the union of one ellipsoid per mode; None where
    the run does not split its unions, whose ellipsoids are its modes), trained alike
    on the points whose nearest mode it is, as Nautilus's neural bounds (one per mode,
    the union it samples split further). Without them most ellipsoids of the 2-d
    shells' later split bounds (12-23 of 24-31) stayed unrefined; with networks of their
    own on as few as 5 points a side the 5-d mixture came out low on 8 of 8 seeds
    (BENCHMARKS.md).

    An ellipsoid left without networks (its mode too has too few points) keeps all of
    its volume, so it shrinks first to the one through its own points above the
    threshold (enlarged as the union's; radius 0 where it holds none): on the tiny lens
    an ellipsoid around 4 of the 500 best points held 95% of a refined bound's volume
    and none of its draws above the threshold, and the exploration stalled. ``(None,
    union)`` where no ellipsoid gets networks."""
    u = points.u[: points.n]
    inside = np.flatnonzero(membership(programs, union, u))
    slot = _nearest(programs, union, u[inside])
    radius = np.asarray(union.radius)
    if NETWORKS_PER_MODE and modes is not None:  # every ellipsoid takes its mode's
        trained = [None] * radius.shape[0]
    else:
        trained = _trained_per_slot(programs, points, inside, slot, union, threshold, key)
    lacking = [s for s in range(radius.shape[0]) if radius[s] > 0 and trained[s] is None]
    if lacking and modes is not None:
        modes = modes()
        mode_of_slot = np.asarray(programs.nearest(modes, union.centre))
        per_mode = _trained_per_slot(
            programs, points, inside, _nearest(programs, modes, u[inside]), modes,
            threshold, jax.random.fold_in(key, radius.shape[0]),
            wanted={int(mode_of_slot[s]) for s in lacking})
        for s in lacking:
            trained[s] = per_mode[int(mode_of_slot[s])]
    if all(t is None for t in trained):
        return None, union
    shrunk = radius.copy()
    for s in range(radius.shape[0]):
        if trained[s] is None:
            rows = inside[slot == s]
            above = rows[points.loglike[rows] >= threshold]
            shrunk[s] = _own_radius(union, s, u[above], programs.enlargement)
    return network.stack(trained), union._replace(radius=jnp.asarray(shrunk, radius.dtype))


def _trained_per_slot(programs, points: Points, inside, slot, shapes, threshold: float,
                      key, wanted=None) -> list:
    """For each slot of the union ``shapes`` (``slot``: the nearest slot of each of the
    points ``inside``), the ensemble trained on its points and whitened by its shape, or
    None where its radius is 0, it holds fewer than ``MIN_TRAIN`` points above or below
    the threshold, or it is not ``wanted`` (where given)."""
    radius = np.asarray(shapes.radius)
    trained = []
    for s in range(radius.shape[0]):
        rows = inside[slot == s]
        above = points.loglike[rows] >= threshold
        if (radius[s] <= 0 or (wanted is not None and s not in wanted)
                or min(above.sum(), (~above).sum()) < MIN_TRAIN):
            trained.append(None)
            continue
        rows = _capped(rows, above, max(TRAIN_POINTS, 4 * programs.n_live),
                       jax.random.fold_in(key, s))
        n_pad = _padded(rows.size, 1024)
        train = np.zeros((n_pad, points.u.shape[1]))
        train[: rows.size] = points.u[rows]
        loglike = np.full(n_pad, -np.inf)
        loglike[: rows.size] = points.loglike[rows]
        trained.append(programs.learn(
            jax.random.fold_in(key, s), jnp.asarray(train), jnp.asarray(loglike),
            jnp.asarray(np.arange(n_pad) < rows.size), threshold, shapes.centre[s],
            shapes.factor[s], steps=_steps()))
    return trained


def _own_radius(union, s: int, u, enlargement: float) -> float:
    """The radius of ellipsoid ``s`` of ``union`` (its shape kept) through the farthest
    of ``u`` (at most the ellipsoid's own), times ``enlargement ** (1 / dim)``; 0 for no
    points."""
    if u.shape[0] == 0:
        return 0.0
    whitened = (u - np.asarray(union.centre[s])) @ np.asarray(union.inverse[s]).T
    farthest = math.sqrt(float(np.max(np.sum(whitened**2, axis=1))))
    own = farthest * enlargement ** (1.0 / u.shape[1])
    return min(own, float(union.radius[s]))


def _capped(rows, above, cap: int, key):
    """``rows`` if at most ``cap``, else those above the threshold and a keyed random
    choice of the rest."""
    if rows.size <= cap:
        return rows
    seed = np.asarray(jax.random.key_data(key), np.uint32).ravel()
    chosen = np.random.default_rng(seed).choice(rows[~above], max(cap - above.sum(), 0),
                                               replace=False)
    return np.sort(np.concatenate([rows[above], chosen]))


def _nearest(programs, union, u):
    """Each row's nearest ellipsoid of ``union``."""
    return _in_blocks(lambda rows: programs.nearest(union, rows), u, np.int32)


def _represented_log_volume(points: Points, found: Bounds, rows) -> float:
    """Log of the prior volume the points ``rows`` stand for under the run's weights:
    each point ``1 / D(x)`` of the mixture density (Nautilus's ``log_v_live``)."""
    k = len(found)
    with np.errstate(divide="ignore"):
        log_n = np.log(np.array(found.draws, float))
    # numpy on the host: a few hundred rows, and eager jax compiled a program for every
    # new bound count (78 compiles, 4 s, in a 3-d test run)
    per_bound = np.where(points.member[rows, :k], log_n - np.asarray(found.log_volume), -np.inf)
    return float(logsumexp(-logsumexp(per_bound, axis=1)))


def neediest(programs, points: Points, found: Bounds, sampled, sampling_start: int) -> int:
    """The bound the sampling phase draws its next batch from: the cube first (the prior
    is then part of the sampling phase's mixture, so the estimate stays unbiased where
    the later bounds miss part of the posterior), then the bound whose draws lower the
    variance most (:func:`slicens.core.importance.log_need`; the sampling phase's draws
    so far plus one per bound, so that bounds not yet sampled count, as the target;
    the exploration's points, drawn from the mixture of all its draws, show where the
    posterior lies). Only the exploration's points: were the sampling phase's own
    weights to steer its draws, it would draw more where its points weigh most, which
    lowers those weights (3-d Gaussian at n_live 100, 11 seeds: mean z -0.71)."""
    if sampled[0] == 0:
        return 0
    n_pad, k_pad = pad_to_compiled_sizes(points, found)
    explored = np.asarray(found.draws, float) - np.asarray(sampled, float)
    with np.errstate(divide="ignore"):
        log_target = np.log(per_bound(np.asarray(sampled, float) + 1.0, k_pad))
        log_drawn = np.log(per_bound(explored, k_pad))
    log_volume = per_bound(found.log_volume, k_pad)
    exploration = points.loglike[:n_pad].copy()
    exploration[sampling_start:] = -np.inf
    need = programs.need(exploration, points.member[:n_pad, :k_pad], log_target, log_drawn,
                         log_volume)
    return int(np.argmax(np.asarray(need)[: len(found)]))


def kept_share(log_volume_var: float, tries: int) -> float:
    """The share of ``tries`` a bound kept when its volume was counted, from that count's
    variance."""
    return 1.0 / (1.0 + log_volume_var * tries)


def _steps():
    """The Adam steps, read when a bound is fitted and passed to the compiled training as
    a static argument: each value compiles its own program, so a test or benchmark that
    sets :data:`slicens.core.network.TRAIN_STEPS` never meets a program traced at another
    (None under :data:`slicens.core.network.EPOCHS`: the steps follow the points, read
    when traced)."""
    return network.TRAIN_STEPS if network.EPOCHS is None else None


@functools.cache
def learn_program():
    """The networks' training, compiled once per process, shape and number of steps (it
    depends on its arguments only: every run shares it)."""
    return jit(network.train, static_argnames="steps")


