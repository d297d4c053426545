"""Bad input raises a clear error naming the offending value."""

import jax.numpy as jnp
import pytest

import slicens
from slicens.priors import LogUniform, Normal, Uniform


def loglike(x):
    return -0.5 * jnp.sum(x**2)


PRIOR = [Uniform(-1, 1), Uniform(-1, 1)]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_live=10, num_delete=10), ValueError, "num_delete=10, n_live=10"),
        (dict(n_live=10, num_delete=20), ValueError, "num_delete=20"),
        (dict(num_delete=0), ValueError, "num_delete=0"),
        (dict(chunk_size=0), ValueError, "chunk_size=0"),
        (dict(chunk_size=-3), ValueError, "chunk_size=-3"),
        (dict(chunk_size=2.5), TypeError, "chunk_size=2.5"),
        (dict(chunk_size=True), TypeError, "chunk_size=True"),
        (dict(n_live=1), ValueError, "n_live=1"),
        (dict(n_live="100"), TypeError, "n_live='100'"),
        (dict(num_inner_steps=0), ValueError, "num_inner_steps=0"),
        (dict(dlogz=0), ValueError, "dlogz=0"),
        (dict(dlogz=float("nan")), ValueError, "dlogz=nan"),
        (dict(max_evals=0), ValueError, "max_evals=0"),
        (dict(seed=-1), ValueError, "seed=-1"),
        (dict(max_shrinkage=0), ValueError, "max_shrinkage=0"),
    ],
)
def test_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        slicens.run(loglike, PRIOR, **kwargs)


def test_loglike_returning_a_vector():
    with pytest.raises(ValueError, match=r"scalar, got output shape \(2,\)"):
        slicens.run(lambda x: x**2, PRIOR)


def test_loglike_that_fails_to_trace():
    def bad(x):
        return float(x[0])  # concrete conversion of a tracer

    with pytest.raises(TypeError, match=r"loglike failed to trace .*shape \(2,\)"):
        slicens.run(bad, PRIOR)


def test_loglike_with_wrong_dimension():
    """A likelihood written for 3 parameters under a 2-parameter prior fails to trace.

    (Out-of-range indexing such as ``x[2]`` would not: JAX clamps indices.)
    """
    with pytest.raises(TypeError, match="loglike failed to trace"):
        slicens.run(lambda x: x @ jnp.ones(3), PRIOR)


def test_loglike_not_callable():
    with pytest.raises(TypeError, match="loglike must be callable, got 3"):
        slicens.run(3, PRIOR)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Uniform(1, 0), "low=1, high=0"),
        (lambda: Uniform(0, float("inf")), "high=inf"),
        (lambda: Normal(0, -1), "sigma=-1"),
        (lambda: LogUniform(0, 1), "low=0"),
    ],
)
def test_bad_priors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_prior_of_the_wrong_kind():
    with pytest.raises(TypeError, match=r"prior\[1\]: expected Uniform, Normal or LogUniform"):
        slicens.run(loglike, [Uniform(0, 1), "uniform"])
    with pytest.raises(TypeError, match="prior must be"):
        slicens.run(loglike, 42)


def test_custom_prior_with_wrong_sample_shape():
    import jax

    def sample(key, n):
        return jax.random.uniform(key, (n,))

    expected = r"must return shape \(n, dim\); for n=2 it returned \(2,\)"
    with pytest.raises(ValueError, match=expected):
        slicens.run(loglike, (sample, lambda x: 0.0))


def test_all_initial_points_invalid():
    with pytest.raises(ValueError, match="NaN or \\+/-inf at all 20 initial prior draws"):
        slicens.run(lambda x: jnp.nan * x[0], PRIOR, n_live=20, num_delete=2)
