"""``method="bounds"``: draws from bounds, weighed by importance (see docs/design.md,
"Bounded draws").

The run works in the prior's unit cube. It draws batches of ``n_batch`` points uniformly
from a bound (:mod:`slicens.core.bounds`; the first bound is the cube, the prior itself;
the others unions of ellipsoids refined by networks, :mod:`slicens.core.network`),
evaluates them through the lanes (at most ``chunk_size`` at once), and weighs points
against the mixture of the bounds drawn from (:mod:`slicens.core.importance`).
Exploration draws from the newest bound: after ``n_update`` (default ``n_live // 2``;
Nautilus's is ``n_live``) new points above its threshold (the ``n_live``-th highest
likelihood when it was fitted), or ``10 n_live`` evaluations, a new bound is fitted to
the ``n_live`` best points (kept only if smaller than the last); exploration ends when
those points hold less than ``f_live`` of the evidence. Sampling: a batch from the cube,
then batches from the bound that lowers the variance most, until the sampling phase's
own points (the estimate discards the exploration's) reach an ESS of ``min_ess``. How a
bound is made and the points kept: :mod:`slicens.host.bounded_record`.

Every random draw is keyed by the run's seed and the batch's (or bound's) index, and the
evaluations go through :func:`slicens.core.kernel.evaluate_points`, so results do not
depend on ``chunk_size`` (where the likelihood compiles alike at both widths).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from slicens.core import bounds, ellipsoids, importance
from slicens.core.chunking import Execution
from slicens.host import processes
from slicens.host.bounded_checkpoint import identity as stored_identity
from slicens.host.bounded_checkpoint import open_for_run, save
from slicens.host.bounded_estimator import DEFAULT_EXPLORATION, EXPLORATION, Estimator
from slicens.host.bounded_evaluate import BatchEvaluator, choose_chunk
from slicens.host.bounded_nested import warn_if_disagree
from slicens.host.bounded_record import (
    Bounds,
    Points,
    Progress,
    estimate,
    kept_share,
    learn_program,
    membership,
    neediest,
    new_bound,
)
from slicens.host.bounded_result import BoundedResult
from slicens.host.platform import jit
from slicens.host.progress import BoundedSnapshot
from slicens.host.settings import check_bool, check_int, check_positive, default_max_clusters

__all__ = ["BoundedResult", "run_bounded", "DEFAULT_F_LIVE", "DEFAULT_MIN_ESS", "DEFAULT_REFINE",
           "DEFAULT_SPLIT_BOUNDS", "DEFAULT_ENLARGEMENT", "VOLUME_BLOCKS"]

logger = logging.getLogger("slicens")

#: Exploration ends once the ``n_live`` best points hold less than this share of the
#: evidence (Nautilus's default).
DEFAULT_F_LIVE = 0.01
#: Bounds are refined by networks (:mod:`slicens.core.network`) unless a run says not.
DEFAULT_REFINE = True
#: Each bound's ellipsoids split along the contour (:func:`slicens.core.bounds.split_union`)
#: rather than one per mode (:func:`slicens.core.bounds.fit`): the tiny lens 125,625 ->
#: 58,167 evaluations (3 seeds), the 5-d mixture and 2-d Rosenbrock 13-15% fewer, the 2-d
#: shells 22% and the 10-d shells about 40% more (BENCHMARKS.md, "Bounded draws, fifth
#: part").
DEFAULT_SPLIT_BOUNDS = True
#: Sampling ends at this effective sample size of the weights (Nautilus's ``n_eff``).
DEFAULT_MIN_ESS = 10_000
#: A bound's ellipsoids hold this many times the volume of those through their farthest
#: (cross-validated) point.
DEFAULT_ENLARGEMENT = 3.0
#: Blocks of :data:`slicens.core.bounds.BLOCK` tries that count each bound's volume:
#: 2**18 tries, a log-volume error of about ``0.002 / sqrt(kept share)``.
VOLUME_BLOCKS = 64
#: Whether a new bound is kept is decided on a count of this fraction of those tries;
#: the kept bound's volume is counted again in full, independently (bounded_record).
PRECOUNT_FRACTION = 8
#: Rounds of tries a batch may take before the bound counts as too thin to draw from.
MAX_ROUNDS = 4096
#: Evaluations from one bound, in units of ``n_live``, after which a new one is fitted.
EVALS_PER_BOUND = 10

_BOUND_STREAM, _BATCH_STREAM, _NETWORK_STREAM = 1, 2, 3


class _Programs:
    """The compiled functions of a run (their shapes fixed by the settings)."""

    def __init__(self, loglike: Callable, prior, n_live: int, n_batch: int,
                 max_clusters: int, enlargement: float, execution: Execution,
                 split_bounds: bool, refine: bool):
        dim = prior.dim
        self.evaluate = BatchEvaluator(loglike, prior, n_batch, execution)
        self.transform = jit(jax.vmap(prior.transform))
        # The rest depend on their arguments and these settings only: compiled once per
        # process and shape, shared by every run (a run's compile time, and the suite's).
        shared = _shared_programs(n_batch, dim, max_clusters, enlargement, split_bounds)
        self.union, self.modes, self.count, self.precount, self.draw, self.cube = shared
        self.learn = learn_program()
        self.tries = VOLUME_BLOCKS * bounds.BLOCK
        self.precount_tries = self.tries // PRECOUNT_FRACTION
        self.contains, self.nearest, self.estimate, self.need, self.live_share = (
            _shared_plain())
        self.n_live = n_live
        self.enlargement = enlargement
        self.split_bounds = split_bounds
        self.refine = refine


@functools.cache
def _shared_programs(n_batch: int, dim: int, max_clusters: int, enlargement: float,
                     split_bounds: bool):
    """A run's bound programs that depend on its settings, not its likelihood: fit a
    union, count a bound's volume (in full, and the smaller count that decides whether it
    is kept), draw a batch from it, draw a batch from the cube; and the union of one
    ellipsoid per mode, whose ellipsoids the networks of a split union follow
    (``bounded_record._learn``)."""
    def modes_of(points):
        return bounds.fit(points, max_clusters, enlargement)

    def union_of(points, target_log_volume):
        if split_bounds:
            return bounds.split_union(points, max_clusters + 1, enlargement,
                                      target_log_volume)
        return modes_of(points)

    return (jit(union_of), jit(modes_of),
            jit(lambda key, union, refinement: bounds.count_volume(
                key, union, VOLUME_BLOCKS, refinement)),
            jit(lambda key, union, refinement: bounds.count_volume(
                key, union, VOLUME_BLOCKS // PRECOUNT_FRACTION, refinement)),
            jit(lambda key, union, refinement: bounds.draw(
                key, union, n_batch, MAX_ROUNDS, refinement)),
            jit(lambda key: jax.random.uniform(key, (n_batch, dim))))


@functools.cache
def _shared_plain():
    """Programs every run shares whatever its settings: membership in a bound, nearest
    ellipsoids, the importance estimate, the bounds' needs, the live points' share."""
    return (jit(bounds.contains), jit(ellipsoids.nearest), jit(importance.estimate),
            jit(importance.log_need), jit(importance.live_share, static_argnums=2))


#: The weights are recomputed (for f_live and the ESS) after every batch while a run
#: holds fewer than this many batches of points, then every ``n / (this x n_batch)``
#: batches: each estimate costs ``points x bounds``, so re-estimating after every batch
#: would grow quadratically (2-d shells, 600k points: most of a 1,175 s run).
CHECKS_PER_RUN = 64


def _check_interval(n_points: int, n_batch: int) -> int:
    return max(1, n_points // (CHECKS_PER_RUN * n_batch))


def run_bounded(loglike: Callable, prior, *, n_live: int, n_batch: int | None = None,
                n_update: int | None = None, f_live: float = DEFAULT_F_LIVE,
                min_ess: float | None = None, enlargement: float = DEFAULT_ENLARGEMENT,
                chunk_size: int | str | None = "auto", memory_budget=None,
                schedule: str = "lanes", devices: tuple = (), seed: int = 0,
                max_evals: int | None = None, max_time: float | None = None,
                start_time: float | None = None, report: bool = False, display=None,
                split_bounds: bool = DEFAULT_SPLIT_BOUNDS, refine: bool = DEFAULT_REFINE,
                exploration: str = DEFAULT_EXPLORATION, checkpoint=None, resume: bool | None = None,
                checkpoint_every: float = 60.0,
                likelihood_id: str = "?") -> BoundedResult:
    """Draw from bounds until exploration ends and the ESS reaches ``min_ess`` (see the
    module's docstring). ``prior`` must be a prior with a unit-cube transform (a list of
    :mod:`slicens.priors`); arguments as for :func:`slicens.run`, already validated
    there except those of this method. ``refine``: networks refine the bounds (default
    True). ``exploration`` (default :data:`DEFAULT_EXPLORATION`): which points the
    estimate keeps (:data:`EXPLORATION`; docs/design.md). ``split_bounds`` (default
    True, :data:`DEFAULT_SPLIT_BOUNDS`): each bound's ellipsoids split along the contour
    (:func:`slicens.core.bounds.split_union`); False: one ellipsoid per mode
    (:func:`slicens.core.bounds.fit`), which takes fewer evaluations on the 2-d and 10-d
    shells and more on the lens.
    ``checkpoint``, ``resume``, ``checkpoint_every``, ``likelihood_id``: as for
    :func:`slicens.run` (:mod:`slicens.host.bounded_checkpoint`). ``report``: log each
    new bound; ``display``: a :func:`slicens.host.progress.make_display` shown the phase,
    bounds, logZ and ESS at each check (default: none), closed at the end."""
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
        n_update = max(1, n_live // 2)
        chosen["n_update"] = f"n_live // 2 = {n_update}"
    check_int("n_update", n_update, 1)
    check_positive("f_live", f_live)
    if f_live >= 1:
        raise ValueError(f"f_live must be below 1, got f_live={f_live!r}")
    check_bool("refine", refine)
    if exploration not in EXPLORATION:
        raise ValueError(f"exploration must be one of {EXPLORATION}, got "
                         f"exploration={exploration!r}")
    check_bool("split_bounds", split_bounds)
    check_positive("enlargement", enlargement)
    if enlargement < 1:
        raise ValueError(f"enlargement must be at least 1, got enlargement={enlargement!r}")
    if min_ess is None:
        min_ess = DEFAULT_MIN_ESS
        chosen["min_ess"] = f"{DEFAULT_MIN_ESS} (Nautilus's n_eff)"
    max_clusters = default_max_clusters(n_live, dim)

    store = None
    if checkpoint is not None:
        store = _Store(Path(checkpoint), checkpoint_every, stored_identity(
            dim=dim, dtype=jnp.zeros(()).dtype, n_live=n_live, n_batch=n_batch,
            n_update=n_update, f_live=f_live, enlargement=enlargement, refine=refine,
            split_bounds=split_bounds, exploration=exploration, seed=seed,
            likelihood_id=likelihood_id, prior=prior))
    stored = None if store is None else open_for_run(store.path, resume, store.identity)
    if stored is None:
        points, found, progress, termination = Points(dim), Bounds(), Progress(), None
    else:
        points, found, progress = stored.points, stored.found, stored.progress
        termination = None if stored.finished is None else stored.finished["termination"]
        logger.info("slicens (bounds): %s %s at %d evaluations, %d bounds",
                    "returning the finished run in" if termination else "resuming from",
                    store.path, points.n, len(found))
    compile_start = time.perf_counter()
    chunk, memory = choose_chunk(loglike, prior, n_batch, chunk_size, memory_budget,
                                 schedule, devices)
    programs = _Programs(loglike, prior, n_live, n_batch, max_clusters, enlargement,
                         Execution(chunk, schedule, devices), split_bounds, refine)
    key = jax.random.key(seed)
    keys = {stream: jax.random.fold_in(key, stream)
            for stream in (_BATCH_STREAM, _BOUND_STREAM, _NETWORK_STREAM)}
    compile_time = time.perf_counter() - compile_start

    resumed_at = points.n
    estimator = Estimator(exploration, n_batch, min_ess)
    shown = _Shown(display, min_ess, start_time, resumed_at)
    if termination is None:
        termination = _iterate(programs, points, found, progress, store,
                               dict(n_batch=n_batch, n_update=n_update, f_live=f_live,
                                    min_ess=min_ess, max_evals=max_evals, max_time=max_time,
                                    estimator=estimator),
                               keys, start_time, report, shown)

    est = estimator(programs, points, found, progress)
    shown.show(programs, points, found, progress, est, final=True)
    shown.close()
    n = points.n
    wall = time.perf_counter() - start_time
    settings = dict(method="bounds", n_live=n_live, n_batch=n_batch, n_update=n_update,
                    f_live=f_live, min_ess=min_ess, enlargement=enlargement, seed=seed,
                    max_clusters=max_clusters, split_bounds=split_bounds, refine=refine,
                    exploration=exploration, max_evals=max_evals, max_time=max_time,
                    schedule=schedule, chosen=chosen, resumed_at_evals=resumed_at,
                    checkpoint=None if store is None else str(store.path))
    memory.update(devices=[str(d) for d in devices] or [str(jax.devices()[0])],
                  requested_chunk_size=chunk_size, chunk_size=programs.evaluate.chunk_size,
                  history=programs.evaluate.history)
    result = BoundedResult(
        logZ=float(est.logZ), logZ_err=float(est.logZ_err),
        positions=np.asarray(programs.transform(jnp.asarray(points.u[:n])), float),
        loglike=points.loglike[:n].copy(), log_weights=np.asarray(est.log_weights[:n], float),
        source=points.source[:n].copy(), bound_log_volumes=np.array(found.log_volume),
        bound_log_volume_errors=np.sqrt(found.log_volume_var),
        bound_draws=np.array(found.draws), bound_thresholds=np.array(found.threshold),
        bound_refined=np.array(found.refined),
        ess=float(est.ess), n_evals=n,
        phase_evals=dict(progress.phase_evals), termination=termination, wall_time=wall,
        sampling_time=wall - compile_time, compile_time=compile_time, settings=settings,
        memory=memory, names=tuple(prior.names), labels=tuple(prior.labels))
    warn_if_disagree(result.logZ, result.logZ_err, result.nested,
                     refined=bool(result.bound_refined.any()))
    return result


class _Store:
    """A run's checkpoint: where, how often, and the run's identity."""

    def __init__(self, path: Path, every: float, identity: dict):
        self.path, self.every, self.identity = path, every, identity
        self.last = time.perf_counter()

    def write(self, points, found, progress, termination=None, force=False):
        """Rewrite the checkpoint if ``every`` seconds have passed (or ``force``); a run
        that converged is stored as finished (one stopped by max_evals or max_time is
        not: a later call continues it)."""
        if not (force or time.perf_counter() - self.last >= self.every):
            return
        if processes.is_writer():
            finished = dict(termination=termination) if termination == "min_ess" else None
            save(self.path, self.identity, points, found, progress, finished)
        self.last = time.perf_counter()


class _Shown:
    """The run's progress display, if any: shown the newest estimate at each check."""

    def __init__(self, display, min_ess: float, start_time: float, resumed_at: int):
        self.display, self.min_ess, self.start, self.resumed_at = (
            display, min_ess, start_time, resumed_at)

    def show(self, programs, points: Points, found: Bounds, p: Progress, est,
             final: bool = False) -> None:
        if self.display is None or not (final or self.display.due()):
            return
        elapsed = time.perf_counter() - self.start
        self.display.update(BoundedSnapshot(
            iteration=p.batch, n_evals=points.n, phase=p.phase, n_bounds=len(found),
            logZ=float(est.logZ), logZ_err=float(est.logZ_err), ess=float(est.ess),
            min_ess=self.min_ess, evals_per_second=(points.n - self.resumed_at) / elapsed,
            chunk_size=programs.evaluate.chunk_size, elapsed=elapsed))

    def close(self) -> None:
        if self.display is not None:
            self.display.close()


