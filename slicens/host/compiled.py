"""The compiled programs of a run (initialisation and a multi-iteration block), their
memory, and the chunk size chosen for a memory budget.

Programs are compiled ahead of time (``jit(...).lower(...).compile()``), so XLA's memory
analysis is read before anything runs, the executable that was measured is the one that
runs, and compilation is timed apart from sampling.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from slicens.core import blocks, kernel
from slicens.core.chunking import Execution
from slicens.host import processes
from slicens.host.memory import (
    CompiledMemory,
    choose_chunk_size,
    format_bytes,
    memory_of,
    resolve_budget,
)
from slicens.host.platform import compiler_options

__all__ = ["Program", "Compiler", "choose_program", "chunk_to_retry", "limits", "INT32_MAX",
           "is_out_of_memory",
           "halved_chunk"]

logger = logging.getLogger("slicens")


@dataclass(frozen=True)
class Program:
    """The compiled init and multi-iteration block for one chunk size. ``init`` and
    ``init_memory`` are None when the run needs no initialisation (a resumed run)."""

    settings: kernel.Settings
    execution: Execution
    init: Callable | None
    block: Callable
    init_memory: CompiledMemory | None
    block_memory: CompiledMemory | None  # None: the backend gives no memory analysis

    @property
    def peak(self) -> int | None:
        """Compiled peak bytes of the programs the run executes (None: not known)."""
        if self.block_memory is None or (self.init is not None and self.init_memory is None):
            return None
        init_peak = 0 if self.init_memory is None else self.init_memory.peak
        return max(init_peak, self.block_memory.peak)


def _no_analysis() -> RuntimeError:
    return RuntimeError(
        f"chunk_size='auto' needs XLA's compiled memory analysis, which backend "
        f"{jax.default_backend()!r} does not give; pass an integer chunk_size")


@functools.lru_cache(maxsize=32)
def _traced_init(loglike: Callable, prior, settings: kernel.Settings, execution: Execution):
    """The traced init program (traced once: its output shapes type the block too)."""
    fn = jax.jit(lambda key: kernel.init(key, loglike, prior, settings, execution))
    start = time.perf_counter()
    traced = fn.trace(jax.random.key(0))
    return traced, time.perf_counter() - start


def _init_trace(loglike, prior, settings, execution) -> tuple:
    """The traced init and the seconds its tracing took now (0 when it was cached)."""
    misses = _traced_init.cache_info().misses
    traced, seconds = _traced_init(loglike, prior, settings, execution)
    return traced, seconds if _traced_init.cache_info().misses > misses else 0.0


#: Compiled init and block programs kept for reuse (each cache). Each XLA:CPU executable
#: of a run holds ~900 memory mappings (measured, jax 0.9.2: ~1,730 per run of a small
#: Gaussian); Linux allows 65,530 per process (vm.max_map_count), and past that XLA's
#: next compilation dies with a segmentation fault. With 32 of each kept, a process that
#: ran ~30 different likelihoods (the test suite did) crossed the limit.
PROGRAMS_KEPT = 8


@functools.lru_cache(maxsize=PROGRAMS_KEPT)
def compile_init(loglike: Callable, prior, settings: kernel.Settings, execution: Execution):
    """``(compiled, memory, seconds)``; ``seconds`` splits tracing from XLA compilation."""
    traced, trace_seconds = _init_trace(loglike, prior, settings, execution)
    start = time.perf_counter()
    lowered = traced.lower()
    lowered_at = time.perf_counter()
    compiled = lowered.compile(compiler_options=compiler_options())
    seconds = dict(trace=trace_seconds, lower=lowered_at - start,
                   compile=time.perf_counter() - lowered_at)
    return compiled, memory_of(compiled), seconds


@functools.lru_cache(maxsize=PROGRAMS_KEPT)
def compile_block(loglike: Callable, prior, settings: kernel.Settings, execution: Execution,
                  capacity: int):
    """``(compiled, memory, seconds)``, as :func:`compile_init`."""
    key = jax.random.key(0)
    # The state's shapes from the traced init (shared with compile_init): no second trace
    # of the likelihood just to type the block's arguments.
    traced_init, init_trace_seconds = _init_trace(loglike, prior, settings, execution)
    state = traced_init.out_info[0]
    fn = jax.jit(
        lambda loop_key, state, iteration, limits: blocks.run_block(
            loop_key, state, iteration, limits, loglike, prior, settings, execution, capacity
        )
    )
    start = time.perf_counter()
    traced = fn.trace(key, state, jnp.int32(0), limits(0, 0, 0.0, None, state.logZ.dtype))
    traced_at = time.perf_counter()
    lowered = traced.lower()
    lowered_at = time.perf_counter()
    compiled = lowered.compile(compiler_options=compiler_options())
    seconds = dict(trace=init_trace_seconds + traced_at - start, lower=lowered_at - traced_at,
                   compile=time.perf_counter() - lowered_at)
    return compiled, memory_of(compiled), seconds


def limits(max_steps: int, evals_left: int, dlogz: float, min_ess: float | None,
           dtype) -> blocks.Limits:
    return blocks.Limits(jnp.int32(max_steps), jnp.int32(min(evals_left, INT32_MAX)),
                         jnp.asarray(dlogz, dtype),
                         jnp.asarray(jnp.inf if min_ess is None else min_ess, dtype))


INT32_MAX = 2**31 - 1


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is XLA running out of device memory (while compiling or running)."""
    return isinstance(exc, jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(exc)


#: Test hook: called as ``_before_compile(program, chunk_size)`` whenever a program is
#: asked for (tests raise an injected RESOURCE_EXHAUSTED from it, as XLA's GPU autotuner
#: does when it cannot allocate its scratch buffers). None in normal use.
_before_compile = None


class Compiler:
    """Compiles (and caches) the programs of one run, timing the compilations.

    ``compilations`` lists each program compiled for this run (cached ones are not
    compiled again and are not listed): which program, at which chunk size, why (to run
    it, or to measure memory for ``chunk_size="auto"``), the seconds spent tracing,
    lowering and in XLA, and ``out_of_memory: True`` where the compilation ran out of
    device memory.
    """

    def __init__(self, loglike, prior, settings: kernel.Settings, schedule: str, capacity: int,
                 need_init: bool = True, devices: tuple = ()):
        self.loglike, self.prior, self.settings, self.capacity = (
            loglike, prior, settings, capacity)
        self.schedule = schedule
        self.devices = devices  # sharded over these (none or one: one device's program)
        self.need_init = need_init  # False once initialised (or resuming): skip compiling it
        self.seconds = 0.0
        self.compilations: list[dict] = []
        self._block_peaks: dict[int, int | None] = {}  # None: compiling ran out of memory

    def _timed(self, name: str, purpose: str, chunk, fn, *args):
        before = fn.cache_info().misses
        start = time.perf_counter()
        try:
            if _before_compile is not None:
                _before_compile(name, chunk)
            compiled, memory, seconds = fn(*args)
        except Exception as exc:
            if is_out_of_memory(exc):
                self.compilations.append(dict(program=name, chunk_size=chunk, purpose=purpose,
                                              out_of_memory=True))
            raise
        finally:
            self.seconds += time.perf_counter() - start
        if fn.cache_info().misses > before:
            self.compilations.append(dict(program=name, chunk_size=chunk, purpose=purpose,
                                          **{k: round(v, 3) for k, v in seconds.items()}))
        return compiled, memory

    def block_peak(self, chunk: int) -> int | None:
        """The block's compiled peak bytes at ``chunk``, or None when compiling it ran out
        of device memory (it cannot fit); each size is compiled at most once."""
        if chunk not in self._block_peaks:
            try:
                memory = self._timed("block", "memory probe", chunk, compile_block, self.loglike,
                                     self.prior, self.settings, self._lanes(chunk, "block"),
                                     self.capacity)[1]
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                logger.info("compiling the block at chunk_size=%d ran out of device memory: "
                            "%s", chunk, str(exc).splitlines()[0])
                self._block_peaks[chunk] = None
            else:
                if memory is None:
                    raise _no_analysis()
                self._block_peaks[chunk] = memory.peak
        return self._block_peaks[chunk]

    def measured_peaks(self) -> dict[int, int | None]:
        """The block peaks measured so far (None: compiling ran out of memory)."""
        return dict(self._block_peaks)

    def recovering_program(self, chunk: int, history: list[dict],
                           iteration: int = 0) -> Program:
        """:meth:`program` at ``chunk``, halving the chunk while compiling runs out of
        device memory; each halving is logged and appended to ``history``."""
        while True:
            try:
                return self.program(chunk)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                chunk = halved_chunk(chunk, self.batch("block"), iteration, "compiling",
                                     exc, history)

    @property
    def n_devices(self) -> int:
        return max(1, len(self.devices))

    def batch(self, program: str) -> int:
        """The jobs of ``program`` each device runs: ``n_live`` evaluations for init,
        ``num_delete`` chains for a block, dealt out over the devices."""
        jobs = self.settings.n_live if program == "init" else self.settings.num_delete
        return -(-jobs // self.n_devices)

    def _lanes(self, chunk: int, program: str) -> Execution:
        """The execution ``program`` compiles for ``chunk`` lanes per device: a chunk
        above its batch per device is that batch, so chunks that give the same lanes
        share one compiled program."""
        return Execution(min(chunk, self.batch(program)), self.schedule, self.devices)

    def program(self, chunk: int) -> Program:
        init = init_memory = None
        if self.need_init:
            init, init_memory = self._timed("init", "run", chunk, compile_init, self.loglike,
                                            self.prior, self.settings, self._lanes(chunk, "init"))
        block, block_memory = self._timed("block", "run", chunk, compile_block, self.loglike,
                                          self.prior, self.settings, self._lanes(chunk, "block"),
                                          self.capacity)
        for record in self.compilations:  # a probed block that is also the one run
            if (record["program"], record["chunk_size"], record["purpose"]) == (
                    "block", chunk, "memory probe"):
                record["purpose"] = "memory probe and run"
        return Program(self.settings, Execution(chunk, self.schedule, self.devices), init,
                       block, init_memory, block_memory)


def halved_chunk(chunk: int, chains: int, iteration: int, stage: str,
                 exc: BaseException, history: list[dict]) -> int:
    """The chunk after an out-of-memory error at ``chunk`` (logged and appended to
    ``history``): half the lanes of an iteration's batch of ``chains`` per device (a
    chunk above it, as the ``n_live`` of ``chunk_size=None``, counts as ``chains``);
    raises at chunk 1, where there is nothing left to halve."""
    chunk = min(chunk, chains)
    if chunk == 1:
        raise RuntimeError(
            f"out of device memory {stage} at iteration {iteration} with chunk_size=1: one "
            f"likelihood evaluation per lane does not fit; free device memory or reduce the "
            f"model") from exc
    logger.warning("out of device memory %s at iteration %d with chunk_size=%d; retrying "
                   "with chunk_size=%d", stage, iteration, chunk, chunk // 2)
    history.append(dict(iteration=iteration, stage=stage, chunk_size=chunk // 2,
                        reason="RESOURCE_EXHAUSTED", error=str(exc).splitlines()[0]))
    return chunk // 2


def chunk_to_retry(exc: BaseException, chunk: int, chains: int, iteration: int,
                   history: list[dict]) -> int:
    """The chunk to redo a dispatch at after ``exc`` ran it at ``chunk``
    (:func:`halved_chunk`). Re-raises ``exc`` unless the device ran out of memory, and
    refuses under several JAX processes, whose others wait in collectives and cannot
    retry together."""
    if not is_out_of_memory(exc):
        raise exc
    if processes.several():
        raise RuntimeError(
            f"out of device memory at iteration {iteration} with chunk_size={chunk}, under "
            f"{jax.process_count()} JAX processes, which cannot retry together: run again "
            f"with a smaller chunk_size or memory_budget (a checkpoint continues the run)"
        ) from exc
    return halved_chunk(chunk, chains, iteration, "running", exc, history)


def choose_program(compiler: Compiler, chunk_size: int | str, memory_budget,
                   history: list[dict]) -> tuple[Program, dict]:
    """The program to run and a record of how its chunk size was chosen (``mode``, the
    budget or limit and, for ``"auto"``, the memory line); the run adds the chunk it
    finished with, that program's compiled peak and ``history``.

    ``chunk_size`` is ``"auto"`` or a positive integer (``settings.resolve`` made
    ``None`` the largest batch, ``n_live``).

    Compilation that runs out of device memory halves the chunk (appended to
    ``history``). An explicit chunk whose compiled peak exceeds ``memory_budget`` (or,
    without one, the device's free memory) is not started: the run takes the chunk
    ``chunk_size="auto"`` chooses instead, with a warning and a ``history`` entry.
    """
    if chunk_size != "auto":
        program, record = _explicit_program(compiler, chunk_size, memory_budget, history)
    else:
        program, record = _auto_program(compiler, memory_budget, history)
    return _agreed(compiler, program, history), record


def _agreed(compiler: Compiler, program: Program, history: list[dict]) -> Program:
    """The program at the least chunk of any process (one with several JAX processes):
    each chose from its own devices' memory and compilations, but all must run one."""
    while True:  # every process sees the same gathered chunks, so all loop alike
        chunks = processes.gathered(program.execution.chunk_size)
        if chunks.min() == chunks.max():
            return program
        program = compiler.recovering_program(int(chunks.min()), history)


def _auto_program(compiler: Compiler, memory_budget, history: list[dict]) -> tuple[Program, dict]:
    """The program ``chunk_size="auto"`` chooses."""
    chains = compiler.batch("block")  # an iteration's chains on each device
    budget, source = resolve_budget(memory_budget, devices=compiler.devices)
    choice = choose_chunk_size(compiler.block_peak, budget, chains)
    program = compiler.recovering_program(choice.chunk_size, history)
    record = dict(
        mode="auto",
        budget=budget,
        budget_source=source,
        predicted_peak=choice.predicted_peak,
        base=None if choice.model is None else choice.model.base,
        per_lane=None if choice.model is None else choice.model.per_lane,
        measured={int(k): None if v is None else int(v) for k, v in choice.measured.items()},
    )
    logger.info(
        "slicens chose chunk_size=%d (of %d chains per iteration and device): compiled peak %s, "
        "budget %s (%s)", choice.chunk_size, chains, format_bytes(program.peak),
        format_bytes(budget), source)
    if program.peak > budget:  # the line fit missed: say so rather than hide it
        logger.warning("the compiled peak %s at chunk_size=%d exceeds the memory budget %s "
                       "(predicted %s)", format_bytes(program.peak), choice.chunk_size,
                       format_bytes(budget), format_bytes(choice.predicted_peak))
    return program, record


def _explicit_program(compiler: Compiler, chunk_size: int, memory_budget,
                      history: list[dict]) -> tuple[Program, dict]:
    """The program for a chunk the user chose, unless its compiled peak cannot fit."""
    program = compiler.recovering_program(chunk_size, history)
    record = dict(mode="fixed")
    if program.peak is None:
        logger.warning("chunk_size=%s cannot be checked against the device's memory: backend "
                       "%r gives no compiled memory analysis", chunk_size, jax.default_backend())
        return program, record
    # The chunk is the user's choice: only what certainly cannot fit (all the free
    # memory, not auto's default share of it) is refused.
    limit, source = resolve_budget(memory_budget, default="100%", devices=compiler.devices)
    record.update(limit=limit, limit_source=source)
    if program.peak <= limit:
        return program, record
    # Known not to fit before anything ran: take what chunk_size="auto" chooses.
    budget, budget_source = resolve_budget(memory_budget, devices=compiler.devices)
    too_big = (f"chunk_size={chunk_size} compiles to a peak of {format_bytes(program.peak)}, "
               f"more than {format_bytes(limit)}, the {source}")
    try:
        choice = choose_chunk_size(compiler.block_peak, budget, compiler.batch("block"))
    except ValueError as exc:
        raise ValueError(f"{too_big}, and no smaller chunk fits either: {exc}") from None
    logger.warning("%s; running with chunk_size=%d instead, the chunk chunk_size='auto' "
                   "chooses for a budget of %s (%s)", too_big, choice.chunk_size,
                   format_bytes(budget), budget_source)
    history.append(dict(iteration=0, stage="before sampling", chunk_size=choice.chunk_size,
                        reason="compiled peak over the limit",
                        error=f"{too_big}; chunk_size='auto' chooses {choice.chunk_size}"))
    program = compiler.recovering_program(choice.chunk_size, history)
    record.update(budget=budget, budget_source=budget_source)
    return program, record
