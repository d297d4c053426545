"""Learned refinement of a bound: small networks that regress each point's likelihood rank
(Nautilus's neural bounds, Lange 2023), trained on the device.

A bound of ellipsoids (:mod:`slicens.core.bounds`) is loose where the contour is curved
or not ellipsoidal (a ring, a banana, a lens's degeneracies). A refined bound keeps, of
the union's points, only those where an ensemble of small networks predicts a score
above the contour's. The networks regress a rank score on every evaluated point inside
the union: points above the likelihood threshold score ``0.5 .. 1`` by their rank among
them, points below ``0 .. 0.5``, so the contour sits at 0.5 whatever the likelihood's
scale. The predicted score at the contour (:func:`train`'s ``cut``) is read from a cubic
fitted to predicted against true scores, as Nautilus does.

The refined region is still a region of known density: a draw from the union is kept only
where the networks say inside, and its volume is counted from kept over made draws
(:func:`slicens.core.bounds.count_volume`). Where the networks miss part of the contour
the importance weights pay in variance, not bias (the cube is always part of the
mixture, :mod:`slicens.core.importance`).

Pure JAX: the ensemble trains with mini-batch Adam for a number of steps set by its
settings (:func:`train_steps`; fixed by default) from a keyed initialisation and keyed
batches, so a bound depends on its key and points only.
Written here, not taken from an optimiser library: Adam is ten lines and keeps the
core's dependencies jax and numpy.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from slicens.core import ellipsoids

__all__ = ["Network", "HIDDEN", "N_NETWORKS", "EPOCHS", "MIN_STEPS", "TRAIN_STEPS",
           "LEARNING_RATE", "rank_scores", "train", "train_steps", "predict", "inside", "stack",
           "inside_by_slot"]

#: Hidden layer widths of each network (Nautilus: 100, 50, 20 with scikit-learn). Those
#: drew a middle lens bound tighter (49% of its draws above the threshold against 38%)
#: at 1.4x the fit time and 2-5x the training time on a CPU; end to end 45,000 lens
#: evaluations against 46,875 (BENCHMARKS.md, "Bounded draws, eighth part").
HIDDEN = (32, 16)
#: Networks in the ensemble; their mean is the prediction (Nautilus's default, 4).
N_NETWORKS = 4
#: Most Adam steps; every ensemble trains for this many unless :data:`EPOCHS` is set.
#: Fixed, not a stopping rule on the loss: a bound's cost and result do not depend on
#: that rule's noise. 8,000 took the 2-d shells from 21,000 evaluations to 19,100 (5
#: seeds) and the tiny lens from 46,875 to 45,833, at twice the training (measured, not
#: yet checked over the battery: BENCHMARKS.md, "Bounded draws, ninth part").
TRAIN_STEPS = 4000
#: Passes over the training points instead (Nautilus trains by epochs, until its loss
#: stops falling): ``EPOCHS * n / BATCH`` Adam steps for ``n`` points (``EPOCHS`` under
#: a full batch), at least :data:`MIN_STEPS` and at most ``TRAIN_STEPS``. None (the
#: default): ``TRAIN_STEPS``.
#: Measured, not adopted (BENCHMARKS.md, "Bounded draws, ninth part"): 250 epochs from
#: 500 steps halved the tiny lens's wall and cut the bounded tests' calls by a third, but
#: the 2-d shells took 24,188 evaluations against 21,000 (8 seeds; from 2,000 steps
#: 22,250-23,500) and the lens 47,667 against 46,875: on a small ellipsoid (the median
#: one holds ~450 points) the steps, not the passes, set how well the networks fit.
EPOCHS = None
#: Fewest Adam steps under :data:`EPOCHS`, however few the points.
MIN_STEPS = 500
#: Adam's step size, decayed by a cosine to a hundredth over the steps.
LEARNING_RATE = 1e-2
#: Rows per step and network, drawn with replacement (None: full batch). Nautilus
#: (scikit-learn's Adam) uses 200. Against 500 full-batch steps, 4,000 steps of 256 rows
#: took the tiny lens from 56,625 to 46,875 evaluations (3 seeds), at about 1 s per
#: ensemble instead of 0.5-1.4 s on a CPU: the lens's wall rose by ~110 s, bounded
#: analytic runs' up to 2x (BENCHMARKS.md, "Bounded draws, eighth part").
BATCH = 256


class Network(NamedTuple):
    """An ensemble of networks and the cut on its predicted score.

    weights, biases: tuples of per-layer arrays, shapes (N_NETWORKS, in, out) and
        (N_NETWORKS, out).
    centre: shape=(dim,). inverse: shape=(dim, dim). The inputs are whitened as
        ``inverse @ (x - centre)`` (the best points' mean and covariance).
    cut: shape=(). A point is inside where the mean predicted score exceeds it.
    """

    weights: tuple
    biases: tuple
    centre: jax.Array
    inverse: jax.Array
    cut: jax.Array


def rank_scores(loglike, mask, threshold):
    """Nautilus's targets: among the ``mask``ed points, those at or above ``threshold``
    score ``0.5 (1 + (rank + 0.5) / n_above)``, the others ``0.5 (rank + 0.5) /
    n_below`` (ranks from 0 within each group, ties by position). 0 where not masked."""
    above = mask & (loglike >= threshold)
    below = mask & ~above
    order = jnp.argsort(loglike, stable=True)
    position = jnp.zeros_like(order).at[order].set(jnp.arange(order.shape[0]))

    def within(group):
        # rank of each member among its group: how many members sit before it in order
        count_before = jnp.cumsum(group[order]) - 1
        return count_before[position].astype(loglike.dtype)

    n_above = jnp.maximum(jnp.sum(above), 1).astype(loglike.dtype)
    n_below = jnp.maximum(jnp.sum(below), 1).astype(loglike.dtype)
    high = 0.5 * (1.0 + (within(above) + 0.5) / n_above)
    low = 0.5 * (within(below) + 0.5) / n_below
    return jnp.where(above, high, jnp.where(below, low, 0.0))


def _init(key, dim: int, dtype):
    """Glorot-uniform weights, zero biases, one set per network."""
    sizes = (dim, *HIDDEN, 1)
    weights, biases = [], []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        limit = jnp.sqrt(6.0 / (fan_in + fan_out)).astype(dtype)
        weights.append(jax.random.uniform(jax.random.fold_in(key, i),
                                          (N_NETWORKS, fan_in, fan_out), dtype, -limit, limit))
        biases.append(jnp.zeros((N_NETWORKS, fan_out), dtype))
    return tuple(weights), tuple(biases)


def _forward(weights, biases, white):
    """Each network's prediction for whitened inputs (n, dim), the same for every
    network, or (N_NETWORKS, n, dim), one set per network: shape (N_NETWORKS, n)."""
    h = white if white.ndim == 3 else jnp.broadcast_to(white, (N_NETWORKS, *white.shape))
    for w, b in zip(weights[:-1], biases[:-1], strict=True):
        h = jax.nn.relu(jnp.einsum("jna,jab->jnb", h, w) + b[:, None, :])
    return (jnp.einsum("jna,jab->jnb", h, weights[-1]) + biases[-1][:, None, :])[..., 0]


#: The networks compute in float32 whatever the run's precision: they only decide which
#: points a bound holds, by the same function everywhere (draws, volume counts,
#: membership), and float32 trains them in half the time of float64 (measured).
DTYPE = jnp.float32


def _whiten(centre, inverse, points):
    return ((points - centre[None, :]) @ inverse.T).astype(DTYPE)


def predict(network: Network, points):
    """The ensemble's mean predicted score of ``points`` (n, dim): shape (n,)."""
    white = _whiten(network.centre, network.inverse, points)
    return jnp.mean(_forward(network.weights, network.biases, white), axis=0)


def inside(network: Network, points):
    """Whether the networks place each of ``points`` (n, dim) inside the contour."""
    return predict(network, points) > network.cut - 1e-9


def stack(networks: list) -> Network:
    """One :class:`Network` per slot of a union, stacked on a leading axis; a slot
    without networks (None: too few points to train on, or unused) keeps every point of
    its ellipsoid (cut -inf). At least one entry must be a Network."""
    template = next(n for n in networks if n is not None)
    keep_all = jax.tree.map(jnp.zeros_like, template)._replace(
        cut=jnp.asarray(-jnp.inf, template.cut.dtype))
    filled = [keep_all if n is None else n for n in networks]
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *filled)


