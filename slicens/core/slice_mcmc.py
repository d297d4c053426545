"""One constrained slice chain for one particle, as a small state machine.

The chain samples the prior density restricted to ``loglike > contour``. It begins with
up to ``num_jumps`` *ellipsoid jumps*: independence Metropolis proposals drawn uniformly
from a union of ellipsoids around the live points, one per mode (accepted when inside the
contour and the prior density ratio allows; a start outside the union cannot jump). The
first accepted jump replaces the start with a draw independent of it, in whichever mode;
the kernel leaves the constrained prior invariant whatever the ellipsoids, so poor
ellipsoids cost evaluations, never bias.
Then come ``num_steps`` slice steps (Neal 2003) along directions shaped by the
covariance of the current point's *region* (the ellipsoid of the union it is nearest to,
in units of each one's radius: one region per mode, or one in all), restricted to that
region (a point of another region counts as outside the slice, so each step is
reversible although the directions differ between regions): a
slice level under the prior density, a unit bracket at a random offset, stepping out
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
:class:`SlicePlan` (:mod:`slicens.core.slice_plan`); the shrinkage draws come from
``(chain key, step, evaluation count)``.
So a chain's path depends only on its own keys and the values it sees, never on the
batch or lane it runs in. Pure, no batching here.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from slicens.core.ellipsoids import Ellipsoids, region_direction, region_of
from slicens.core.slice_plan import SlicePlan, make_plan

__all__ = [
    "LEFT",
    "RIGHT",
    "SHRINK",
    "DONE",
    "JUMP",
    "SlicePlan",
    "ChainState",
    "make_plan",
    "init",
    "proposal",
    "advance",
    "settle",
]

# Phases of a chain: which point it evaluates next (JUMP: an ellipsoid jump).
LEFT, RIGHT, SHRINK, DONE, JUMP = 0, 1, 2, 3, 4

class ChainState(NamedTuple):
    """State of one slice chain.

    position: shape=(dim,), dtype=float. Current point, always inside the contour.
    loglike: shape=(), dtype=float. Its log-likelihood.
    logprior: shape=(), dtype=float. Its log prior density.
    step: shape=(), dtype=int32. Index of the slice step in progress.
    phase: shape=(), dtype=int32. JUMP, LEFT, RIGHT, SHRINK or DONE.
    region: shape=(), dtype=int32. The current point's region
        (:func:`slicens.core.ellipsoids.region_of`).
    direction: shape=(dim,), dtype=float. The current slice step's direction.
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
    n_jumps: shape=(), dtype=int32. Ellipsoid jumps tried.
    jumped: shape=(), dtype=bool. Whether a jump was accepted.
    kept_position: shape=(max_keep, dim), dtype=float. The chain's intermediate points
        (after an accepted jump, and after each slice step but the last), the first
        ``max_keep`` of them: each is a draw from the constrained prior, for the boosted
        posterior.
    kept_loglike: shape=(max_keep,), dtype=float. Their log-likelihoods; NaN where unused.
    """

    position: jax.Array
    loglike: jax.Array
    logprior: jax.Array
    step: jax.Array
    phase: jax.Array
    region: jax.Array
    direction: jax.Array
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
    n_jumps: jax.Array
    jumped: jax.Array
    kept_position: jax.Array
    kept_loglike: jax.Array


def _multiply_add(a, b, c):
    """``a + b * c`` with the product rounded before the sum, in every compiled program.

    XLA may contract a multiply and an add into one fused multiply-add (rounded once)
    where both land in the same fusion, and it fuses differently in programs of other
    shapes: measured, jax 0.11.2 on AVX-512, the shrinkage draw of a lane_map of 10
    chains rounded differently from that of 5 (the chains of one device of two), and
    runs on 1 and 2 devices parted in the last bits. The barrier keeps the product
    apart, so every program rounds it alike.
    """
    return a + jax.lax.optimization_barrier(b * c)


def _shrink_draw(plan: SlicePlan, step, n_evals, left, right):
    u = jax.random.uniform(jax.random.fold_in(plan.shrink_key[step], n_evals), (), left.dtype)
    return _multiply_add(left, u, right - left)


def _route(state: ChainState, plan: SlicePlan, wanted_phase) -> ChainState:
    """Enter ``wanted_phase``, falling through ends with no expansions left, and set t."""
    phase = jnp.where((wanted_phase == LEFT) & (state.n_left <= 0), RIGHT, wanted_phase)
    phase = jnp.where((phase == RIGHT) & (state.n_right <= 0), SHRINK, phase)
    step = jnp.minimum(state.step, plan.offset.shape[0] - 1)
    t_shrink = _shrink_draw(plan, step, state.n_evals, state.left, state.right)
    t = jnp.where(phase == LEFT, state.left, jnp.where(phase == RIGHT, state.right, t_shrink))
    return state._replace(phase=phase.astype(jnp.int32), t=t)


def _begin_step(state: ChainState, plan: SlicePlan, shapes: Ellipsoids,
                max_expansions: int) -> ChainState:
    """Set up the bracket, direction and slice level of ``state.step`` (or finish)."""
    finished = state.step >= plan.num_steps
    step = jnp.minimum(state.step, plan.offset.shape[0] - 1)
    left = -plan.offset[step]
    n_left = plan.n_left[step]
    started = state._replace(
        # an explicit product and sum, not a dot: a dot compiles differently for one lane
        # than for several, and the path must not depend on the batch width
        direction=region_direction(shapes, state.region, plan.direction[step]),
        left=left,
        right=left + 1.0,
        level=state.logprior + plan.log_u_level[step],
        n_left=n_left,
        n_right=(max_expansions - 1) - n_left,
        n_shrink=jnp.zeros_like(state.n_shrink),
    )
    started = _route(started, plan, jnp.int32(LEFT))
    started = _keep_intermediate(started, (state.step >= 1) | state.jumped)
    return jax.tree.map(
        lambda done, go: jnp.where(finished, done, go),
        state._replace(phase=jnp.int32(DONE), t=jnp.zeros_like(state.t)),
        started,
    )


def _keep_intermediate(state: ChainState, new_point) -> ChainState:
    """Record the current point in the next free slot if it is a new point."""
    max_keep = state.kept_loglike.shape[0]
    if max_keep == 0:
        return state
    n_kept = jnp.sum(~jnp.isnan(state.kept_loglike))
    slot = jnp.arange(max_keep) == n_kept
    write = slot & new_point
    return state._replace(
        kept_position=jnp.where(write[:, None], state.position[None, :], state.kept_position),
        kept_loglike=jnp.where(write, state.loglike, state.kept_loglike),
    )


def init(position, loglike, logprior, plan: SlicePlan, shapes: Ellipsoids, max_expansions: int,
         max_keep: int = 0) -> ChainState:
    """Start a chain at ``position`` (which must lie inside the contour), keeping up to
    ``max_keep`` of its intermediate points. ``shapes``: the regions (as for
    :func:`make_plan`)."""
    zero = jnp.zeros((), jnp.int32)
    real = jnp.zeros((), position.dtype)
    state = ChainState(
        position=position,
        loglike=jnp.asarray(loglike, position.dtype),
        logprior=jnp.asarray(logprior, position.dtype),
        step=zero,
        phase=zero,
        region=region_of(shapes, plan.radius, position),
        direction=jnp.zeros_like(position),
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
        n_jumps=zero,
        jumped=jnp.zeros((), bool),
        kept_position=jnp.zeros((max_keep,) + position.shape, position.dtype),
        kept_loglike=jnp.full((max_keep,), jnp.nan, position.dtype),
    )
    return _next_jump_or_step(state, plan, shapes, max_expansions)


def _next_jump_or_step(state: ChainState, plan: SlicePlan, shapes: Ellipsoids,
                       max_expansions: int) -> ChainState:
    """Try the next ellipsoid jump if one is left and none was accepted, else slice."""
    if plan.jump_log_u.shape[0] == 0:  # no jumps planned: static shortcut
        return _begin_step(state, plan, shapes, max_expansions)
    jumping = (state.n_jumps < plan.num_jumps) & ~(state.jumped & plan.jump_until_accepted)
    j = jnp.minimum(state.n_jumps, plan.jump_log_u.shape[0] - 1)
    jump = state._replace(phase=jnp.int32(JUMP), level=state.logprior + plan.jump_log_u[j])
    return jax.tree.map(lambda a, b: jnp.where(jumping, a, b), jump,
                        _begin_step(state, plan, shapes, max_expansions))


def proposal(state: ChainState, plan: SlicePlan):
    """The point this chain needs evaluated next: ``position + t * direction``, or its
    next ellipsoid jump."""
    on_line = _multiply_add(state.position, state.t, state.direction)
    if plan.jump_log_u.shape[0] == 0:
        return on_line
    j = jnp.minimum(state.n_jumps, plan.jump_log_u.shape[0] - 1)
    return jnp.where(state.phase == JUMP, plan.jump_point[j], on_line)


def advance(
    state: ChainState,
    plan: SlicePlan,
    shapes: Ellipsoids,
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
    in_region = (state.phase == JUMP) | (region_of(shapes, plan.radius, point) == state.region)
    inside_slice = inside & in_region
    counted = state._replace(
        n_evals=state.n_evals + 1,
        n_invalid=state.n_invalid + ((~valid) & (logprior > -jnp.inf)).astype(jnp.int32),
    )
    phase = state.phase

    # Stepping out: an end inside the slice moves out by one bracket width.
    grow_left = (phase == LEFT) & inside_slice
    grow_right = (phase == RIGHT) & inside_slice
    stepped = counted._replace(
        left=jnp.where(grow_left, state.left - 1.0, state.left),
        right=jnp.where(grow_right, state.right + 1.0, state.right),
        n_left=jnp.where(grow_left, state.n_left - 1, state.n_left),
        n_right=jnp.where(grow_right, state.n_right - 1, state.n_right),
    )
    wanted = jnp.where(
        phase == LEFT,
        jnp.where(inside_slice, LEFT, RIGHT),
        jnp.where((phase == RIGHT) & inside_slice, RIGHT, SHRINK),
    ).astype(jnp.int32)

    # Shrinkage: accept a point inside the slice, else pull the bracket end in to it.
    shrinking = phase == SHRINK
    accepted = shrinking & inside_slice
    rejected = shrinking & ~inside_slice
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
        _begin_step(moved, plan, shapes, max_expansions),
        _route(moved, plan, wanted),
    )
    if plan.jump_log_u.shape[0] > 0:
        next_state = jax.tree.map(lambda a, b: jnp.where(phase == JUMP, a, b),
                                  _after_jump(counted, plan, shapes, point, loglike, logprior,
                                              inside, max_expansions), next_state)
    return jax.tree.map(lambda old, new: jnp.where(phase == DONE, old, new), state, next_state)


def _after_jump(state: ChainState, plan: SlicePlan, shapes: Ellipsoids, point, loglike,
                logprior, accepted, max_expansions: int) -> ChainState:
    """An ellipsoid jump's outcome: move there if accepted; then the next jump or slice."""
    moved = state._replace(
        region=jnp.where(accepted, region_of(shapes, plan.radius, point), state.region),
        position=jnp.where(accepted, point, state.position),
        loglike=jnp.where(accepted, loglike, state.loglike),
        logprior=jnp.where(accepted, logprior, state.logprior),
        n_jumps=state.n_jumps + 1,
        jumped=state.jumped | accepted,
    )
    return _next_jump_or_step(moved, plan, shapes, max_expansions)


