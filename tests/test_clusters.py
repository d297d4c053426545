"""Modes of the live points (slicens.core.clusters) and the jump ellipsoids built on them."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slicens.core import clusters, ellipsoids, jumps, kernel

pytestmark = pytest.mark.timeout(300)


def _find(points, max_clusters=8):
    points = jnp.asarray(points)
    return clusters.find_clusters(points, kernel.covariance_factor(points), max_clusters)


def _diagonal_modes(sizes, dim=5, sigma=0.05, seed=0):
    """Modes on the diagonal of the box, as in ``weighted_mixture``: after whitening by
    the global covariance they are thin slabs almost touching."""
    rng = np.random.default_rng(seed)
    centres = np.outer(np.linspace(-0.5, 0.5, len(sizes)), np.ones(dim))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return centres[truth] + sigma * rng.normal(size=(truth.size, dim)), truth


def _same_partition(label, truth):
    pairs_found = label[:, None] == label[None, :]
    pairs_true = truth[:, None] == truth[None, :]
    return np.array_equal(pairs_found, pairs_true)


@pytest.mark.parametrize("dim", [2, 10, 30])
def test_one_blob_is_one_cluster(dim):
    rng = np.random.default_rng(dim)
    found = _find(rng.normal(size=(500, dim)))
    assert int(found.count) == 1
    np.testing.assert_array_equal(found.label, 0)
    assert list(np.asarray(found.size[:2])) == [500, 0]


@pytest.mark.parametrize("small", [3, 12])
def test_modes_along_a_line_are_found_down_to_a_few_points(small):
    """The local metric separates slab-shaped modes; the link ratio keeps a dying mode
    of a few points from joining the nearest dense one."""
    points, truth = _diagonal_modes((200, 150, 100, small))
    found = _find(points)
    label = np.asarray(found.label)
    assert int(found.count) == 4
    assert list(np.asarray(found.size[:5])) == [200, 150, 100, small, 0]  # largest first
    assert _same_partition(label, truth)


def test_clusters_beyond_the_limit_are_unlabelled():
    points, truth = _diagonal_modes((60, 50, 40, 30))
    found = _find(points, max_clusters=2)
    label = np.asarray(found.label)
    assert int(found.count) == 4 and list(np.asarray(found.size)) == [60, 50]
    np.testing.assert_array_equal(label[truth >= 2], -1)
    assert _same_partition(label[truth < 2], truth[truth < 2])


def test_jump_ellipsoids_split_only_where_it_saves_volume():
    """Separated modes get one ellipsoid each (slot 0, the single ellipsoid, unused);
    one blob keeps the single ellipsoid. Either way every start not on the hull of its
    own set lies inside its union."""
    starts = jnp.arange(0, 400, 7)
    points, truth = _diagonal_modes((150, 120, 80, 50))
    points = jnp.asarray(points)
    ellipsoids, inside = jumps.jump_ellipsoids(points, kernel.covariance_factor(points),
                                                starts, max_clusters=8)
    radius = np.asarray(ellipsoids.radius)
    assert radius.shape == (starts.size, 9)
    np.testing.assert_array_equal(radius[:, 0], 0.0)
    assert np.all((radius[:, 1:5] > 0).all(axis=1)) and np.all(radius[:, 5:] == 0)
    assert float(np.mean(inside)) > 0.9
    # each mode's ellipsoid holds its own points and none of the others'
    for k in range(4):
        one = ellipsoids._replace(radius=radius[0])
        d2 = jax.vmap(one.distance2)(points)[:, 1 + k]
        assert np.mean(np.asarray(d2)[truth == k] < radius[0, 1 + k] ** 2) > 0.95
        assert not np.any(np.asarray(d2)[truth != k] < radius[0, 1 + k] ** 2)

    blob = jnp.asarray(np.random.default_rng(1).normal(size=(400, 5)))
    single, inside = jumps.jump_ellipsoids(blob, kernel.covariance_factor(blob), starts,
                                            max_clusters=8)
    assert np.all(np.asarray(single.radius)[:, 0] > 0)
    np.testing.assert_array_equal(np.asarray(single.radius)[:, 1:], 0.0)
    assert float(np.mean(inside)) > 0.9


def test_jump_ellipsoids_skip_the_clustering_when_told():
    """``cluster=False`` (the kernel's choice where jumps from one ellipsoid mostly
    succeed and the last iteration did not split) gives the single ellipsoid even where
    the points fall into modes; ``cluster=True`` splits them."""
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(-3, 0.1, (60, 2)), rng.normal(3, 0.1, (60, 2))])
    positions = jnp.asarray(points)
    factor = kernel.covariance_factor(positions)
    starts = jnp.arange(10)
    split, _ = jumps.jump_ellipsoids(positions, factor, starts, 8, jnp.asarray(True))
    single, _ = jumps.jump_ellipsoids(positions, factor, starts, 8, jnp.asarray(False))
    assert int(jnp.sum(split.radius[0] > 0)) == 2 and float(split.radius[0, 0]) == 0.0
    assert int(jnp.sum(single.radius[0] > 0)) == 1 and float(single.radius[0, 0]) > 0.0
    one, _ = jumps.jump_ellipsoids(positions, factor, starts, 1)  # no cluster slots at all
    np.testing.assert_array_equal(single.radius[:, 0], one.radius[:, 0])


def test_one_component_is_not_looked_for_again_for_an_e_fold():
    """Where jumps keep missing on one mode, a clustering that finds one component waits
    ``n_live // num_delete`` iterations (an e-fold of compression) before the next,
    unless more jumps miss than then; a split is followed every iteration while it
    lasts. (At 7b7ef47 every such iteration clustered: 0.98 s per iteration in 30
    dimensions, most of it for nothing.)"""
    n_live, num_delete = 1000, 100
    assert jumps.cluster_interval(n_live, num_delete) == 10

    def iterate(splits, misses):
        state = types.SimpleNamespace(split=jnp.asarray(False), cluster_wait=jnp.int32(0),
                                      cluster_miss=jnp.asarray(0.0))
        clustered = []
        for found_split, miss in zip(splits, misses, strict=True):
            state.jump_miss = jnp.asarray(miss)
            cluster = jumps.cluster_decision(state)
            clustered.append(bool(cluster))
            split = cluster & found_split
            state.__dict__.update(jumps.next_cluster_wait(cluster, split, state, n_live,
                                                          num_delete), split=split)
        return np.flatnonzero(clustered).tolist()

    steady = [0.9] * 30
    assert iterate([False] * 30, steady) == [0, 10, 20]
    # modes apart from iteration 12 on: found at the next try (20), then followed
    assert iterate([False] * 12 + [True] * 18, steady) == [0, 10] + list(range(20, 30))
    # more jumps miss (modes drawing apart): tried again before the wait is over
    rising = [0.3] * 5 + [0.36] * 3 + [0.42] * 22
    assert iterate([False] * 30, rising) == [0, 5, 8, 18, 28]
    assert iterate([False] * 30, [0.1] * 30) == []  # jumps succeed: never clustered


def test_an_unsplit_union_gives_every_point_region_zero():
    """With ``split`` False only slot 0 is used: the region is 0 and the slice direction
    slot 0's, as the full distance computation gives (the union below has unused slots
    of radius 0); with ``split`` True the nearest slot."""
    rng = np.random.default_rng(4)
    dim, slots = 3, 4
    centre = jnp.asarray(rng.normal(size=(slots, dim)))
    factor = jnp.asarray(np.tril(rng.normal(size=(slots, dim, dim))) + 3 * np.eye(dim))
    union = ellipsoids.Ellipsoids.make(centre, factor, jnp.array([2.0, 0.0, 0.0, 0.0]))
    unit = jnp.asarray(rng.normal(size=dim))
    for x in rng.normal(size=(5, dim)):
        x = jnp.asarray(x)
        full = ellipsoids.region_of(union, union.radius, x)
        alone = ellipsoids.region_of(union._replace(split=jnp.asarray(False)), union.radius, x)
        assert int(full) == int(alone) == 0
        np.testing.assert_array_equal(
            ellipsoids.region_direction(union._replace(split=jnp.asarray(False)), 0, unit),
            ellipsoids.region_direction(union, 0, unit))
    split = union._replace(radius=jnp.array([0.0, 1.0, 1.0, 1.0]), split=jnp.asarray(True))
    x = centre[2] + 0.01
    assert int(ellipsoids.region_of(split, split.radius, x)) == 2
