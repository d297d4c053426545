"""``method="bounds"``: draws from bounds, weighed by importance (see docs/design.md,
"Bounded draws").

The run works in the prior's unit cube. It draws batches of ``n_batch`` points uniformly
from its newest bound (:mod:`slicens.core.bounds`; the first bound is the cube, the
prior itself), evaluates them through the lanes (at most ``chunk_size`` at once), and
weighs every point against the mixture of all bounds drawn from
(:mod:`slicens.core.importance`). Exploration: after ``n_update`` (default ``n_live``, as
Nautilus) new points above the
newest bound's threshold (the ``n_live``-th highest likelihood when it was fitted), or
``10 n_live`` evaluations, a new bound is fitted to the ``n_live`` best points (kept only
if smaller than the last); exploration ends when those points hold less than ``f_live``
of the evidence. Sampling: batches from the newest bound until the weights' ESS reaches
``min_ess``.

Every random draw is keyed by the run's seed and the batch's (or bound's) index, and the
evaluations go through :func:`slicens.core.kernel.evaluate_points`, so results do not
depend on ``chunk_size`` (where the likelihood compiles alike at both widths).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from slicens.core import bounds, importance, kernel
from slicens.core.chunking import Execution
from slicens.host import memory as memory_policy
from slicens.host.bounded_result import BoundedResult
from slicens.host.platform import compiler_options
from slicens.host.settings import check_int, check_positive, default_max_clusters

__all__ = ["BoundedResult", "run_bounded", "DEFAULT_F_LIVE", "DEFAULT_MIN_ESS",
           "DEFAULT_ENLARGEMENT", "VOLUME_BLOCKS"]

logger = logging.getLogger("slicens")

#: Exploration ends once the ``n_live`` best points hold less than this share of the
#: evidence (Nautilus's default).
DEFAULT_F_LIVE = 0.01
#: Sampling ends at this effective sample size of the weights (Nautilus's ``n_eff``).
DEFAULT_MIN_ESS = 10_000
#: A bound's ellipsoids hold this many times the volume of those through their farthest
#: (cross-validated) point.
DEFAULT_ENLARGEMENT = 3.0
#: Blocks of :data:`slicens.core.bounds.BLOCK` tries that count each bound's volume:
#: 2**18 tries, a log-volume error of about ``0.002 / sqrt(kept share)``.
VOLUME_BLOCKS = 64
#: Rounds of tries a batch may take before the bound counts as too thin to draw from.
MAX_ROUNDS = 4096
#: Evaluations from one bound, in units of ``n_live``, after which a new one is fitted.
EVALS_PER_BOUND = 10

_BOUND_STREAM, _BATCH_STREAM = 1, 2


class _Points:
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


class _Programs:
    """The compiled functions of a run (their shapes fixed by the settings)."""

    def __init__(self, loglike: Callable, prior, n_live: int, n_batch: int,
                 max_clusters: int, enlargement: float, execution: Execution,
                 split_bounds: bool = False):
        dim = prior.dim

        def evaluate_one(x):
            return jnp.asarray(loglike(x), x.dtype), jnp.zeros((), x.dtype)

        def evaluate(u):
            # The transform outside the lanes, as the prior draws of method="slice": its
            # multiply-adds would otherwise compile differently at other widths.
            x = jax.vmap(prior.transform)(u)
            (value, _), lanes = kernel.evaluate_points(evaluate_one, x, execution)
            return jnp.where(jnp.isfinite(value), value, -jnp.inf), lanes

        def fitted(key, points, target_log_volume):
            if split_bounds:
                union = bounds.split_union(points, max_clusters + 1, enlargement,
                                           target_log_volume)
            else:
                union = bounds.fit(points, max_clusters, enlargement)
            return bounds.count_volume(key, union, VOLUME_BLOCKS)

        # XLA:CPU's intra-op threads off, as for every program slicens compiles (the
        # jaxlib hazards of host/platform.py).
        jit = functools.partial(jax.jit, compiler_options=compiler_options())
        self.evaluate_batch = evaluate  # uncompiled: for the memory analysis
        self.evaluate = jit(evaluate)
        self.fit = jit(fitted)
        self.draw = jit(lambda key, union: bounds.draw(key, union, n_batch, MAX_ROUNDS))
        self.cube = jit(lambda key: jax.random.uniform(key, (n_batch, dim)))
        self.contains = jit(bounds.contains)
        self.transform = jit(jax.vmap(prior.transform))
        self.estimate = jit(importance.estimate)
        self.live_share = jit(importance.live_share, static_argnums=2)
        self.n_live = n_live
        self.split_bounds = split_bounds


#: The weights are recomputed (for f_live and the ESS) after every batch while a run
#: holds fewer than this many batches of points, then every ``n / (this x n_batch)``
#: batches: each estimate costs ``points x bounds``, so re-estimating after every batch
#: would grow quadratically (2-d shells, 600k points: most of a 1,175 s run).
CHECKS_PER_RUN = 64


def _check_interval(n_points: int, n_batch: int) -> int:
    return max(1, n_points // (CHECKS_PER_RUN * n_batch))


def _padded(n: int, least: int) -> int:
    return max(least, 1 << max(0, math.ceil(math.log2(max(n, 1)))))


def _membership(programs: _Programs, union, u):
    """Whether each row of ``u`` lies in the bound of ``union`` (blocks of at most
    ``BLOCK`` rows, padded to a power of two: a few compiled shapes serve every count,
    and a batch of ``n_batch`` points is not padded to ``BLOCK``)."""
    out = np.zeros(u.shape[0], bool)
    size = min(bounds.BLOCK, _padded(u.shape[0], 1))
    for begin in range(0, u.shape[0], size):
        block = u[begin: begin + size]
        pad = np.zeros((size, u.shape[1]))
        pad[: block.shape[0]] = block
        out[begin: begin + block.shape[0]] = np.asarray(
            programs.contains(union, pad))[: block.shape[0]]
    return out


class _Bounds:
    """The run's bounds: unions (None for the cube), counted log volumes, variances,
    draws made from each."""

    def __init__(self):
        self.unions: list = [None]
        self.log_volume = [0.0]
        self.log_volume_var = [0.0]
        self.draws = [0]

    def __len__(self):
        return len(self.unions)

    def add(self, bound: bounds.Bound):
        self.unions.append(bound.union)
        self.log_volume.append(float(bound.log_volume))
        self.log_volume_var.append(float(bound.log_volume_var))
        self.draws.append(0)


def _estimate(programs: _Programs, points: _Points, found: _Bounds):
    """The importance estimate over all points so far (padded shapes: a few compiled
    sizes, not one per batch)."""
    n_pad = _padded(points.n, 1024)
    k_pad = _padded(len(found), 8)
    points._grow(n_pad, k_pad)
    draws = np.array(found.draws + [0] * (k_pad - len(found)), float)
    with np.errstate(divide="ignore"):
        log_n = np.log(draws)
    log_volume = np.array(found.log_volume + [0.0] * (k_pad - len(found)))
    log_volume_var = np.array(found.log_volume_var + [0.0] * (k_pad - len(found)))
    return programs.estimate(points.loglike[:n_pad], points.member[:n_pad, :k_pad],
                             points.source[:n_pad], log_n, log_volume, log_volume_var)


def run_bounded(loglike: Callable, prior, *, n_live: int, n_batch: int | None = None,
                n_update: int | None = None, f_live: float = DEFAULT_F_LIVE,
                min_ess: float | None = None, enlargement: float = DEFAULT_ENLARGEMENT,
                chunk_size: int | str | None = "auto", memory_budget=None,
                schedule: str = "lanes", devices: tuple = (), seed: int = 0,
                max_evals: int | None = None, max_time: float | None = None,
                start_time: float | None = None, report: bool = False,
                split_bounds: bool = False) -> BoundedResult:
    """Draw from bounds until exploration ends and the ESS reaches ``min_ess`` (see the
    module's docstring). ``prior`` must be a prior with a unit-cube transform (a list of
    :mod:`slicens.priors`); arguments as for :func:`slicens.run`, already validated
    there except those of this method. ``split_bounds`` (experimental, off): split each
    bound's ellipsoids along the contour (:func:`slicens.core.bounds.split_union`):
    2-d shells 596,500 -> 97,313 evaluations, but at n_live 100 in 3 dimensions its logZ
    is not calibrated (sd(z) 1.38 over 12 seeds, one seed 3.2 errors low)."""
    start_time = time.perf_counter() if start_time is None else start_time
    if not hasattr(prior, "transform"):
        raise TypeError(
            "method='bounds' needs a prior with a unit-cube transform (a list of "
            f"slicens.priors: Uniform, Normal, LogUniform), got {type(prior).__name__}")
    dim = prior.dim
    chosen = {}
    if n_batch is None:
        n_batch = max(1, n_live // 4)
        chosen["n_batch"] = f"n_live // 4 = {n_batch}"
    check_int("n_batch", n_batch, 1)
    if n_update is None:
        n_update = n_live
        chosen["n_update"] = f"n_live = {n_update} (Nautilus's)"
    check_int("n_update", n_update, 1)
    check_positive("f_live", f_live)
    if f_live >= 1:
        raise ValueError(f"f_live must be below 1, got f_live={f_live!r}")
    check_positive("enlargement", enlargement)
    if enlargement < 1:
        raise ValueError(f"enlargement must be at least 1, got enlargement={enlargement!r}")
    if min_ess is None:
        min_ess = DEFAULT_MIN_ESS
        chosen["min_ess"] = f"{DEFAULT_MIN_ESS} (Nautilus's n_eff)"
    max_clusters = default_max_clusters(n_live, dim)

    compile_start = time.perf_counter()
    chunk, memory = _choose_chunk(loglike, prior, n_live, n_batch, max_clusters, enlargement,
                                  chunk_size, memory_budget, schedule, devices)
    programs = _Programs(loglike, prior, n_live, n_batch, max_clusters, enlargement,
                         Execution(chunk, schedule, devices), split_bounds)
    key = jax.random.key(seed)
    batch_key = jax.random.fold_in(key, _BATCH_STREAM)
    bound_key = jax.random.fold_in(key, _BOUND_STREAM)
    compile_time = time.perf_counter() - compile_start

    points = _Points(dim)
    found = _Bounds()
    phase = "exploration"
    phase_evals = {"exploration": 0, "sampling": 0}
    threshold, above, since_bound = -np.inf, 0, 0
    termination, batch, est = None, 0, None
    while termination is None:
        if phase == "exploration" and points.n >= n_live and (
                len(found) == 1 or above >= n_update or since_bound >= EVALS_PER_BOUND * n_live):
            threshold = _new_bound(programs, points, found, jax.random.fold_in(bound_key,
                                                                               len(found)))
            above, since_bound = 0, 0
            if report:
                logger.info("slicens (bounds): %d bounds, newest log volume %.3f, %d "
                            "evaluations", len(found), found.log_volume[-1], points.n)
        newest = len(found) - 1
        u = _draw(programs, found, newest, jax.random.fold_in(batch_key, batch))
        value, _ = programs.evaluate(u)
        value = np.asarray(value, float)
        member = np.stack([np.ones(n_batch, bool) if k in (0, newest) else
                           _membership(programs, found.unions[k], u)
                           for k in range(len(found))], axis=1)
        points.add(np.asarray(u, float), value, newest, member)
        found.draws[newest] += n_batch
        phase_evals[phase] += n_batch
        above += int(np.sum(value >= threshold))
        since_bound += n_batch
        batch += 1
        if batch % _check_interval(points.n, n_batch) == 0:
            est = _estimate(programs, points, found)
            if phase == "exploration" and len(found) > 1:
                share = float(programs.live_share(
                    jnp.asarray(points.loglike[: est.log_weights.shape[0]]),
                    est.log_weights, n_live))
                if share < f_live:
                    phase = "sampling"
                    if report:
                        logger.info("slicens (bounds): exploration done, %d bounds, %d "
                                    "evaluations", len(found), points.n)
            if phase == "sampling" and float(est.ess) >= min_ess:
                termination = "min_ess"
        if termination is None and max_evals is not None and points.n + n_batch > max_evals:
            termination = "max_evals"
        if termination is None and max_time is not None and (
                time.perf_counter() - start_time > max_time):
            termination = "max_time"

    est = _estimate(programs, points, found)
    n = points.n
    wall = time.perf_counter() - start_time
    settings = dict(method="bounds", n_live=n_live, n_batch=n_batch, n_update=n_update,
                    f_live=f_live, min_ess=min_ess, enlargement=enlargement, seed=seed,
                    max_clusters=max_clusters, split_bounds=split_bounds,
                    max_evals=max_evals, max_time=max_time,
                    schedule=schedule, chosen=chosen)
    memory.update(requested_chunk_size=chunk_size, chunk_size=chunk)
    return BoundedResult(
        logZ=float(est.logZ), logZ_err=float(est.logZ_err),
        positions=np.asarray(programs.transform(jnp.asarray(points.u[:n])), float),
        loglike=points.loglike[:n].copy(), log_weights=np.asarray(est.log_weights[:n], float),
        source=points.source[:n].copy(), bound_log_volumes=np.array(found.log_volume),
        bound_log_volume_errors=np.sqrt(found.log_volume_var),
        bound_draws=np.array(found.draws), ess=float(est.ess), n_evals=n,
        phase_evals=phase_evals, termination=termination, wall_time=wall,
        sampling_time=wall - compile_time, compile_time=compile_time, settings=settings,
        memory=memory)


def _new_bound(programs: _Programs, points: _Points, found: _Bounds, key) -> float:
    """Fit a bound to the ``n_live`` best points; keep it if it is smaller than the
    newest. Returns the threshold new points are counted above (the ``n_live``-th best
    likelihood)."""
    loglike = points.loglike[: points.n]
    best = np.argsort(loglike, kind="stable")[-programs.n_live:]
    threshold = float(loglike[best[0]])
    # Only the split unions use the volume the best points stand for.
    target = _represented_log_volume(points, found, best) if programs.split_bounds else 0.0
    bound = programs.fit(key, jnp.asarray(points.u[best]), target)
    if float(bound.log_volume) < found.log_volume[-1]:
        found.add(bound)
        column = _membership(programs, bound.union, points.u[: points.n])
        points.add_bound_column(len(found) - 1, column)
    return threshold


def _represented_log_volume(points: _Points, found: _Bounds, rows) -> float:
    """Log of the prior volume the points ``rows`` stand for under the run's weights:
    each point ``1 / D(x)`` of the mixture density (Nautilus's ``log_v_live``)."""
    k = len(found)
    with np.errstate(divide="ignore"):
        log_n = np.log(np.array(found.draws, float))
    log_d = importance.log_mixture_density(jnp.asarray(points.member[rows, :k]),
                                           jnp.asarray(log_n), jnp.asarray(found.log_volume))
    return float(jax.nn.logsumexp(-log_d))


def _draw(programs: _Programs, found: _Bounds, k: int, key):
    if k == 0:
        return programs.cube(key)
    u, filled = programs.draw(key, found.unions[k])
    if int(filled) < u.shape[0]:
        raise RuntimeError(
            f"bound {k} kept {int(filled)} of {u.shape[0]} draws in {MAX_ROUNDS} rounds of "
            f"{bounds.BLOCK} tries: its ellipsoids lie almost entirely outside the prior's "
            "unit cube")
    return u


def _choose_chunk(loglike, prior, n_live, n_batch, max_clusters, enlargement, chunk_size,
                  memory_budget, schedule, devices) -> tuple[int, dict[str, Any]]:
    """The chunk: an integer as given (at most ``n_batch``), None the whole batch,
    ``"auto"`` the largest whose compiled evaluation fits the budget."""
    if chunk_size is None:
        return n_batch, dict(mode="fixed")
    if chunk_size != "auto":
        return min(int(chunk_size), n_batch), dict(mode="fixed")
    budget, source = memory_policy.resolve_budget(memory_budget, devices=devices)
    shape = jax.ShapeDtypeStruct((n_batch, prior.dim), jnp.zeros(()).dtype)

    def peak_at(chunk: int):
        programs = _Programs(loglike, prior, n_live, n_batch, max_clusters, enlargement,
                             Execution(chunk, schedule, devices))
        return memory_policy.compiled_memory(programs.evaluate_batch, shape).peak

    choice = memory_policy.choose_chunk_size(peak_at, budget, n_batch)
    return choice.chunk_size, dict(mode="auto", budget=budget, budget_source=source,
                                   predicted_peak=choice.predicted_peak,
                                   measured=choice.measured)
