"""The host side of sampling: dispatch compiled blocks, recover from out-of-memory,
collect dead points, check the criteria the device cannot, checkpoint, show progress.

Everything here runs between dispatches; the sampling itself is the pure compiled
programs of :mod:`slicens.host.compiled`, so what this module does (how long a dispatch is,
when a checkpoint is written, a retry after out-of-memory) never changes the result.
"""

from __future__ import annotations

import json
import logging
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slicens.core import blocks, evidence, kernel
from slicens.core.chunking import LaneStats
from slicens.host import processes
from slicens.host.checkpoint import Checkpoint, Loaded
from slicens.host.compiled import (
    INT32_MAX,
    Compiler,
    Program,
    chunk_to_retry,
    limits,
)
from slicens.host.progress import Snapshot

__all__ = ["Criteria", "Loop", "Runner", "Tally", "rows_from_arrays", "state_from_arrays",
           "restore_tally", "stored_tally"]

logger = logging.getLogger("slicens")


class Criteria(NamedTuple):
    dlogz: float
    max_evals: int | None
    max_iterations: int
    max_time: float | None
    min_ess: float | None


#: Aimed-for seconds per dispatch: short enough for live progress, long enough that the
#: host round trip is negligible.
_DISPATCH_SECONDS = 0.5


class Loop:
    """The host side of sampling: dispatch blocks, collect dead points, check the
    criteria the device cannot (time, ESS), checkpoint and show progress."""

    def __init__(self, runner: Runner, criteria: Criteria, store: Checkpoint | None,
                 checkpoint_every: float, display):
        self.runner, self.criteria, self.store, self.display = runner, criteria, store, display
        self.checkpoint_every = checkpoint_every
        settings = runner.program.settings
        self.tally = Tally(settings.n_live, settings.num_delete)
        self.dead: list[kernel.StepInfo] = []  # stacked rows, one entry per dispatch
        self.unsaved: list[kernel.StepInfo] = []  # dead rows not yet in the checkpoint
        self.start = self.last_saved = time.perf_counter()
        self.resumed_from = None
        self.evals_before = 0  # evaluations of earlier calls (a resumed run): not in the rate

    def start_fresh(self, init_key):
        state, info = self.runner.init(init_key)
        self.tally.add(jax.tree.map(lambda a: np.asarray(a)[None], jax.device_get(info)),
                       iterations=False)
        if self.tally.n_invalid == self.tally.n_live:
            raise ValueError(
                f"loglike returned NaN or +/-inf at all {self.tally.n_live} initial prior "
                "draws; check the likelihood on the prior's support"
            )
        self._save(state)  # the n_live initial evaluations are worth keeping
        return state

    def start_from(self, loaded: Loaded):
        self.dead = [rows_from_arrays(arrays) for arrays in loaded.dead]
        state = state_from_arrays(loaded.snapshot)
        restore_tally(self.tally, loaded.snapshot)
        self.resumed_from = self.tally.n_iterations
        self.evals_before = self.tally.n_evals
        return state

    def iterate(self, loop_key, state):
        """Dispatch blocks until a criterion is met. Returns ``(state, termination)``."""
        steps, capacity = 1, self.runner.compiler.capacity
        while True:
            termination, steps = self._agreed(self._host_termination(state), steps)
            if termination is not None:
                return state, termination
            max_steps = min(steps, capacity, self.criteria.max_iterations
                            - self.tally.n_iterations)
            evals_left = (INT32_MAX if self.criteria.max_evals is None
                          else self.criteria.max_evals - self.tally.n_evals)
            began = time.perf_counter()
            state, block = self.runner.block(
                loop_key, state, self.tally.n_iterations,
                limits(max_steps, evals_left, self.criteria.dlogz, self.criteria.min_ess,
                       state.logZ.dtype))
            block = jax.device_get(block)
            n = int(block.n_steps)
            if n:
                rows = jax.tree.map(lambda a, n=n: a[:n], block.info)
                self.dead.append(rows)
                self.unsaved.append(rows)
                self.tally.add(rows)
            if time.perf_counter() - self.last_saved >= self.checkpoint_every:
                self._save(state)
            if self.dead and self.display.due():
                self._show(state)
            if int(block.stop):
                return state, blocks.TERMINATIONS[int(block.stop)]
            elapsed = max(time.perf_counter() - began, 1e-6)
            steps = max(1, min(capacity, int(n * _DISPATCH_SECONDS / elapsed), 2 * n))

    def finish(self, state, info: dict, converged: bool) -> None:
        """Write the last snapshot; mark the checkpoint finished only if the run
        converged, so that a run stopped by a budget continues when called again."""
        self._save(state)
        if self.store is not None and converged:
            self.store.finish(info)
        if self.dead:
            self._show(state)
        self.display.close()

    def _save(self, state) -> None:
        self.last_saved = time.perf_counter()
        if self.store is None:
            return
        dead = None
        if self.unsaved:
            dead = rows_to_arrays(jax.tree.map(lambda *a: np.concatenate(a), *self.unsaved))
        self.store.append(dead, state_to_arrays(jax.device_get(state), self.tally))
        self.unsaved = []

    def _running(self, state) -> evidence.Running | None:
        if not self.dead:
            return None
        dead_loglike = np.concatenate([d.loglike.reshape(-1) for d in self.dead])
        return evidence.running(dead_loglike, jax.device_get(state.loglike), self.tally.n_live,
                                self.tally.num_delete)

    def _show(self, state) -> None:
        now = self._running(state)
        elapsed = time.perf_counter() - self.start
        last = self.dead[-1]
        self.display.update(Snapshot(
            iteration=self.tally.n_iterations, n_evals=self.tally.n_evals,
            logZ=now.logZ, logZ_err=now.logZ_err,
            remaining=float(evidence.remaining_dlogz(last.logZ[-1], last.logZ_live[-1])),
            dlogz=self.criteria.dlogz,
            evals_per_second=(self.tally.n_evals - self.evals_before) / max(elapsed, 1e-9),
            chunk_size=self.runner.chunk_size, elapsed=elapsed))

    def _agreed(self, termination: str | None, steps: int) -> tuple[str | None, int]:
        """Process 0's ``termination`` and dispatch length on every process: both depend
        on a clock, and processes that dispatched differently would never meet in their
        collectives (:mod:`slicens.host.processes`)."""
        if not processes.several():
            return termination, steps
        code, steps = processes.from_writer([_HOST_TERMINATIONS.index(termination), steps])
        return _HOST_TERMINATIONS[code], int(steps)

    def _host_termination(self, state) -> str | None:
        """Criteria checked between dispatches (the device checks plateau, dlogz, min_ess
        and max_evals after every iteration)."""
        criteria, tally = self.criteria, self.tally
        if criteria.max_evals is not None and tally.n_evals >= criteria.max_evals:
            return "max_evals"
        if tally.n_iterations >= criteria.max_iterations:
            return "max_iterations"
        if (criteria.max_time is not None
                and time.perf_counter() - self.start >= criteria.max_time):
            return "max_time"
        return None