def _iterate(programs, points: Points, found: Bounds, progress: Progress, store, rules: dict,
             keys: dict, start_time: float, report: bool, shown: _Shown) -> str:
    """Draw and evaluate batches, fit bounds while exploring and pick them while
    sampling, until a stopping rule holds (its name is returned). ``progress``,
    ``points`` and ``found`` are updated in place, and checkpointed after every batch
    once ``store.every`` seconds have passed since the last write, and at the end;
    ``shown`` displays each check's estimate."""
    p, n_batch, n_live = progress, rules["n_batch"], programs.n_live
    termination = None
    while termination is None:
        if p.phase == "exploration" and points.n >= n_live and (
                len(found) == 1 or p.above >= rules["n_update"]
                or p.since_bound >= EVALS_PER_BOUND * n_live):
            p.threshold, fitted = new_bound(
                programs, points, found, jax.random.fold_in(keys[_BOUND_STREAM], len(found)),
                jax.random.fold_in(keys[_NETWORK_STREAM], p.batch))
            p.above, p.since_bound = 0, 0
            if report and not fitted.kept:
                logger.info("slicens (bounds): a bound fitted at threshold %.6g was not kept: "
                            "its log volume %.3f (%s) is not below the newest's %.3f, %d "
                            "evaluations", p.threshold, fitted.log_volume,
                            "refined" if fitted.refined else "union alone",
                            found.log_volume[-1], points.n)
            elif report:
                logger.info("slicens (bounds): %d bounds, newest log volume %.3f (kept "
                            "share of its tries %.3g), %d evaluations", len(found),
                            found.log_volume[-1],
                            kept_share(found.log_volume_var[-1], programs.tries), points.n)
        source = len(found) - 1 if p.phase == "exploration" else p.next_bound
        u = _draw(programs, found, source, jax.random.fold_in(keys[_BATCH_STREAM], p.batch))
        value = programs.evaluate(u, p.batch)
        value = np.asarray(value, float)
        member = np.stack([np.ones(n_batch, bool) if k in (0, source) else
                           membership(programs, found.unions[k], u, found.refinements[k])
                           for k in range(len(found))], axis=1)
        points.add(np.asarray(u, float), value, source, member)
        found.draws[source] += n_batch
        p.phase_evals[p.phase] += n_batch
        p.above += int(np.sum(value >= p.threshold))
        p.since_bound += n_batch
        p.batch += 1
        if p.phase == "sampling":
            p.sampled[source] += n_batch
        if p.batch % _check_interval(points.n, n_batch) == 0:
            termination, est = _check(programs, points, found, p, rules, report)
            shown.show(programs, points, found, p, est)
        if termination is None and rules["max_evals"] is not None and (
                points.n + n_batch > rules["max_evals"]):
            termination = "max_evals"
        if termination is None and rules["max_time"] is not None and (
                time.perf_counter() - start_time > rules["max_time"]):
            termination = "max_time"
        if store is not None:
            store.write(points, found, p, termination, force=termination is not None)
    return termination


