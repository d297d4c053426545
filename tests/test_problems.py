"""The problems themselves: analytic values and the lens likelihood's behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from slicens.problems import correlated_gaussian, gaussian, lens_problem, mixture
from slicens.problems.lens import SCALES, _image_grid


def test_gaussian_2d_logz_by_quadrature():
    problem = gaussian(2, sigma=0.8, half_width=2.0)  # box truncation matters here
    f = jax.jit(problem.loglike)
    value, _ = integrate.dblquad(
        lambda y, x: float(jnp.exp(f(jnp.array([x, y])))), -2, 2, -2, 2, epsabs=1e-10
    )
    assert np.log(value / 16) == pytest.approx(problem.logZ, abs=1e-6)


def test_likelihoods_are_normalised_densities():
    """loglike equals scipy's normalised log-density, so logZ = log P(box) - log V."""
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    corr = correlated_gaussian(4)
    x = rng.uniform(-1, 1, size=(5, 4))
    want = multivariate_normal(corr.mean, corr.cov).logpdf(x)
    np.testing.assert_allclose(jax.vmap(corr.loglike)(jnp.asarray(x)), want, rtol=1e-12)

    mix = mixture(2)
    centre = mix.mean + np.sqrt(np.diag(mix.cov - 0.04 * np.eye(2)))  # the +centre mode
    x = rng.uniform(-1, 1, size=(5, 2))
    want = np.logaddexp(
        multivariate_normal(centre, 0.04 * np.eye(2)).logpdf(x),
        multivariate_normal(-centre, 0.04 * np.eye(2)).logpdf(x),
    ) - np.log(2)
    np.testing.assert_allclose(jax.vmap(mix.loglike)(jnp.asarray(x)), want, rtol=1e-12)


def test_lens_scales_match_the_design():
    sizes = {s: (_image_grid(r).shape[0], n * n) for s, (r, n) in SCALES.items()}
    assert sizes["hst"] == (15_380, 1_521)
    assert sizes["laptop"][1] == 400 and 4_500 < sizes["laptop"][0] < 5_500
    assert sizes["tiny"][1] == 64 and 600 < sizes["tiny"][0] < 800


def test_lens_likelihood_peaks_near_the_truth(tiny_lens):
    f = jax.jit(tiny_lens.loglike)
    at_truth = float(f(jnp.asarray(tiny_lens.truth)))
    rng = np.random.default_rng(0)
    lows = [
        jnp.asarray([p.low for p in tiny_lens.prior]),
        jnp.asarray([p.high for p in tiny_lens.prior]),
    ]
    for _ in range(20):
        far = lows[0] + (lows[1] - lows[0]) * rng.uniform(size=7)
        assert float(f(far)) < at_truth - 50


def test_dense_and_sparse_curvature_agree():
    dense = lens_problem("tiny", curvature="dense")
    sparse = lens_problem("tiny", curvature="sparse")
    x = jnp.asarray(dense.truth) * 1.01
    assert float(dense.loglike(x)) == pytest.approx(float(sparse.loglike(x)), rel=1e-10)


def test_bad_scale_and_curvature():
    with pytest.raises(ValueError, match="scale='huge'"):
        lens_problem("huge")
    with pytest.raises(ValueError, match="curvature='fast'"):
        lens_problem("tiny", curvature="fast")
