"""Modes of the live points (slicens.core.clusters) and the jump ellipsoids built on them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from slicens.core import clusters, jumps, kernel

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