#: What :meth:`Loop._host_termination` returns, numbered for :meth:`Loop._agreed`.
_HOST_TERMINATIONS = (None, "max_evals", "max_iterations", "max_time")


# --- what a checkpoint holds ------------------------------------------------------------


def rows_to_arrays(rows: kernel.StepInfo) -> dict[str, np.ndarray]:
    arrays = {k: np.asarray(v) for k, v in rows._asdict().items() if k != "lanes"}
    arrays.update({f"lanes.{k}": np.asarray(v) for k, v in rows.lanes._asdict().items()})
    return arrays


#: Per-iteration rows added after checkpoints were first written, each with a row of the
#: same shape that those checkpoints hold: older files resume with zeros there (a
#: ``rank_count`` of 0: ranked among all survivors, as those runs were).
_ADDED_ROWS = {"n_clusters": "inner_steps", "rank_count": "inner_steps"}


def rows_from_arrays(arrays: dict[str, np.ndarray]) -> kernel.StepInfo:
    lanes = LaneStats(**{k[len("lanes."):]: v for k, v in arrays.items()
                         if k.startswith("lanes.")})
    rows = {k: v for k, v in arrays.items() if not k.startswith("lanes.")}
    for added, like in _ADDED_ROWS.items():
        if added not in rows and like in rows:
            rows[added] = np.zeros_like(rows[like])
    return kernel.StepInfo(lanes=lanes, **rows)


def state_to_arrays(state: kernel.NSState, tally: Tally) -> dict:
    arrays = {f"state.{k}": np.asarray(v) for k, v in state._asdict().items()}
    arrays["tally"] = np.array(json.dumps(tally.__dict__))
    return arrays


#: State fields that snapshots written before they existed lack, with the value such a
#: run had: it never split and never waited to cluster (so the next iteration clusters
#: if jumps miss).
_ADDED_STATE = {"split": False, "cluster_wait": np.int32(0), "cluster_miss": 0.0}


def state_from_arrays(arrays: dict) -> kernel.NSState:
    """The live state a snapshot holds."""
    fields = {k[len("state."):]: jnp.asarray(v) for k, v in arrays.items()
              if k.startswith("state.")}
    return kernel.NSState(**{**{k: jnp.asarray(v) for k, v in _ADDED_STATE.items()},
                             **fields})


def restore_tally(tally: Tally, arrays: dict) -> None:
    """Set ``tally``'s totals to those a snapshot was written with."""
    totals = stored_tally(arrays)
    totals.pop("chunk_size", None)  # older snapshots stored the chunk, never read
    tally.__dict__.update(totals)


def stored_tally(arrays: dict) -> dict:
    """The host totals a snapshot was written with."""
    return json.loads(str(arrays["tally"]))


class Tally:
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


class Runner:
    """Dispatches init and blocks; on out-of-memory halves the chunk, recompiles (halving
    again while compiling runs out too) and redoes the dispatch from the same (last good)
    state.

    Results do not depend on the chunk size, so a recovered run equals a run started
    with the smaller chunk. ``history`` lists every recovery, from choosing the program on.
    """

    def __init__(self, compiler: Compiler, program: Program, history: list[dict]):
        self.compiler, self.program, self.history = compiler, program, history

    @property
    def chunk_size(self) -> int:
        return self.program.execution.chunk_size

    def _call(self, iteration: int, fn_name: str, *args):
        while True:
            try:
                if _before_dispatch is not None:
                    _before_dispatch(iteration, self.chunk_size)
                # Block here so that an out-of-memory error surfaces inside the retry.
                return jax.block_until_ready(getattr(self.program, fn_name)(*args))
            except Exception as exc:
                chunk = chunk_to_retry(exc, self.chunk_size, self.compiler.batch("block"),
                                       iteration, self.history)
                self.program = self.compiler.recovering_program(chunk, self.history,
                                                                iteration)

    def init(self, key):
        out = self._call(0, "init", key)
        self.compiler.need_init = False  # a later out-of-memory retry compiles blocks only
        return out

    def block(self, loop_key, state, iteration: int, limits: blocks.Limits):
        return self._call(iteration, "block", loop_key, state, jnp.int32(iteration), limits)