def inside_by_slot(networks: Network, slot, points):
    """Whether each of ``points`` (n, dim) lies inside the contour by the networks of its
    ``slot`` (n,) (``networks`` stacked by :func:`stack`)."""
    centre, inverse = networks.centre[slot], networks.inverse[slot]
    h = jnp.einsum("nab,nb->na", inverse, points - centre).astype(DTYPE)[:, None, :]
    h = jnp.broadcast_to(h, (h.shape[0], N_NETWORKS, h.shape[-1]))
    layers = list(zip(networks.weights, networks.biases, strict=True))
    for w, b in layers[:-1]:
        h = jax.nn.relu(jnp.einsum("nja,njab->njb", h, w[slot]) + b[slot])
    w, b = layers[-1]
    score = jnp.mean((jnp.einsum("nja,njab->njb", h, w[slot]) + b[slot])[..., 0], axis=1)
    return score > networks.cut[slot] - 1e-9


def _adam(loss, params, steps: int, key=None):
    """``steps`` of Adam (b1 0.9, b2 0.999) on ``loss(params, step_key)``, with a cosine
    decay of the step size from :data:`LEARNING_RATE` to a hundredth of it; the loss
    draws its mini-batch from ``step_key`` (the key folded with the step) where
    ``key`` is given."""
    grad = jax.grad(loss)
    zeros = jax.tree.map(jnp.zeros_like, params)

    def step(t, carry):
        params, m, v = carry
        g = grad(params, None if key is None else jax.random.fold_in(key, t))
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        k = (t + 1).astype(jnp.result_type(float))
        rate = LEARNING_RATE * (0.01 + 0.99 * 0.5 * (1.0 + jnp.cos(jnp.pi * t / steps)))
        scale = rate * jnp.sqrt(1.0 - 0.999**k) / (1.0 - 0.9**k)
        params = jax.tree.map(
            lambda p, m, v: p - (scale * m / (jnp.sqrt(v) + 1e-8)).astype(p.dtype), params, m, v)
        return params, m, v

    params, _, _ = jax.lax.fori_loop(0, steps, step, (params, zeros, zeros))
    return params


