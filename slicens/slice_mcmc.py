"""One constrained hit-and-run slice chain for one particle, as a small state machine.

The chain samples the prior density restricted to ``loglike > contour``. Each of its
``num_steps`` steps is a univariate slice (Neal 2003) along a covariance-shaped direction:
a slice level under the prior density, a unit bracket at a random offset, stepping out
while the bracket ends are inside the slice (at most ``max_expansions - 1`` expansions,
split at random between the two ends), then shrinkage toward the current point until a
draw lands inside (at most ``max_shrinkage`` draws; on exhaustion the chain stays put).

The chain is written so that a scheduler can drive it one likelihood evaluation at a
time:

- :func:`proposal` says which point to evaluate next,
- :func:`advance` moves the chain on, given that point's log-likelihood and log-prior,
- :func:`settle` moves it on through proposals whose outcome is known without the
  likelihood (prior density below the slice level, e.g. outside the prior's support),
- ``state.phase == DONE`` says whether it has finished.

All randomness that does not depend on likelihood values is drawn up front in a
:class:`SlicePlan`; the shrinkage draws come from ``(chain key, step, evaluation count)``.
So a chain's path depends only on its own keys and the values it sees, never on the
batch or lane it runs in. Pure, no batching here.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "LEFT",
    "RIGHT",
    "SHRINK",
    "DONE",
    "SlicePlan",
    "ChainState",
    "make_plan",
    "init",
    "proposal",
    "advance",
    "settle",
]

# Phases of a slice step: which point the chain evaluates next.
LEFT, RIGHT, SHRINK, DONE = 0, 1, 2, 3


class SlicePlan(NamedTuple):
    """The likelihood-independent randomness of one chain, one row per slice step.

    direction: shape=(num_steps, dim), dtype=float. Covariance-shaped, Mahalanobis norm 2.
    log_u_level: shape=(num_steps,), dtype=float. log U(0,1) setting the slice level.
    offset: shape=(num_steps,), dtype=float. Initial bracket is [-offset, 1 - offset].
    n_left: shape=(num_steps,), dtype=int32. Expansions allowed on the left end; the right
        end gets ``max_expansions - 1 - n_left``.
    shrink_key: shape=(num_steps,), dtype=key. Folded with the evaluation count for each
        shrinkage draw.
    """

    direction: jax.Array
    log_u_level: jax.Array
    offset: jax.Array
    n_left: jax.Array
    shrink_key: jax.Array


class ChainState(NamedTuple):
    """State of one slice chain.

    position: shape=(dim,), dtype=float. Current point, always inside the contour.
    loglike: shape=(), dtype=float. Its log-likelihood.
    logprior: shape=(), dtype=float. Its log prior density.
    step: shape=(), dtype=int32. Index of the slice step in progress.
    phase: shape=(), dtype=int32. LEFT, RIGHT, SHRINK or DONE.
    t: shape=(), dtype=float. Line coordinate of the point to evaluate next.
    left, right: shape=(), dtype=float. Current bracket on the line (position at t=0).
    level: shape=(), dtype=float. Slice level under the log prior density.
    n_left, n_right: shape=(), dtype=int32. Expansions still allowed at each end.
    n_shrink: shape=(), dtype=int32. Shrinkage draws taken in this step.
    n_evals: shape=(), dtype=int32. Points this chain has proposed (the count that keys
        its shrinkage draws): likelihood evaluations plus ``n_known``.
    n_known: shape=(), dtype=int32. Proposals rejected without a likelihood evaluation
        because their prior density lies below the slice level (:func:`settle`).
    n_invalid: shape=(), dtype=int32. Evaluations inside the prior support whose
        log-likelihood was NaN or +/-inf (treated as outside every contour).
    n_failed_steps: shape=(), dtype=int32. Steps that ran out of shrinkage draws.
    """

    position: jax.Array
    loglike: jax.Array
    logprior: jax.Array
    step: jax.Array
    phase: jax.Array
    t: jax.Array
    left: jax.Array
    right: jax.Array
    level: jax.Array
    n_left: jax.Array
    n_right: jax.Array
    n_shrink: jax.Array
    n_evals: jax.Array
    n_known: jax.Array
    n_invalid: jax.Array
    n_failed_steps: jax.Array


def make_plan(chain_key, covariance_factor, num_steps: int, max_expansions: int) -> SlicePlan:
    """Draw the likelihood-independent randomness of one chain.

    Step ``s`` uses only ``fold_in(chain_key, s)``.
    """
    dim = covariance_factor.shape[-1]
    dtype = covariance_factor.dtype

    def one_step(step):
        k_dir, k_level, k_offset, k_split, k_shrink = jax.random.split(
            jax.random.fold_in(chain_key, step), 5
        )
        z = jax.random.normal(k_dir, (dim,), dtype)
        direction = 2.0 * (covariance_factor @ z) / jnp.linalg.norm(z)
        log_u_level = jnp.log(jax.random.uniform(k_level, (), dtype))
        offset = jax.random.uniform(k_offset, (), dtype)
        n_left = jnp.floor(max_expansions * jax.random.uniform(k_split, ())).astype(jnp.int32)
        return SlicePlan(direction, log_u_level, offset, n_left, k_shrink)

    return jax.vmap(one_step)(jnp.arange(num_steps))


def _shrink_draw(plan: SlicePlan, step, n_evals, left, right):
    u = jax.random.uniform(jax.random.fold_in(plan.shrink_key[step], n_evals), (), left.dtype)
    return left + u * (right - left)


def _route(state: ChainState, plan: SlicePlan, wanted_phase) -> ChainState:
    """Enter ``wanted_phase``, falling through ends with no expansions left, and set t."""
    phase = jnp.where((wanted_phase == LEFT) & (state.n_left <= 0), RIGHT, wanted_phase)
    phase = jnp.where((phase == RIGHT) & (state.n_right <= 0), SHRINK, phase)
    step = jnp.minimum(state.step, plan.offset.shape[0] - 1)
    t_shrink = _shrink_draw(plan, step, state.n_evals, state.left, state.right)
    t = jnp.where(phase == LEFT, state.left, jnp.where(phase == RIGHT, state.right, t_shrink))
    return state._replace(phase=phase.astype(jnp.int32), t=t)


def _begin_step(state: ChainState, plan: SlicePlan, max_expansions: int) -> ChainState:
    """Set up the bracket and slice level of ``state.step`` (or finish the chain)."""
    num_steps = plan.offset.shape[0]
    finished = state.step >= num_steps
    step = jnp.minimum(state.step, num_steps - 1)
    left = -plan.offset[step]
    n_left = plan.n_left[step]
    started = state._replace(
        left=left,
        right=left + 1.0,
        level=state.logprior + plan.log_u_level[step],
        n_left=n_left,
        n_right=(max_expansions - 1) - n_left,
        n_shrink=jnp.zeros_like(state.n_shrink),
    )
    started = _route(started, plan, jnp.int32(LEFT))
    return jax.tree.map(
        lambda done, go: jnp.where(finished, done, go),
        state._replace(phase=jnp.int32(DONE), t=jnp.zeros_like(state.t)),
        started,
    )


def init(position, loglike, logprior, plan: SlicePlan, max_expansions: int) -> ChainState:
    """Start a chain at ``position`` (which must lie inside the contour)."""
    zero = jnp.zeros((), jnp.int32)
    real = jnp.zeros((), position.dtype)
    state = ChainState(
        position=position,
        loglike=jnp.asarray(loglike, position.dtype),
        logprior=jnp.asarray(logprior, position.dtype),
        step=zero,
        phase=zero,
        t=real,
        left=real,
        right=real,
        level=real,
        n_left=zero,
        n_right=zero,
        n_shrink=zero,
        n_evals=zero,
        n_known=zero,
        n_invalid=zero,
        n_failed_steps=zero,
    )
    return _begin_step(state, plan, max_expansions)


def proposal(state: ChainState, plan: SlicePlan):
    """The point this chain needs evaluated next: ``position + t * direction``."""
    step = jnp.minimum(state.step, plan.offset.shape[0] - 1)
    return state.position + state.t * plan.direction[step]


def advance(
    state: ChainState,
    plan: SlicePlan,
    point,
    loglike,
    logprior,
    contour,
    *,
    max_expansions: int,
    max_shrinkage: int,
) -> ChainState:
    """Move the chain on, given the log-likelihood and log-prior of ``proposal(state)``.

    A finished chain (``phase == DONE``) is returned unchanged.
    """
    valid = jnp.isfinite(loglike)
    inside = valid & (logprior >= state.level) & (loglike > contour)
    counted = state._replace(
        n_evals=state.n_evals + 1,
        n_invalid=state.n_invalid + ((~valid) & (logprior > -jnp.inf)).astype(jnp.int32),
    )
    phase = state.phase

    # Stepping out: an end inside the slice moves out by one bracket width.
    grow_left = (phase == LEFT) & inside
    grow_right = (phase == RIGHT) & inside
    stepped = counted._replace(
        left=jnp.where(grow_left, state.left - 1.0, state.left),
        right=jnp.where(grow_right, state.right + 1.0, state.right),
        n_left=jnp.where(grow_left, state.n_left - 1, state.n_left),
        n_right=jnp.where(grow_right, state.n_right - 1, state.n_right),
    )
    wanted = jnp.where(
        phase == LEFT,
        jnp.where(inside, LEFT, RIGHT),
        jnp.where((phase == RIGHT) & inside, RIGHT, SHRINK),
    ).astype(jnp.int32)

    # Shrinkage: accept a point inside, else pull the bracket end in to it.
    shrinking = phase == SHRINK
    accepted = shrinking & inside
    rejected = shrinking & ~inside
    stepped = stepped._replace(
        left=jnp.where(rejected & (state.t < 0), state.t, stepped.left),
        right=jnp.where(rejected & (state.t >= 0), state.t, stepped.right),
        n_shrink=stepped.n_shrink + rejected.astype(jnp.int32),
    )
    exhausted = rejected & (stepped.n_shrink >= max_shrinkage)
    step_over = accepted | exhausted
    moved = stepped._replace(
        position=jnp.where(accepted, point, state.position),
        loglike=jnp.where(accepted, loglike, state.loglike),
        logprior=jnp.where(accepted, logprior, state.logprior),
        step=state.step + step_over.astype(jnp.int32),
        n_failed_steps=state.n_failed_steps + exhausted.astype(jnp.int32),
    )

    next_state = jax.tree.map(
        lambda new, cont: jnp.where(step_over, new, cont),
        _begin_step(moved, plan, max_expansions),
        _route(moved, plan, wanted),
    )
    return jax.tree.map(lambda old, new: jnp.where(phase == DONE, old, new), state, next_state)


def settle(
    state: ChainState,
    plan: SlicePlan,
    log_density,
    *,
    max_expansions: int,
    max_shrinkage: int,
) -> ChainState:
    """Advance through every proposal whose outcome is known without the likelihood.

    A point whose prior log density lies below the slice level (``-inf`` outside the
    prior's support) is outside the slice whatever its likelihood, so :func:`advance`
    would reject it; here it is rejected without an evaluation. The chain's path is the
    one it would take with the evaluations (its shrinkage draws are keyed by proposals,
    ``n_evals``, which still counts these); ``n_known`` counts them. Returns the chain at
    its next proposal that needs the likelihood, or finished.
    """

    def at_next_proposal(chain):
        point = proposal(chain, plan)
        return chain, point, jnp.asarray(log_density(point), chain.t.dtype)

    def outcome_known(carry):
        chain, _, logprior = carry
        return (chain.phase != DONE) & ~(logprior >= chain.level)

    def reject(carry):
        chain, point, logprior = carry
        never = jnp.asarray(-jnp.inf, chain.t.dtype)  # no likelihood: outside any contour
        moved = advance(chain, plan, point, never, logprior, never,
                        max_expansions=max_expansions, max_shrinkage=max_shrinkage)
        # not an invalid likelihood: none was computed
        moved = moved._replace(n_known=chain.n_known + 1, n_invalid=chain.n_invalid)
        return at_next_proposal(moved)

    return jax.lax.while_loop(outcome_known, reject, at_next_proposal(state))[0]
