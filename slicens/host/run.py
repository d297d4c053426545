"""``slicens.run``: validate, seed, compile, own the loop, finalise."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from slicens.core import blocks, evidence, kernel
from slicens.host.checkpoint import Checkpoint, CheckpointError, Loaded, differences, identity
from slicens.host.compiled import Compiler, choose_program
from slicens.host.loop import (
    Criteria,
    Loop,
    Runner,
    rows_from_arrays,
    state_from_arrays,
    stored_tally,
)
from slicens.host.platform import warn_if_hazardous
from slicens.host.progress import make_display
from slicens.host.results import Result, jsonable
from slicens.host.settings import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_DLOGZ,
    DEFAULT_MAX_SHRINKAGE,
    DEFAULT_N_LIVE,
    check_int,
    check_positive,
    default_num_inner_steps,
    resolve,
)

__all__ = ["run", "default_num_inner_steps"]

logger = logging.getLogger("slicens")

#: ``run`` warns that the chains do not mix when a mixing test's p-value is below this
#: and, for the start-to-end rank correlation, the correlation is at least
#: ``START_CORRELATION_ALARM``. Measured: one slice step on the correlated 10-d Gaussian gives
#: rho = 0.59 (logZ +2 nats), three steps 0.22-0.25 (+1 nat), the default 30 steps
#: 0.003-0.006; on a 2-d problem with the default 6 steps rho = 0.11-0.18 with no
#: measurable logZ bias (6 seeds), which a p-value alone would flag on long runs.
MIXING_ALARM = 1e-3
START_CORRELATION_ALARM = 0.2


def run(
    loglike: Callable,
    prior,
    *,
    n_live: int = DEFAULT_N_LIVE,
    num_delete: int | None = None,
    num_inner_steps: int | str | None = "auto",
    chunk_size: int | str | None = "auto",
    memory_budget: int | str | None = None,
    schedule: str = "lanes",
    seed: int = 0,
    dlogz: float = DEFAULT_DLOGZ,
    max_evals: int | None = None,
    max_iterations: int | None = None,
    max_time: float | None = None,
    min_ess: float | None = None,
    max_expansions: int | None = None,
    max_shrinkage: int = DEFAULT_MAX_SHRINKAGE,
    checkpoint: str | os.PathLike | None = None,
    resume: bool | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
    likelihood_id: str | None = None,
    progress: bool | str = "auto",
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
        ``"auto"`` (the default; ``None`` means the same): each replacement chain first
        tries up to ``max(4, dim)`` *ellipsoid jumps* (Metropolis independence proposals
        drawn uniformly from a cross-validated ellipsoid around the live points, exact
        for any ellipsoid) and then takes slice steps, at most
        :func:`default_num_inner_steps`, fewer as more chains jump: a chain that jumped
        holds a draw independent of its start, so only the others need the steps, and
        never fewer than a third of the maximum (``slicens.core.jumps.adapted_steps``). The steps
        used per iteration are in ``result.inner_steps_per_iteration``. An integer:
        exactly that many slice steps per chain and no jumps (the default until
        ``"auto"``).
    chunk_size
        At most this many particles are evaluated at once, for both the initial
        ``n_live`` evaluations and the ``num_delete`` chains. ``"auto"`` (the default)
        takes the largest chunk (up to ``num_delete``) whose compiled peak memory fits
        ``memory_budget``; it compiles the iteration at ``num_delete`` and, only if that
        does not fit, once more at 2 to fit the memory line (a size whose compilation
        runs out of device memory counts as not fitting). ``None`` evaluates each batch
        at once (``result.memory["chunk_size"]`` then reports ``n_live``). An integer
        (or ``None``) whose compiled peak exceeds ``memory_budget``, or without one the
        device's free memory, is not started: the run warns and takes the chunk
        ``"auto"`` chooses (``result.memory["history"]``). Results do not depend on it.
    memory_budget
        Bytes, a size string (``"6GB"``; binary units, 1 GB = 2**30 bytes) or a
        percentage of free memory (``"80%"``). For ``chunk_size="auto"`` the budget the
        chunk is chosen for; default 80% of the free memory of JAX's first device
        (available RAM on CPU). For an explicit chunk, the limit its compiled peak is
        checked against; default the device's free memory.
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
        points at that moment) reaches this (checked on the device after every
        iteration). Default None.
    max_expansions
        Stepping out takes at most ``max_expansions - 1`` expansions. Default: 1 under
        ``num_inner_steps="auto"`` (a 6-sd bracket that only shrinks), 10 with an integer
        ``num_inner_steps`` (a 2-sd bracket that steps out, the earlier default).
    max_shrinkage
        Shrinkage draws per slice step before the chain stays put. Default is 100.
    checkpoint
        Path of a checkpoint file (see :mod:`slicens.host.checkpoint`). The run appends its dead
        points and live state there every ``checkpoint_every`` seconds and at the end; a
        later call with the same path continues an unfinished run exactly (the result
        equals an uninterrupted run's bit for bit). A run is finished once it converges
        (``dlogz``, ``min_ess`` or a plateau); one stopped by ``max_evals``,
        ``max_iterations`` or ``max_time`` is unfinished, and the next call continues it
        under that call's stopping rules. Default None (no checkpoint).
    resume
        What to do with an existing checkpoint. None (default): continue an unfinished
        run, refuse a finished one. True: continue an unfinished run, or return a finished
        run's stored result (logged). False: refuse any existing file. A checkpoint from a
        different run (dimension, n_live, num_delete, num_inner_steps, seed, prior,
        ``likelihood_id``, ...) is always refused, listing the differences.
    checkpoint_every
        Seconds between checkpoint writes (0: after every dispatch). Default 60.
    likelihood_id
        Declares the likelihood's identity for checkpoints (change it when the data or
        model change). Default: the function's module and qualified name.
    progress
        ``"auto"`` (default): a live display on a terminal (tqdm or rich if installed),
        a plain line every 30 s otherwise; ``False``: silent; or ``"tqdm"``, ``"rich"``,
        ``"log"`` (plain lines) to force one.

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
        When the device runs out of memory (compiling or running) even at
        ``chunk_size=1``.
    FileExistsError, slicens.host.checkpoint.CheckpointError
        For a checkpoint that ``resume`` does not allow, or that belongs to another run or
        cannot be read.
    """
    start_time = time.perf_counter()
    prior, settings, chunk, chosen = resolve(
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
    check_positive("checkpoint_every", checkpoint_every, allow_none=False, allow_zero=True)
    if resume not in (None, True, False):
        raise ValueError(f"resume must be None, True or False, got resume={resume!r}")
    display = make_display(progress)
    warn_if_hazardous()

    run_settings = dict(settings._asdict(), schedule=schedule, memory_budget=memory_budget,
                        seed=seed, dlogz=dlogz, max_evals=max_evals,
                        max_iterations=max_iterations, max_time=max_time, min_ess=min_ess,
                        chosen=chosen)
    store, loaded = None, None
    if checkpoint is not None:
        run_identity = _identity(loglike, prior, settings, seed, likelihood_id)
        store, loaded = _open_checkpoint(Path(checkpoint), resume, run_identity)
        if loaded is not None and loaded.finished is not None:
            display.close()
            return _stored_result(loaded, prior, seed, store.path)
        run_settings["checkpoint"] = str(checkpoint)

    capacity = blocks.block_capacity(settings.num_delete, prior.dim,
                                     keep_per_chain=settings.keep_per_chain)
    resuming = loaded is not None and loaded.snapshot is not None
    compiler = Compiler(loglike, prior, settings, schedule, capacity, need_init=not resuming)
    history: list[dict] = []  # out-of-memory recoveries, from choosing the program on
    program, memory = choose_program(compiler, chunk, memory_budget, history)
    loop = Loop(Runner(compiler, program, history),
                 Criteria(dlogz, max_evals, max_iterations, max_time, min_ess),
                 store, checkpoint_every, display)
    init_key, loop_key = jax.random.split(jax.random.key(seed))
    if resuming:
        state = loop.start_from(loaded)
    else:
        state = loop.start_fresh(init_key)
    state, termination = loop.iterate(loop_key, state)
    converged = termination in blocks.CONVERGED
    if not converged:
        logger.warning("slicens stopped by %s before the dlogz criterion was met%s",
                       termination, "" if store is None else
                       f"; calling again with checkpoint={str(store.path)!r} continues it")

    memory.update(requested_chunk_size=chunk_size, chunk_size=loop.runner.chunk_size,
                  compiled_peak=loop.runner.program.peak, history=loop.runner.history)
    run_settings["resumed_at_iteration"] = loop.resumed_from
    finished = dict(
        settings=run_settings,
        counts=dict(loop.tally.counts(), n_iterations=loop.tally.n_iterations),
        termination=termination,
        timing=dict(wall_time=time.perf_counter() - start_time, compile_time=compiler.seconds,
                    compilations=compiler.compilations),
        memory=memory,
    )
    loop.finish(state, jsonable(finished), converged)
    return _finalise(loop.dead, jax.device_get(state), prior, seed=seed, **finished)


def _identity(loglike, prior, settings: kernel.Settings, seed: int, likelihood_id) -> dict:
    if likelihood_id is None:
        likelihood_id = (f"{getattr(loglike, '__module__', '?')}."
                         f"{getattr(loglike, '__qualname__', type(loglike).__name__)}")
    elif not isinstance(likelihood_id, str):
        raise TypeError(f"likelihood_id must be a string, got likelihood_id={likelihood_id!r}")
    dtype = jax.eval_shape(lambda k: prior.sample(k, 1), jax.random.key(0)).dtype
    return identity(dim=prior.dim, dtype=dtype, n_live=settings.n_live,
                    num_delete=settings.num_delete,
                    num_inner_steps="auto" if settings.adaptive else settings.num_inner_steps,
                    max_expansions=settings.max_expansions,
                    max_shrinkage=settings.max_shrinkage, seed=seed,
                    likelihood_id=likelihood_id, prior=prior)


def _open_checkpoint(path: Path, resume, run_identity: dict):
    """``(store, loaded)`` for ``path``: a new checkpoint, or an existing one checked
    against this run and ``resume``."""
    if not path.exists():
        if resume is True:
            logger.info("no checkpoint at %s yet: starting a new run", path)
        return Checkpoint.create(path, run_identity), None
    if resume is False:
        raise FileExistsError(f"checkpoint {path} exists and resume=False; remove it or pass "
                              "resume=None to continue an unfinished run")
    store, loaded = Checkpoint.open(path)
    mismatch = differences(loaded.header["identity"], run_identity)
    if mismatch:
        raise CheckpointError(f"checkpoint {path} belongs to a different run:\n  "
                              + "\n  ".join(mismatch))
    if loaded.damage:
        logger.warning("checkpoint %s: %s; continuing from the last intact snapshot "
                       "(iteration %s)", path, loaded.damage,
                       "none" if loaded.snapshot is None
                       else stored_tally(loaded.snapshot)["n_iterations"])
    if loaded.finished is not None and resume is not True:
        raise FileExistsError(f"checkpoint {path} holds a finished run; pass resume=True to "
                              "return its stored result, or remove the file to run again")
    return store, loaded


def _stored_result(loaded: Loaded, prior, seed: int, path: Path) -> Result:
    logger.warning("returning the finished run stored in %s (resume=True); nothing was "
                   "sampled", path)
    finished = dict(loaded.finished)
    state = state_from_arrays(loaded.snapshot)
    finished["settings"] = dict(finished["settings"], reused_finished_checkpoint=str(path))
    return _finalise([rows_from_arrays(a) for a in loaded.dead], jax.device_get(state),
                     prior, seed=seed, **finished)


def _warn_if_not_mixing(insertion, start_correlation, num_inner_steps: int) -> None:
    failed = []
    if insertion.pvalue < MIXING_ALARM:
        failed.append(f"insertion-order test z = {insertion.zscore:.1f}, "
                      f"p = {insertion.pvalue:.1e}")
    if start_correlation.pvalue < MIXING_ALARM and start_correlation.rho >= START_CORRELATION_ALARM:
        failed.append(f"start-to-end rank correlation {start_correlation.rho:.2f}, "
                      f"p = {start_correlation.pvalue:.1e}")
    if failed:
        warnings.warn(
            f"the replacement chains do not mix ({'; '.join(failed)}, over "
            f"{insertion.n} insertions): new points are not independent draws from the "
            f"constrained prior, which biases logZ; increase num_inner_steps (now "
            f"{num_inner_steps})", RuntimeWarning, stacklevel=3)


def _warn_if_modes_depleted(modes) -> None:
    """Warn about modes with implausibly few live points for their volume (checked where
    the run split its live points into clusters; ``result.modes.depleted()`` checks any
    run)."""
    for k in modes.depleted():
        expected = modes.live_points.sum() * modes.volume_share[k]
        warnings.warn(
            f"mode {k} of {modes.mass.size} (posterior mass {modes.mass[k]:.3g} +/- "
            f"{modes.mass_err[k]:.2g}) held {modes.live_points[k]} live points at log L = "
            f"{modes.contour:.4g} where its volume predicts about {expected:.0f}: its mass "
            f"is likely too small (the live points drifted between modes, which the jumps "
            f"between modes did not undo); rerun with more live points", RuntimeWarning,
            stacklevel=3)


def _kept_points(dead, dim: int) -> dict:
    """The chains' intermediate points (for the boosted posterior), unused slots dropped."""
    positions = np.concatenate([np.zeros((0, dim))] + [
        np.asarray(d.kept_positions, np.float64).reshape(-1, dim) for d in dead])
    loglike = np.concatenate([np.zeros(0)] + [
        np.asarray(d.kept_loglike, np.float64).reshape(-1) for d in dead])
    used = ~np.isnan(loglike)
    return dict(kept_positions=positions[used], kept_loglike=loglike[used])


def _per_iteration(dead, field, dtype) -> np.ndarray:
    return np.concatenate([np.zeros(0, dtype)] + [np.asarray(field(d), dtype) for d in dead])


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
    ranks = np.concatenate([np.zeros(0, np.int32)] + [d.insertion_rank for d in dead])
    start_ranks = np.concatenate([np.zeros(0, np.int32)] + [d.start_rank for d in dead])
    n_ranks = settings["n_live"] - settings["num_delete"] + 1
    insertion = evidence.insertion_test(ranks, n_ranks)
    start_correlation = evidence.start_correlation_test(start_ranks, ranks)
    if np.unique(loglike).size < loglike.size:  # ties: ranks are not uniform by design
        logger.info("tied log-likelihoods (a plateau): the mixing tests are not meaningful "
                    "and raise no warning")
    else:
        _warn_if_not_mixing(insertion, start_correlation, settings["num_inner_steps"])
    import slicens

    result = Result(
        logZ=stats.logZ,
        logZ_err=stats.logZ_err,
        positions=np.asarray(positions, dtype=np.float64),
        loglike=np.asarray(loglike, dtype=np.float64),
        loglike_birth=np.asarray(loglike_birth, dtype=np.float64),
        n_live_at_death=n_live_at_death,
        log_weights=stats.log_weights,
        insertion_ranks=ranks,
        start_ranks=start_ranks,
        insertion_test=insertion._asdict(),
        start_correlation_test=start_correlation._asdict(),
        evals_per_iteration=_per_iteration(dead, lambda d: d.lanes.useful, np.int64),
        inner_steps_per_iteration=_per_iteration(dead, lambda d: d.inner_steps, np.int32),
        jumps_per_iteration=_per_iteration(dead, lambda d: d.n_jumped, np.int32),
        clusters_per_iteration=_per_iteration(dead, lambda d: d.n_clusters, np.int32),
        **_kept_points(dead, prior.dim),
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
    if result.split_into_clusters:
        _warn_if_modes_depleted(result.modes)
    return result
