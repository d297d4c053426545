"""The learned refinement of bounds (:mod:`slicens.core.network`): rank scores, networks
that follow a ring, and a refined bound whose draws, membership and counted volume agree.
Whole runs with ``refine=True`` are in tests/test_bounds.py."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slicens.core import bounds, ellipsoids, kernel, network
from slicens.core.ellipsoids import Ellipsoids


def test_rank_scores_put_the_contour_at_one_half():
    loglike = jnp.array([3.0, -1.0, 5.0, 0.0, 2.0, -jnp.inf, 4.0, 1.0])
    mask = jnp.array([True] * 7 + [False])
    score = np.asarray(network.rank_scores(loglike, mask, 2.0))
    above = np.array([True, False, True, False, True, False, True, False])
    # four above the threshold score 0.5 (1 + (rank + 0.5) / 4), three below 0.5 (rank + 0.5) / 3
    np.testing.assert_allclose(score[above], 0.5 * (1 + (np.array([1, 3, 0, 2]) + 0.5) / 4))
    np.testing.assert_allclose(score[[5, 1, 3]], 0.5 * (np.arange(3) + 0.5) / 3)
    assert score[7] == 0.0  # not masked


def _ring(n, seed):
    """``n`` points uniform in the unit square and a log-likelihood peaked on a ring of
    radius 0.3 about its centre (width 0.03)."""
    u = jax.random.uniform(jax.random.key(seed), (n, 2))
    radius = jnp.sqrt(jnp.sum((u - 0.5) ** 2, axis=1))
    return u, -0.5 * ((radius - 0.3) / 0.03) ** 2


@functools.cache
def _ring_network():
    u, loglike = _ring(2048, 0)
    threshold = jnp.sort(loglike)[-512]
    train = jax.jit(network.train)
    net = train(jax.random.key(1), u, loglike, jnp.ones(2048, bool), threshold,
                jnp.mean(u[loglike >= threshold], axis=0),
                kernel.covariance_factor(u[loglike >= threshold]))
    return net, threshold


def test_networks_follow_a_ring_that_no_ellipsoid_can():
    net, threshold = _ring_network()
    u, loglike = _ring(20_000, 2)  # fresh points, not those trained on
    inside = np.asarray(network.inside(net, u))
    above = np.asarray(loglike >= threshold)
    # measured: 99.9% of the points above the contour inside, 3.6% of those below
    assert inside[above].mean() > 0.97
    assert inside[~above].mean() < 0.1


def test_a_refined_bound_draws_inside_itself_and_counts_the_volume_the_cube_sees():
    net = network.stack([_ring_network()[0]])  # the networks of the union's one ellipsoid
    union = Ellipsoids.make(jnp.array([[0.5, 0.5]]), jnp.eye(2)[None] * 0.5,
                            jnp.array([1.0]))  # a disc of radius 0.5 around the ring
    bound = bounds.count_volume(jax.random.key(3), union, 16, net)
    points, filled = bounds.draw(jax.random.key(4), union, 4000, 100, net)
    assert int(filled) == 4000
    assert bool(jnp.all(bounds.contains(union, points, net)))
    assert not bool(jnp.all(bounds.contains(union, jax.random.uniform(
        jax.random.key(5), (100, 2)), net)))
    # the volume again, from points uniform in the cube: the share the bound holds
    cube = jax.random.uniform(jax.random.key(6), (2**16, 2))
    share = float(jnp.mean(bounds.contains(union, cube, net)))
    sd = np.sqrt(float(bound.log_volume_var) + (1 - share) / (share * 2**16))
    assert abs(float(bound.log_volume) - np.log(share)) < 4 * sd
    assert float(bound.log_volume) < np.log(0.5)  # the ring, not the disc


def test_training_depends_on_its_key_and_points_only():
    net, threshold = _ring_network()
    again, _ = _ring_network.__wrapped__()
    for a, b in zip(jax.tree.leaves(net), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert network.inside(net, jnp.full((1, 2), 0.5)).dtype == bool


def test_each_ellipsoid_of_a_union_decides_by_its_own_networks():
    # two discs; the right one's networks (the ring's) refine it, the left keeps all
    union = Ellipsoids.make(jnp.array([[0.5, 0.5], [-2.0, 0.5]]),
                            jnp.broadcast_to(jnp.eye(2) * 0.5, (2, 2, 2)), jnp.array([1.0, 1.0]))
    networks = network.stack([_ring_network()[0], None])
    u = (jax.random.uniform(jax.random.key(8), (4000, 2)) * jnp.array([[3.0, 1.0]])
         - jnp.array([[2.5, 0.0]]))
    slot = np.asarray(ellipsoids.nearest(union, u))
    kept = np.asarray(network.inside_by_slot(networks, jnp.asarray(slot), u))
    assert np.all(kept[slot == 1])  # no networks: every point of its ellipsoid
    np.testing.assert_array_equal(kept[slot == 0],
                                  np.asarray(network.inside(_ring_network()[0], u[slot == 0])))
    assert 0 < kept[slot == 0].mean() < 0.5


@pytest.mark.parametrize("dtype", [jnp.float32])
def test_networks_train_from_float32_points(dtype):
    u, loglike = _ring(1024, 7)
    u, loglike = u.astype(dtype), loglike.astype(dtype)
    threshold = jnp.sort(loglike)[-256]
    net = network.train(jax.random.key(0), u, loglike, jnp.ones(1024, bool), threshold,
                        jnp.mean(u, axis=0), kernel.covariance_factor(u), steps=50)
    assert np.isfinite(float(net.cut))


def test_an_ellipsoid_without_networks_shrinks_to_its_own_best_points():
    """``bounded_record._own_radius``: the radius (in the ellipsoid's own metric) of the
    farthest given point, enlarged as the union is, never beyond the ellipsoid's own
    radius, and 0 without points."""
    from slicens.host.bounded_record import _own_radius

    factor = jnp.stack([jnp.diag(jnp.array([0.1, 0.2])), jnp.eye(2) * 0.05])
    union = Ellipsoids.make(jnp.array([[0.5, 0.5], [0.2, 0.2]]), factor, jnp.array([4.0, 3.0]))
    best = np.array([[0.5, 0.6], [0.55, 0.5]])  # distances 0.5 and 0.5 in slot 0's metric
    assert _own_radius(union, 0, best, 3.0) == pytest.approx(0.5 * 3.0 ** 0.5)
    assert _own_radius(union, 1, np.array([[0.2, 0.5]]), 1.0) == pytest.approx(3.0)  # capped
    assert _own_radius(union, 0, np.zeros((0, 2)), 3.0) == 0.0


def _ellipsoid_with_too_few_points(split: bool):
    """``bounded_record._learn`` on a 2-d Gaussian's 4,096 evaluated points and a union of
    two ellipsoids: one around the best points and one small disc inside the contour
    holding fewer than ``MIN_TRAIN`` points of its own, with the union of modes ``mode``
    (the best points' one ellipsoid) where ``split``. Returns (networks, refined union,
    union, mode)."""
    from types import SimpleNamespace

    from slicens.host import bounded_record

    u = np.asarray(jax.random.uniform(jax.random.key(9), (4096, 2)), np.float64)
    loglike = -0.5 * np.sum((u - 0.5) ** 2, axis=1) / 0.1**2
    points = bounded_record.Points(2)
    points.add(u, loglike, 0, np.ones((4096, 1), bool))
    best = u[np.argsort(loglike)[-500:]]
    threshold = float(np.sort(loglike)[-500])
    mode = bounds.fit(jnp.asarray(best), 1, 3.0)
    shift = jnp.array([[0.01, 0.0], [0.15, 0.0]])  # slot 1: a disc at the contour's edge
    union = Ellipsoids.make(mode.centre[:1] + shift,
                            jnp.stack([mode.factor[0], jnp.eye(2) * 0.03]),
                            jnp.array([float(mode.radius[0]), 1.0]))
    programs = SimpleNamespace(contains=jax.jit(bounds.contains),
                               nearest=jax.jit(ellipsoids.nearest),
                               learn=bounded_record.learn_program(), n_live=500,
                               enlargement=3.0)
    networks, refined = bounded_record._learn(programs, points, union, threshold,
                                              jax.random.key(10),
                                              (lambda: mode) if split else None)
    return networks, refined, union, mode


def test_an_ellipsoid_with_too_few_points_takes_the_networks_of_its_mode():
    """In a split union (``modes``: one ellipsoid per mode) an ellipsoid holding too few
    points to train on is refined by its mode's networks, whitened by the mode's shape;
    with no union of modes (one ellipsoid per mode already) it keeps its volume, shrunk
    to its own best points."""
    networks, refined, union, modes = _ellipsoid_with_too_few_points(True)
    cut = np.asarray(networks.cut)
    assert np.all(np.isfinite(cut))
    np.testing.assert_array_equal(np.asarray(networks.centre[0]), np.asarray(union.centre[0]))
    np.testing.assert_array_equal(np.asarray(networks.centre[1]), np.asarray(modes.centre[0]))
    np.testing.assert_array_equal(np.asarray(refined.radius), np.asarray(union.radius))

    networks, refined, union, _ = _ellipsoid_with_too_few_points(False)
    assert np.isfinite(float(networks.cut[0])) and float(networks.cut[1]) == -np.inf
    assert 0 < float(refined.radius[1]) < float(union.radius[1])


def test_with_networks_per_mode_every_ellipsoid_takes_its_modes(monkeypatch):
    """``NETWORKS_PER_MODE``: the ellipsoid with points enough for networks of its own
    takes its mode's too (whitened by the mode's shape), as the one with too few does."""
    from slicens.host import bounded_record

    monkeypatch.setattr(bounded_record, "NETWORKS_PER_MODE", True)
    networks, refined, union, modes = _ellipsoid_with_too_few_points(True)
    for s in range(2):
        np.testing.assert_array_equal(np.asarray(networks.centre[s]),
                                      np.asarray(modes.centre[0]))
        for layer in networks.weights:
            np.testing.assert_array_equal(np.asarray(layer[s]), np.asarray(layer[0]))
    np.testing.assert_array_equal(np.asarray(refined.radius), np.asarray(union.radius))


def test_training_steps_are_fixed_or_follow_the_points_within_their_bounds(monkeypatch):
    assert int(network.train_steps(jnp.asarray(300))) == network.TRAIN_STEPS  # the default
    monkeypatch.setattr(network, "EPOCHS", 250)
    steps = [int(network.train_steps(jnp.asarray(n))) for n in (1, 300, 1000, 2048, 100_000)]
    per_point = network.EPOCHS / network.BATCH
    assert steps[0] == steps[1] == network.MIN_STEPS  # 300 points: 293 steps wanted
    assert steps[2] == int(np.ceil(1000 * per_point))
    assert steps[3] == int(np.ceil(2048 * per_point))
    assert steps[4] == network.TRAIN_STEPS
    monkeypatch.setattr(network, "BATCH", None)  # a full batch: one pass a step
    monkeypatch.setattr(network, "EPOCHS", 1000)
    assert int(network.train_steps(jnp.asarray(300))) == 1000