def _check(programs, points: Points, found: Bounds, p: Progress, rules: dict,
           report: bool):
    """Between batches: end the exploration once the ``n_live`` best points hold less
    than ``f_live`` of the evidence; while sampling, pick the next bound and stop at
    ``min_ess``. Returns ``("min_ess" or None, the newest estimate)``."""
    if p.phase == "exploration":
        est = estimate(programs, points, found, found.draws)
        if len(found) > 1 and float(programs.live_share(
                jnp.asarray(points.loglike[: est.log_weights.shape[0]]),
                est.log_weights, programs.n_live)) < rules["f_live"]:
            p.phase, p.sampling_start, p.sampled = "sampling", points.n, [0] * len(found)
            if report:
                logger.info("slicens (bounds): exploration done, %d bounds, %d "
                            "evaluations", len(found), points.n)
    if p.phase != "sampling":
        return None, est
    p.next_bound = neediest(programs, points, found, p.sampled, p.sampling_start)
    est = rules["estimator"](programs, points, found, p)
    if (sum(p.sampled) > 0 and float(est.ess) >= rules["min_ess"]
            and rules["estimator"].sampled_enough(programs, points, found, p)):
        return "min_ess", est
    return None, est


def _draw(programs, found: Bounds, k: int, key):
    if k == 0:
        return programs.cube(key)
    u, filled = programs.draw(key, found.unions[k], found.refinements[k])
    if int(filled) < u.shape[0]:
        raise RuntimeError(
            f"bound {k} kept {int(filled)} of {u.shape[0]} draws in {MAX_ROUNDS} rounds of "
            f"{bounds.BLOCK} tries: it holds almost none of its ellipsoids' volume (they lie "
            "outside the prior's unit cube, or its networks keep almost none of them)")
    return u
