"""``slicens.run``: validate, seed, compile, own the loop, finalise."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slicens import evidence, kernel
from slicens.chunking import format_bytes, resolve_chunk_size
from slicens.compiled import INT32_MAX, Compiler, Program, choose_program, limits
from slicens.platform import warn_if_hazardous
from slicens.results import Result
from slicens.settings import check_int, check_positive, default_num_inner_steps, resolve

__all__ = ["run", "default_num_inner_steps"]

logger = logging.getLogger("slicens")


def run(
    loglike: Callable,
    prior,
    *,
    n_live: int = 500,
    num_delete: int | None = None,
    num_inner_steps: int | None = None,
    chunk_size: int | str | None = "auto",
    memory_budget: int | str | None = None,
    schedule: str = "lanes",
    seed: int = 0,
    dlogz: float = 0.01,
    max_evals: int | None = None,
    max_iterations: int | None = None,
    max_time: float | None = None,
    min_ess: float | None = None,
    max_expansions: int = 10,
    max_shrinkage: int = 100,
) -> Result:
    """Run nested slice sampling.

    Parameters
    ----------
    loglike
        ``(x) -> scalar``: log-likelihood of one parameter vector ``x`` of shape
        ``(dim,)``, written in JAX. NaN or +/-inf values count as outside every contour.
    prior
        A list of :mod:`slicens.priors` (one per parameter), a pair of callables
        ``(sample(rng_key, n) -> (n, dim), log_density(x) -> scalar)``, or a joint prior.
    n_live
        Number of live points. Default is 500.
    num_delete
        Points deleted and replaced per iteration. Default is ``max(1, n_live // 10)``.
    num_inner_steps
        Slice steps per replacement chain. Default is :func:`default_num_inner_steps`.
    chunk_size
        At most this many particles are evaluated at once, for both the initial
        ``n_live`` evaluations and the ``num_delete`` chains. ``"auto"`` (the default)
        takes the largest chunk (up to ``num_delete``) whose compiled peak memory fits
        ``memory_budget``; it compiles the iteration at ``num_delete`` and, only if that
        does not fit, once more at 2 to fit the memory line. ``None`` evaluates each
        batch at once. Results do not depend on it.
    memory_budget
        For ``chunk_size="auto"``: bytes, a size string (``"6GB"``; binary units, 1 GB =
        2**30 bytes) or a percentage of free memory (``"80%"``). Default is 80% of the
        free memory of JAX's first device (available RAM on CPU).
    schedule
        How chains share the ``chunk_size`` lanes: ``"lanes"`` (default) gives a lane
        the next queued chain as soon as its chain finishes, so no lane waits;
        ``"chunked"`` runs chunks of whole chains, each until its slowest chain finishes
        (the reference). Results do not depend on it.
    seed
        Seed of the run. Default is 0.
    dlogz
        Stop when the live points could raise logZ by less than this,
        ``log(Z + Z_live) - log(Z) < dlogz``. Default is 0.01.
    max_evals
        Stop once this many likelihood evaluations have been spent. Default None.
    max_iterations
        Stop after this many iterations. Default is ``1000 * n_live // num_delete``, room
        for 1000 nats of compression, so that no run loops for ever.
    max_time
        Stop after this many seconds of sampling (checked between dispatches, which
        last about half a second). Default None.
    min_ess
        Stop once the effective sample size of the posterior (dead points and the live
        points at that moment) reaches this (checked between dispatches). Default None.
    max_expansions
        Stepping out takes at most ``max_expansions - 1`` expansions. Default is 10.
    max_shrinkage
        Shrinkage draws per slice step before the chain stays put. Default is 100.

    Returns
    -------
    Result
        ``termination`` names the criterion that stopped the run.

    Raises
    ------
    TypeError, ValueError
        For a malformed likelihood or prior, an out-of-range setting, or a memory budget
        that cannot hold one lane; the message names the offending value.
    RuntimeError
        When the device runs out of memory even at ``chunk_size=1``.
    """
    start_time = time.perf_counter()
    prior, settings, chosen = resolve(
        loglike, prior, n_live=n_live, num_delete=num_delete, num_inner_steps=num_inner_steps,
        chunk_size=chunk_size, memory_budget=memory_budget, schedule=schedule,
        max_expansions=max_expansions, max_shrinkage=max_shrinkage)
    check_int("seed", seed, 0)
    check_int("max_evals", max_evals, 1, allow_none=True)
    check_int("max_iterations", max_iterations, 1, allow_none=True)
    check_positive("dlogz", dlogz)
    check_positive("max_time", max_time, allow_none=True)
    check_positive("min_ess", min_ess, allow_none=True)
    if max_iterations is None:
        max_iterations = 1000 * settings.n_live // settings.num_delete
        chosen["max_iterations"] = f"1000 * n_live // num_delete = {max_iterations}"
        logger.info("slicens chose max_iterations: %s", chosen["max_iterations"])
    warn_if_hazardous()

    capacity = kernel.block_capacity(settings.num_delete, prior.dim)
    compiler = Compiler(loglike, prior, settings, capacity)
    program, memory = choose_program(compiler, chunk_size, memory_budget)
    runner = _Runner(compiler, program)
    criteria = _Criteria(dlogz, max_evals, max_iterations, max_time, min_ess)
    sampling_start = time.perf_counter()
    dead, state, tally, termination = _sample(runner, jax.random.key(seed), criteria,
                                             sampling_start)
    if termination not in ("dlogz", "plateau", "min_ess"):
        logger.warning("slicens stopped by %s before the dlogz criterion was met", termination)

    memory.update(chunk_size=runner.chunk_size, history=runner.history)
    return _finalise(
        dead,
        jax.device_get(state),
        prior,
        seed=seed,
        settings=dict(settings._asdict(), chunk_size=chunk_size, memory_budget=memory_budget,
                      seed=seed, dlogz=dlogz, max_evals=max_evals,
                      max_iterations=max_iterations, max_time=max_time, min_ess=min_ess,
                      chosen=chosen),
        counts=dict(tally.counts(), n_iterations=tally.n_iterations),
        termination=termination,
        timing=dict(wall_time=time.perf_counter() - start_time,
                    compile_time=compiler.seconds),
        memory=memory,
    )


class _Criteria(NamedTuple):
    dlogz: float
    max_evals: int | None
    max_iterations: int
    max_time: float | None
    min_ess: float | None


#: Aimed-for seconds per dispatch: short enough for live progress, long enough that the
#: host round trip is negligible.
_DISPATCH_SECONDS = 0.5


def _sample(runner: _Runner, key, criteria: _Criteria, start: float):
    """Initialise and iterate until a criterion is met. Returns dead blocks, the final
    state, the tally and the termination."""
    init_key, loop_key = jax.random.split(key)
    state, info = runner.init(init_key)
    info = jax.device_get(info)
    tally = _Tally(runner.program.settings.n_live, runner.program.settings.num_delete)
    tally.add(jax.tree.map(lambda a: np.asarray(a)[None], info), iterations=False)
    if tally.n_invalid == tally.n_live:
        raise ValueError(
            f"loglike returned NaN or +/-inf at all {tally.n_live} initial prior draws; "
            "check the likelihood on the prior's support"
        )
    dead: list[kernel.StepInfo] = []
    steps = 1
    capacity = runner.compiler.capacity
    while True:
        termination = _host_termination(criteria, tally, state, dead, start)
        if termination is not None:
            return dead, state, tally, termination
        max_steps = min(steps, capacity, criteria.max_iterations - tally.n_iterations)
        evals_left = (INT32_MAX if criteria.max_evals is None
                      else criteria.max_evals - tally.n_evals)
        dispatch_limits = limits(max_steps, evals_left, criteria.dlogz, state.logZ.dtype)
        began = time.perf_counter()
        state, block = runner.block(loop_key, state, tally.n_iterations, dispatch_limits)
        block = jax.device_get(block)
        n = int(block.n_steps)
        rows = jax.tree.map(lambda a, n=n: a[:n], block.info)
        dead.append(rows)
        tally.add(rows)
        if int(block.stop):
            return dead, state, tally, kernel.TERMINATIONS[int(block.stop)]
        elapsed = max(time.perf_counter() - began, 1e-6)
        steps = max(1, min(capacity, int(n * _DISPATCH_SECONDS / elapsed), 2 * n))


def _host_termination(criteria: _Criteria, tally, state, dead, start) -> str | None:
    """Criteria checked between dispatches (the device checks plateau, dlogz, max_evals)."""
    if criteria.max_evals is not None and tally.n_evals >= criteria.max_evals:
        return "max_evals"
    if tally.n_iterations >= criteria.max_iterations:
        return "max_iterations"
    if criteria.max_time is not None and time.perf_counter() - start >= criteria.max_time:
        return "max_time"
    if criteria.min_ess is not None and dead:
        live = jax.device_get(state.loglike)
        dead_loglike = np.concatenate([d.loglike.reshape(-1) for d in dead])
        ess = evidence.running_ess(dead_loglike, live, tally.n_live, tally.num_delete)
        if ess >= criteria.min_ess:
            return "min_ess"
    return None


class _Tally:
    """Running host-side totals of what the iterations report (Python ints: no overflow)."""

    def __init__(self, n_live: int, num_delete: int):
        self.n_live, self.num_delete = n_live, num_delete
        self.n_iterations = self.n_invalid = self.n_failed_steps = 0
        self.lanes = dict.fromkeys(("physical", "useful", "physical_queued", "useful_queued"), 0)

    def add(self, rows: kernel.StepInfo, iterations: bool = True) -> None:
        """Add stacked iterations (a leading axis); the initialisation is no iteration."""
        self.n_iterations += len(rows.n_invalid) if iterations else 0
        self.n_invalid += int(np.sum(rows.n_invalid, dtype=np.int64))
        self.n_failed_steps += int(np.sum(rows.n_failed_steps, dtype=np.int64))
        for key in self.lanes:
            self.lanes[key] += int(np.sum(getattr(rows.lanes, key), dtype=np.int64))

    @property
    def n_evals(self) -> int:
        return self.lanes["useful"]

    def counts(self) -> dict:
        return dict(n_evals=self.n_evals, n_evals_physical=self.lanes["physical"],
                    lane_usage=dict(self.lanes), n_invalid=self.n_invalid,
                    n_failed_steps=self.n_failed_steps)


# --- running with out-of-memory recovery -----------------------------------------------

#: Test hook: called as ``_before_dispatch(iteration, chunk_size)`` before every dispatch
#: (tests raise an injected RESOURCE_EXHAUSTED from it). None in normal use.
_before_dispatch = None


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(exc)


class _Runner:
    """Dispatches init and blocks; on out-of-memory halves the chunk, recompiles and
    redoes the dispatch from the same (last good) state.

    Results do not depend on the chunk size, so a recovered run equals a run started
    with the smaller chunk.
    """

    def __init__(self, compiler: Compiler, program: Program):
        self.compiler, self.program = compiler, program
        self.history: list[dict] = []

    @property
    def chunk_size(self) -> int:
        return resolve_chunk_size(self.program.settings.chunk_size,
                                  self.program.settings.num_delete)

    def _call(self, iteration: int, fn_name: str, *args):
        while True:
            try:
                if _before_dispatch is not None:
                    _before_dispatch(iteration, self.chunk_size)
                # Block here so that an out-of-memory error surfaces inside the retry.
                return jax.block_until_ready(getattr(self.program, fn_name)(*args))
            except Exception as exc:
                if not _is_out_of_memory(exc):
                    raise
                self._halve(iteration, exc)

    def _halve(self, iteration: int, exc: BaseException) -> None:
        chunk = self.chunk_size
        if chunk == 1:
            raise RuntimeError(
                f"out of device memory at iteration {iteration} with chunk_size=1: one "
                f"likelihood evaluation per lane does not fit (compiled peak "
                f"{format_bytes(self.program.peak)}); free device memory or reduce the model"
            ) from exc
        logger.warning("out of device memory at iteration %d with chunk_size=%d; retrying "
                       "the iteration with chunk_size=%d", iteration, chunk, chunk // 2)
        self.history.append(dict(iteration=iteration, chunk_size=chunk // 2,
                                 reason="RESOURCE_EXHAUSTED", error=str(exc).splitlines()[0]))
        self.program = self.compiler.program(chunk // 2)

    def init(self, key):
        return self._call(0, "init", key)

    def block(self, loop_key, state, iteration: int, limits: kernel.Limits):
        return self._call(iteration, "block", loop_key, state, jnp.int32(iteration), limits)


def _finalise(dead, state, prior, *, seed, settings, counts, termination, timing, memory) -> Result:
    """Append the final live points (in likelihood order) and compute the statistics."""
    dead = [jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), d) for d in dead]
    order = np.argsort(np.asarray(state.loglike), kind="stable")
    positions = np.concatenate([d.positions for d in dead] + [state.positions[order]])
    loglike = np.concatenate([d.loglike for d in dead] + [state.loglike[order]])
    loglike_birth = np.concatenate([d.loglike_birth for d in dead] + [state.loglike_birth[order]])
    prior_draw = np.concatenate([d.prior_draw for d in dead] + [state.prior_draw[order]])
    n_live_at_death = evidence.live_counts(loglike, loglike_birth, prior_draw)
    stats = evidence.statistics(loglike, n_live_at_death, np.random.default_rng(seed))
    import slicens

    return Result(
        logZ=stats.logZ,
        logZ_err=stats.logZ_err,
        positions=np.asarray(positions, dtype=np.float64),
        loglike=np.asarray(loglike, dtype=np.float64),
        loglike_birth=np.asarray(loglike_birth, dtype=np.float64),
        n_live_at_death=n_live_at_death,
        log_weights=stats.log_weights,
        ess=stats.ess,
        information=stats.information,
        termination=termination,
        memory=memory,
        **timing,
        names=tuple(prior.names),
        labels=tuple(prior.labels),
        settings=settings,
        versions={"slicens": slicens.__version__, "jax": jax.__version__},
        **counts,
    )
