"""``slicens.run``: validate, seed, compile, own the loop, finalise."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import jax

from slicens.core import blocks, kernel
from slicens.host import bounded, processes
from slicens.host.bounded_result import BoundedResult
from slicens.host.checkpoint import (
    Checkpoint,
    Loaded,
    exists_to_resume,
    identity,
    likelihood_identity,
    refuse_another_run,
    refuse_finished,
)
from slicens.host.compiled import Compiler, choose_program
from slicens.host.finalise import finalise
from slicens.host.loop import (
    Criteria,
    Loop,
    Runner,
    rows_from_arrays,
    state_from_arrays,
    stored_tally,
)
from slicens.host.method_choice import choose_method
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
    resolve_devices,
)
from slicens.priors import as_prior

__all__ = ["run", "default_num_inner_steps"]

logger = logging.getLogger("slicens")

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
    devices=None,
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
    method: str = "slice",
    f_live: float | None = None,
    n_batch: int | None = None,
    refine: bool | None = None,
    exploration: str | None = None,
) -> Result | BoundedResult:
    """Run nested slice sampling (``method="slice"``, the default) or draw from bounds with
    importance weights (``method="bounds"``, new).

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
    devices
        The devices the particles are sharded over: ``None`` (the default) every device
        of JAX's default backend (``jax.devices()``), an integer ``n`` the first ``n`` of
        them, or a list of ``jax.Device``. Each device runs ``chunk_size`` lanes on its
        share of each batch (chain ``i`` on device ``i % len(devices)``), so memory per
        device is that of one device's run and throughput grows with the devices; with
        several, ``chunk_size`` and ``memory_budget`` are per device. One device compiles
        the single-device program. Results do not depend on it. Under several JAX
        processes (``jax.distributed.initialize()``) ``jax.devices()`` lists every
        process's devices and each process must drive one of those chosen; every process
        makes the same call and gets the same result, and process 0 alone writes the
        checkpoint and progress (README, "Several processes and hosts").
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
    method
        ``"slice"`` (default): nested sampling with slice chains, as above.
        ``"bounds"``: points drawn uniformly from bounds (unions of ellipsoids fitted to
        the best points in the prior's unit cube, refined by networks), weighed by
        importance; an exploration phase fits the bounds, a sampling phase draws from
        them (:mod:`slicens.host.bounded`; docs/design.md, "Bounded draws"). It needs a
        prior with a unit-cube transform, stops at ``min_ess`` (default 10,000),
        ``max_evals`` or ``max_time``, returns a :class:`slicens.BoundedResult` and
        refuses the nested-sampling arguments (``num_delete``, ``num_inner_steps``,
        ``max_expansions``, ``max_shrinkage``, ``dlogz``, ``max_iterations``). Its
        checkpoint holds the whole state (:mod:`slicens.host.bounded_checkpoint`): a
        continued run equals an uninterrupted one bit for bit.
        ``"auto"``: ``"bounds"`` where the prior has a unit-cube transform and ``dim`` is
        at most 10, ``"slice"`` otherwise (:mod:`slicens.host.method_choice`, from the
        costs measured for each); ``settings["chosen"]["method"]`` says which and why.
    f_live, n_batch, refine
        ``method="bounds"`` only: exploration ends once the ``n_live`` best points hold
        less than ``f_live`` of the evidence (default 0.01); points are drawn and
        evaluated ``n_batch`` at a time (default ``n_live // 4``); ``refine`` (default
        True): networks refine each bound (:mod:`slicens.core.network`).
    exploration
        ``method="bounds"`` only: ``"discard"`` (default), the estimate from the sampling
        phase's points; ``"reuse"`` (experimental), every point (:mod:`slicens.core.reuse`;
        docs/design.md, "Reusing the exploration"); ``"every"``, every point against all
        the draws (Nautilus's default; biased where bounds were fitted to the points).

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
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got method={method!r}")
    reason = None
    if method == "auto":
        prior = as_prior(prior)  # a joint prior: the methods take it as it is
        method, reason = choose_method(prior)
        logger.info("slicens chose method=%r (method='auto'): %s", method, reason)
    check_positive("checkpoint_every", checkpoint_every, allow_none=False, allow_zero=True)
    if resume not in (None, True, False):
        raise ValueError(f"resume must be None, True or False, got resume={resume!r}")
    if method == "bounds":
        result = _run_bounds(loglike, prior, start_time, n_live=n_live, num_delete=num_delete,
                           num_inner_steps=num_inner_steps, chunk_size=chunk_size,
                           memory_budget=memory_budget, schedule=schedule, devices=devices,
                           seed=seed, dlogz=dlogz, max_evals=max_evals,
                           max_iterations=max_iterations, max_time=max_time, min_ess=min_ess,
                           max_expansions=max_expansions, max_shrinkage=max_shrinkage,
                           checkpoint=checkpoint, resume=resume, progress=progress,
                           checkpoint_every=checkpoint_every, likelihood_id=likelihood_id,
                           f_live=f_live, n_batch=n_batch, refine=refine, exploration=exploration)
        if reason is not None:
            result.settings["chosen"]["method"] = reason
        return result
    for name, value in (("f_live", f_live), ("n_batch", n_batch), ("refine", refine),
                        ("exploration", exploration)):
        if value is not None:
            raise ValueError(f"{name} is an argument of method='bounds', got {name}={value!r} "
                             f"with method={method!r}")
    prior, settings, chunk, chosen = resolve(
        loglike, prior, n_live=n_live, num_delete=num_delete, num_inner_steps=num_inner_steps,
        chunk_size=chunk_size, memory_budget=memory_budget, schedule=schedule,
        max_expansions=max_expansions, max_shrinkage=max_shrinkage)
    if reason is not None:
        chosen["method"] = reason
    devices = resolve_devices(devices)
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
    display = make_display(progress if processes.is_writer() else False)
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
            return _stored_result(loaded, prior, seed, Path(checkpoint))
        run_settings["checkpoint"] = str(checkpoint)

    capacity = blocks.block_capacity(settings.num_delete, prior.dim,
                                     keep_per_chain=settings.keep_per_chain)
    resuming = loaded is not None and loaded.snapshot is not None
    compiler = Compiler(loglike, prior, settings, schedule, capacity, need_init=not resuming,
                        devices=devices)
    history: list[dict] = []  # out-of-memory recoveries, from choosing the program on
    program, memory = choose_program(compiler, chunk, memory_budget, history)
    loop = Loop(Runner(compiler, program, history),
                 Criteria(dlogz, max_evals, max_iterations, max_time, min_ess),
                 store, checkpoint_every, display)
    init_key, loop_key = jax.random.split(jax.random.key(seed))
    if resuming:
        state = loop.start_from(loaded)
        logger.info("resuming from %s at iteration %d (%d evaluations done)", checkpoint,
                    loop.tally.n_iterations, loop.tally.n_evals)
    else:
        state = loop.start_fresh(init_key)
    state, termination = loop.iterate(loop_key, state)
    converged = termination in blocks.CONVERGED
    if not converged:
        logger.warning("slicens stopped by %s before the dlogz criterion was met%s",
                       termination, "" if checkpoint is None else
                       f"; calling again with checkpoint={str(checkpoint)!r} continues it")

    memory.update(devices=[str(d) for d in devices] or [str(jax.devices()[0])],
                  requested_chunk_size=chunk_size, chunk_size=loop.runner.chunk_size,
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
    return finalise(loop.dead, jax.device_get(state), prior, seed=seed, **finished)


#: The samplers ``run`` offers (its ``method``; "auto": :mod:`slicens.host.method_choice`).
METHODS = ("slice", "bounds", "auto")


def _run_bounds(loglike, prior, start_time, *, n_live, num_delete, num_inner_steps, chunk_size,
                memory_budget, schedule, devices, seed, dlogz, max_evals, max_iterations,
                max_time, min_ess, max_expansions, max_shrinkage, checkpoint, resume,
                checkpoint_every, likelihood_id, f_live, n_batch, refine, exploration,
                progress):
    """``method="bounds"``: the arguments it takes checked, the others refused by name."""
    if num_inner_steps is None:
        num_inner_steps = "auto"
    refused = dict(num_delete=(num_delete, None), num_inner_steps=(num_inner_steps, "auto"),
                   max_expansions=(max_expansions, None),
                   max_shrinkage=(max_shrinkage, DEFAULT_MAX_SHRINKAGE),
                   dlogz=(dlogz, DEFAULT_DLOGZ), max_iterations=(max_iterations, None))
    for name, (value, default) in refused.items():
        if value is not default and value != default:
            raise ValueError(f"{name} is an argument of method='slice' (method='bounds' "
                             f"draws no chains), got {name}={value!r}")
    prior, _, _, _ = resolve(loglike, prior, n_live=n_live, num_delete=None,
                             num_inner_steps="auto", chunk_size=chunk_size,
                             memory_budget=memory_budget, schedule=schedule,
                             max_expansions=None, max_shrinkage=DEFAULT_MAX_SHRINKAGE)
    devices = resolve_devices(devices)
    check_int("seed", seed, 0)
    check_int("max_evals", max_evals, 1, allow_none=True)
    check_positive("max_time", max_time, allow_none=True)
    check_positive("min_ess", min_ess, allow_none=True)
    display = make_display(progress if processes.is_writer() else False)
    warn_if_hazardous()
    return bounded.run_bounded(
        loglike, prior, n_live=n_live, n_batch=n_batch,
        f_live=bounded.DEFAULT_F_LIVE if f_live is None else f_live, min_ess=min_ess,
        refine=bounded.DEFAULT_REFINE if refine is None else refine,
        exploration=bounded.DEFAULT_EXPLORATION if exploration is None else exploration,
        chunk_size=chunk_size, memory_budget=memory_budget, schedule=schedule,
        devices=devices, seed=seed, max_evals=max_evals, max_time=max_time,
        start_time=start_time, report=progress is not False, display=display,
        checkpoint=checkpoint,
        resume=resume, checkpoint_every=checkpoint_every,
        likelihood_id=likelihood_identity(loglike, likelihood_id))


def _identity(loglike, prior, settings: kernel.Settings, seed: int, likelihood_id) -> dict:
    likelihood_id = likelihood_identity(loglike, likelihood_id)
    dtype = jax.eval_shape(lambda k: prior.sample(k, 1), jax.random.key(0)).dtype
    return identity(dim=prior.dim, dtype=dtype, n_live=settings.n_live,
                    num_delete=settings.num_delete,
                    num_inner_steps="auto" if settings.adaptive else settings.num_inner_steps,
                    max_expansions=settings.max_expansions,
                    max_shrinkage=settings.max_shrinkage, seed=seed,
                    likelihood_id=likelihood_id, prior=prior)


def _open_checkpoint(path: Path, resume, run_identity: dict):
    """``(store, loaded)`` for ``path``: a new checkpoint, or an existing one checked
    against this run and ``resume``.

    Under several processes every process reads the checkpoint (it must lie on a
    filesystem they all see: checked) and process 0 alone writes it, once all have read
    it; ``store`` is None on the others."""
    if not exists_to_resume(path, resume):
        return (Checkpoint.create(path, run_identity) if processes.is_writer() else None), None
    store, loaded = Checkpoint.open(path)
    refuse_another_run(path, loaded.header["identity"], run_identity)
    if loaded.damage:
        logger.warning("checkpoint %s: %s; continuing from the last intact snapshot "
                       "(iteration %s)", path, loaded.damage,
                       "none" if loaded.snapshot is None
                       else stored_tally(loaded.snapshot)["n_iterations"])
    refuse_finished(path, loaded.finished is not None, resume)
    processes.barrier("slicens: checkpoint read")  # before process 0 writes to it
    return (store if processes.is_writer() else None), loaded


def _stored_result(loaded: Loaded, prior, seed: int, path: Path) -> Result:
    logger.warning("returning the finished run stored in %s (resume=True); nothing was "
                   "sampled", path)
    finished = dict(loaded.finished)
    state = state_from_arrays(loaded.snapshot)
    finished["settings"] = dict(finished["settings"], reused_finished_checkpoint=str(path))
    return finalise([rows_from_arrays(a) for a in loaded.dead], jax.device_get(state),
                     prior, seed=seed, **finished)