def train_steps(n_points):
    """Adam steps for ``n_points`` training points: :data:`TRAIN_STEPS`, or by
    :data:`EPOCHS` where set (a full batch, ``BATCH`` None, is one pass a step);
    traceable."""
    if EPOCHS is None:
        return TRAIN_STEPS  # a Python int: the loop's trip count is static
    rows = jnp.maximum(n_points, 1) if BATCH is None else BATCH
    wanted = (EPOCHS * n_points + rows - 1) // rows
    return jnp.clip(wanted, MIN_STEPS, TRAIN_STEPS)


def train(key, points, loglike, mask, threshold, centre, factor,
          steps: int | None = None) -> Network:
    """Train the ensemble on the ``mask``ed rows of ``points`` (n, dim) and ``loglike``
    (n,) to the rank scores around ``threshold`` for ``steps`` (default
    :func:`train_steps` of the masked rows); inputs whitened by ``centre`` and the
    lower-triangular covariance ``factor``. The cut is the value at the lowest score
    above the threshold of a cubic fitted to predicted against true scores."""
    dim = points.shape[1]
    dtype = DTYPE
    inverse = ellipsoids.inverse_factor(factor)
    white = _whiten(centre, inverse, points)
    target = rank_scores(loglike, mask, threshold).astype(dtype)
    n_masked = jnp.sum(mask)
    weight = mask.astype(dtype) / jnp.maximum(n_masked, 1).astype(dtype)

    masked = jnp.nonzero(mask, size=mask.shape[0], fill_value=0)[0]

    def loss(params, step_key):
        if BATCH is None:  # full batch
            prediction = _forward(*params, white)
            return jnp.sum(weight[None, :] * (prediction - target[None, :]) ** 2)
        # a mini-batch of the masked rows, drawn with replacement, per network
        rows = masked[jax.random.randint(step_key, (N_NETWORKS, BATCH), 0, n_masked)]
        prediction = _forward(*params, white[rows])
        return jnp.mean((prediction - target[rows]) ** 2) * N_NETWORKS

    steps = train_steps(n_masked) if steps is None else steps
    weights, biases = _adam(loss, _init(key, dim, dtype), steps,
                            None if BATCH is None else jax.random.fold_in(key, 1 << 20))
    predicted = jnp.mean(_forward(weights, biases, white), axis=0)
    # predicted ~ cubic(target), fitted on the masked points; read at the contour
    design = jnp.stack([target**p for p in range(4)], axis=1) * jnp.sqrt(weight)[:, None]
    coef = jnp.linalg.lstsq(design, predicted * jnp.sqrt(weight))[0]
    above = mask & (loglike >= threshold)
    at_contour = jnp.min(jnp.where(above, target, 1.0))
    cut = jnp.sum(coef * at_contour ** jnp.arange(4, dtype=dtype))
    return Network(weights, biases, centre, inverse, cut)
