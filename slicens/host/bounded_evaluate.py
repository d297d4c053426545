"""Evaluating a bounded run's batches within the device's memory: the chunk chosen at
the start (given, or the largest whose compiled evaluation fits the budget) and, when
the device runs out of memory anyway, halved and the batch evaluated again, as
``method="slice"`` recovers (:class:`slicens.host.loop.Runner`).

Results do not depend on the chunk (where the likelihood compiles alike at both widths,
docs/design.md), so a recovered run equals one started with the smaller chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from slicens.core import kernel
from slicens.core.chunking import Execution
from slicens.host import memory as memory_policy
from slicens.host.compiled import chunk_to_retry
from slicens.host.platform import jit

__all__ = ["BatchEvaluator", "choose_chunk"]

#: Test hook: called as ``_before_evaluate(batch, chunk_size)`` before each batch is
#: evaluated (tests raise an injected RESOURCE_EXHAUSTED from it). None in normal use.
_before_evaluate = None


def evaluate_program(loglike: Callable, prior, execution: Execution):
    """``u (n, dim) in the unit cube -> (log-likelihoods (n,), lanes)``, uncompiled;
    NaN and infinite values become -inf."""
    def evaluate_one(x):
        return jnp.asarray(loglike(x), x.dtype), jnp.zeros((), x.dtype)

    def evaluate(u):
        # The transform outside the lanes, as the prior draws of method="slice": its
        # multiply-adds would otherwise compile differently at other widths.
        x = jax.vmap(prior.transform)(u)
        (value, _), lanes = kernel.evaluate_points(evaluate_one, x, execution)
        return jnp.where(jnp.isfinite(value), value, -jnp.inf), lanes

    return evaluate


class BatchEvaluator:
    """Evaluates batches of ``n_batch`` unit-cube points at ``execution``'s chunk; on
    running out of device memory, halves the chunk, recompiles and evaluates the batch
    again. ``history`` lists every such recovery."""

    def __init__(self, loglike: Callable, prior, n_batch: int, execution: Execution):
        self.loglike, self.prior, self.n_batch = loglike, prior, n_batch
        self.history: list[dict] = []
        self._compile(execution)

    def _compile(self, execution: Execution):
        self.execution = execution
        self.program = jit(evaluate_program(self.loglike, self.prior, execution))

    @property
    def chunk_size(self) -> int:
        return self.execution.chunk_size

    def __call__(self, u, batch: int):
        """The log-likelihoods of the points ``u`` (the run's ``batch``-th batch)."""
        while True:
            try:
                if _before_evaluate is not None:
                    _before_evaluate(batch, self.chunk_size)
                # Block here so that an out-of-memory error surfaces inside the retry.
                return jax.block_until_ready(self.program(u))[0]
            except Exception as exc:  # the batch's index is the iteration it names
                chunk = chunk_to_retry(exc, self.chunk_size, self.n_batch, batch,
                                       self.history)
                self._compile(self.execution._replace(chunk_size=chunk))


def choose_chunk(loglike, prior, n_batch: int, chunk_size, memory_budget, schedule: str,
                 devices: tuple) -> tuple[int, dict[str, Any]]:
    """The chunk: an integer as given (at most ``n_batch``), None the whole batch,
    ``"auto"`` the largest whose compiled evaluation fits the budget."""
    if chunk_size is None:
        return n_batch, dict(mode="fixed")
    if chunk_size != "auto":
        return min(int(chunk_size), n_batch), dict(mode="fixed")
    budget, source = memory_policy.resolve_budget(memory_budget, devices=devices)
    shape = jax.ShapeDtypeStruct((n_batch, prior.dim), jnp.zeros(()).dtype)

    def peak_at(chunk: int):
        program = evaluate_program(loglike, prior, Execution(chunk, schedule, devices))
        return memory_policy.compiled_memory(program, shape).peak

    choice = memory_policy.choose_chunk_size(peak_at, budget, n_batch)
    return choice.chunk_size, dict(mode="auto", budget=budget, budget_source=source,
                                   predicted_peak=choice.predicted_peak,
                                   measured=choice.measured)