def settle(
    state: ChainState,
    plan: SlicePlan,
    shapes: Ellipsoids,
    log_density,
    *,
    max_expansions: int,
    max_shrinkage: int,
) -> ChainState:
    """Advance through every proposal whose outcome is known without the likelihood.

    A point whose prior log density lies below the slice level (``-inf`` outside the
    prior's support) is outside the slice whatever its likelihood, and so is a point of a
    slice step in another region, so :func:`advance` would reject it; here it is rejected
    without an evaluation. The chain's path is the
    one it would take with the evaluations (its shrinkage draws are keyed by proposals,
    ``n_evals``, which still counts these); ``n_known`` counts them. Returns the chain at
    its next proposal that needs the likelihood, or finished.
    """

    def at_next_proposal(chain):
        point = proposal(chain, plan)
        return chain, point, jnp.asarray(log_density(point), chain.t.dtype)

    def outcome_known(carry):
        chain, point, logprior = carry
        elsewhere = (chain.phase != JUMP) & (
            region_of(shapes, plan.radius, point) != chain.region)
        return (chain.phase != DONE) & (~(logprior >= chain.level) | elsewhere)

    def reject(carry):
        chain, point, logprior = carry
        never = jnp.asarray(-jnp.inf, chain.t.dtype)  # no likelihood: outside any contour
        moved = advance(chain, plan, shapes, point, never, logprior, never,
                        max_expansions=max_expansions, max_shrinkage=max_shrinkage)
        # not an invalid likelihood: none was computed
        moved = moved._replace(n_known=chain.n_known + 1, n_invalid=chain.n_invalid)
        return at_next_proposal(moved)

    return jax.lax.while_loop(outcome_known, reject, at_next_proposal(state))[0]
