"""The problems themselves: analytic values and the lens likelihood's behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from slicens.problems import (
    correlated_gaussian,
    eggbox,
    gaussian,
    lens_problem,
    mixture,
    rosenbrock,
    shells,
    weighted_mixture,
)
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


def test_shells_evidence_matches_monte_carlo():
    """The quadrature logZ of the 2-d shells against a plain prior average (2e5 draws)."""
    problem = shells(2)
    x = np.random.default_rng(0).uniform(-6.0, 6.0, (200_000, 2))
    like = np.exp(np.asarray(jax.vmap(problem.loglike)(jnp.asarray(x))))
    mc_logZ = np.log(like.mean())  # Z is the prior average of the likelihood
    assert abs(mc_logZ - problem.logZ) < 3 * like.std() / like.mean() / np.sqrt(x.shape[0])
    np.testing.assert_allclose(np.average(x, axis=0, weights=like), problem.mean, atol=0.05)
    # about 9,000 effective draws: covariances to a few per cent, cross terms to +/- 0.06
    np.testing.assert_allclose(np.cov(x.T, aweights=like), problem.cov, rtol=0.02, atol=0.2)


def test_weighted_mixture_is_the_stated_normalised_mixture():
    problem = weighted_mixture(5)
    rng = np.random.default_rng(1)
    weights = np.array([0.4, 0.3, 0.2, 0.1])
    means = np.outer([-0.5, -1 / 6, 1 / 6, 0.5], np.ones(5))
    x = rng.uniform(-0.7, 0.7, (50, 5))
    expected = np.log(sum(w * stats.multivariate_normal(m, 0.01 * np.eye(5)).pdf(x)
                          for w, m in zip(weights, means, strict=True)))
    np.testing.assert_allclose(np.asarray(jax.vmap(problem.loglike)(jnp.asarray(x))),
                               expected, rtol=1e-10)
    draws = means[rng.choice(4, 400_000, p=weights)] + 0.1 * rng.normal(size=(400_000, 5))
    np.testing.assert_allclose(draws.mean(axis=0), problem.mean, atol=3e-3)
    np.testing.assert_allclose(np.cov(draws.T), problem.cov, atol=3e-3)
    assert problem.logZ == pytest.approx(-5 * np.log(2.0))


def test_eggbox_evidence_and_peaks():
    """18 equal peaks inside the box; logZ from the trapezoid rule on one period agrees
    with a brute-force midpoint rule over the whole box, and with the usual [0, 10 pi]^2
    egg-box's 235.856 (both boxes hold the same mean of L)."""
    problem = eggbox()
    assert problem.mean.shape == (18, 2)
    low, high = problem.prior[0].low, problem.prior[0].high
    assert np.all((problem.mean - low >= np.pi - 1e-12) & (high - problem.mean >= np.pi - 1e-12))
    peak = jax.vmap(problem.loglike)(jnp.asarray(problem.mean))
    np.testing.assert_allclose(peak, 3.0**5, rtol=1e-12)
    n = 3000
    u = low + (np.arange(n) + 0.5) * (high - low) / n
    log_l = (2 + np.cos(u / 2)[:, None] * np.cos(u / 2)[None, :]) ** 5
    brute = log_l.max() + np.log(np.mean(np.exp(log_l - log_l.max())))
    assert problem.logZ == pytest.approx(brute, abs=1e-6)
    assert problem.logZ == pytest.approx(235.856, abs=1e-3)


def test_rosenbrock_quadrature_against_a_brute_force_grid():
    """logZ, mean and covariance of the 2-d Rosenbrock from its one-dimensional
    quadratures agree with a midpoint rule over the whole box (4000^2 cells, 0.0025 wide,
    the ridge 0.07 wide), and the likelihood is the stated one."""
    problem = rosenbrock()
    np.testing.assert_allclose(problem.loglike(jnp.array([0.5, 2.0])),
                               -(0.5**2) - 100 * (2.0 - 0.25) ** 2, rtol=1e-12)
    n = 4000
    u = -5.0 + (np.arange(n) + 0.5) * (10.0 / n)
    like = np.exp(-((1 - u[:, None]) ** 2) - 100 * (u[None, :] - u[:, None] ** 2) ** 2)
    mass = like.sum()
    assert problem.logZ == pytest.approx(np.log(mass / n**2), abs=1e-6)
    mean = np.array([(like.sum(1) * u).sum(), (like.sum(0) * u).sum()]) / mass
    np.testing.assert_allclose(problem.mean, mean, atol=1e-6)
    cx, cy = u - mean[0], u - mean[1]
    cov = np.array([[(like.sum(1) * cx**2).sum(), cx @ like @ cy],
                    [cx @ like @ cy, (like.sum(0) * cy**2).sum()]]) / mass
    np.testing.assert_allclose(problem.cov, cov, atol=1e-5)
