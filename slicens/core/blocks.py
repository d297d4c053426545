"""Several nested-sampling iterations per dispatch: the device loop.

:func:`run_block` runs up to ``capacity`` iterations of :func:`slicens.core.kernel.step` in a
``lax.while_loop``, checking the termination criteria the device can (plateau, dlogz,
min_ess, max_evals) after every iteration, and returns them stacked (:class:`Block`) for
the host to take off the device in one transfer. Pure and jittable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from slicens.core import evidence
from slicens.core.chunking import Execution
from slicens.core.kernel import NSState, Settings, StepInfo, live_summary, step

__all__ = ["Limits", "Block", "TERMINATIONS", "CONVERGED", "run_block", "block_capacity"]

#: Termination codes the device loop reports, indexed by ``Block.stop``.
TERMINATIONS = (None, "plateau", "dlogz", "min_ess", "max_evals")

#: Terminations that end a run for good. A run stopped by a budget (``max_evals``,
#: ``max_iterations``, ``max_time``) is unfinished: its checkpoint continues it.
CONVERGED = ("plateau", "dlogz", "min_ess")


class Limits(NamedTuple):
    """Stopping rules of one dispatch. Dynamic values: changing them never recompiles.

    max_steps: shape=(), int32. Iterations this dispatch may run (at most the capacity).
    evals_left: shape=(), int32. Stop once the chains consumed this many evaluations
        (what ``max_evals`` leaves, clipped to int32).
    dlogz: shape=(), float. Stop when the live points could raise logZ by less.
    min_ess: shape=(), float. Stop once the ESS if stopped now reaches this (inf: never).
    """

    max_steps: jax.Array
    evals_left: jax.Array
    dlogz: jax.Array
    min_ess: jax.Array


class Block(NamedTuple):
    """Iterations of one dispatch, stacked: the host takes rows ``[:n_steps]``.

    info: StepInfo with a leading axis of length ``capacity``.
    n_steps: shape=(), int32. Iterations run.
    stop: shape=(), int32. Index into :data:`TERMINATIONS` (0: not stopped).
    """

    info: StepInfo
    n_steps: jax.Array
    stop: jax.Array


def block_capacity(num_delete: int, dim: int, target_bytes: int = 2**22,
                   keep_per_chain: int = 0) -> int:
    """Iterations per dispatch buffer: about ``target_bytes`` of dead and kept points, 1
    to 256."""
    row_bytes = num_delete * (dim + 4 + keep_per_chain * (dim + 1)) * 8
    return max(1, min(256, target_bytes // row_bytes))


def _stop_code(state: NSState, evals_used, limits: Limits, num_delete: int):
    logZ_live, plateau = live_summary(state, num_delete)
    remaining = evidence.remaining_dlogz(state.logZ, logZ_live)
    ess = evidence.ess_if_stopped(state.logX, state.logZ, state.logW2, state.loglike)
    return jnp.select(
        [plateau, remaining < limits.dlogz, ess >= limits.min_ess,
         evals_used >= limits.evals_left],
        [1, 2, 3, 4],
        0,
    ).astype(jnp.int32)


def run_block(loop_key, state: NSState, iteration, limits: Limits, loglike_fn: Callable,
              prior, settings: Settings, execution: Execution,
              capacity: int) -> tuple[NSState, Block]:
    """Up to ``limits.max_steps`` iterations on the device, stopping on the first
    termination criterion met; the dead points go to a fixed-size buffer, so the
    device's memory does not grow with the run.

    Iteration ``iteration + i`` uses the key ``fold_in(loop_key, iteration + i)``, so
    how the run is split into dispatches never changes its result.
    """
    _, template = jax.eval_shape(
        lambda s: step(jax.random.key(0), s, loglike_fn, prior, settings, execution), state
    )
    buffer = jax.tree.map(lambda a: jnp.zeros((capacity,) + a.shape, a.dtype), template)

    def cond(carry):
        _, _, i, _, stop = carry
        return (i < limits.max_steps) & (stop == 0)

    def body(carry):
        state, buffer, i, evals, _ = carry
        key = jax.random.fold_in(loop_key, iteration + i)
        state, info = step(key, state, loglike_fn, prior, settings, execution)
        buffer = jax.tree.map(lambda b, x: b.at[i].set(x), buffer, info)
        evals = evals + info.lanes.useful
        return state, buffer, i + 1, evals, _stop_code(state, evals, limits, settings.num_delete)

    zero = jnp.int32(0)
    stop = _stop_code(state, zero, limits, settings.num_delete)
    state, buffer, n_steps, _, stop = jax.lax.while_loop(
        cond, body, (state, buffer, zero, zero, stop)
    )
    return state, Block(info=buffer, n_steps=n_steps, stop=stop)
