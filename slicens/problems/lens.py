"""Synthetic strong-lens inversion likelihood (the memory-hungry kind slicens is for).

Each evaluation, for 7 lens parameters (SIE Einstein radius ``b``, centre ``x0, y0``,
ellipticity ``e1, e2``; external shear ``g1, g2``):

1. deflects every masked image pixel through the isothermal ellipsoid plus shear;
2. spans a rectangular ``n x n`` source mesh over the traced positions;
3. scatters bilinear interpolation weights into a dense mapping matrix ``M``
   (image pixels x source pixels) with ``.at[].add``;
4. solves the regularised linear inversion: ``B = M / sigma``,
   ``F = B^T B + lambda H`` (``H``: gradient regularisation), Cholesky solve for the source
   ``s = F^{-1} B^T d / sigma``;
5. returns the Bayesian-evidence-style log-likelihood (Suyu et al. 2006):
   ``-1/2 [chi^2 + lambda s^T H s + log det F - log det(lambda H) + N log 2 pi] - sum log sigma``.

Data are simulated from a known truth: an analytic source (two elliptical Gaussian
blobs) seen through the true lens, plus Gaussian noise. Scales (pixels x source pixels):
``tiny`` 709 x 64 (tests), ``laptop`` 5,024 x 400, ``hst`` 15,388 x 1,521 (GPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from slicens.priors import Uniform

__all__ = ["LensProblem", "lens_problem", "SCALES", "TRUTH"]

# scale -> (mask radius in pixels, source mesh side)
SCALES = {"tiny": (15, 8), "laptop": (40, 20), "hst": (70, 39)}
NAMES = ("b", "x0", "y0", "e1", "e2", "g1", "g2")
LABELS = (r"$b$", r"$x_0$", r"$y_0$", r"$e_1$", r"$e_2$", r"$\gamma_1$", r"$\gamma_2$")
TRUTH = np.array([1.2, 0.03, -0.02, 0.08, -0.05, 0.03, -0.02])
BOUNDS = ((0.9, 1.5), (-0.2, 0.2), (-0.2, 0.2), (-0.25, 0.25), (-0.25, 0.25),
          (-0.1, 0.1), (-0.1, 0.1))
MASK_ARCSEC = 2.2  # mask radius on the sky
CORE = 0.05  # SIE core radius (arcsec): keeps the deflection finite at the centre
REG_LAMBDA = 1.0


@dataclass(frozen=True, eq=False)
class LensProblem:
    """A lens likelihood with its prior, data and truth."""

    scale: str
    loglike: Callable
    prior: list
    truth: np.ndarray
    n_pixels: int
    n_source: int
    noise: float

    @property
    def dim(self) -> int:
        return len(self.prior)


def _image_grid(radius_pix: int) -> np.ndarray:
    pixel = MASK_ARCSEC / radius_pix
    coords = (np.arange(2 * radius_pix + 2) - (radius_pix + 0.5)) * pixel
    xx, yy = np.meshgrid(coords, coords)
    mask = xx**2 + yy**2 <= MASK_ARCSEC**2
    return np.stack([xx[mask], yy[mask]], axis=1)


def deflect(params, theta):
    """Source-plane positions of image positions ``theta`` (n, 2) for lens ``params``."""
    b, x0, y0, e1, e2, g1, g2 = (params[i] for i in range(7))
    e = jnp.sqrt(e1**2 + e2**2)
    # q -> 1 is the singular isothermal sphere limit; cap just below it so f > 0.
    q = jnp.minimum((1 - e) / (1 + e), 1 - 1e-4)
    phi = 0.5 * jnp.arctan2(e2, e1)
    cos, sin = jnp.cos(phi), jnp.sin(phi)
    dx, dy = theta[:, 0] - x0, theta[:, 1] - y0
    x, y = cos * dx + sin * dy, -sin * dx + cos * dy
    f = jnp.sqrt(1 - q**2)
    psi = jnp.sqrt(q**2 * (x**2 + CORE**2) + y**2)
    ax = b * q / f * jnp.arctan(f * x / (psi + CORE))
    ay = b * q / f * jnp.arctanh(f * y / (psi + q**2 * CORE))
    alpha_x = cos * ax - sin * ay + g1 * theta[:, 0] + g2 * theta[:, 1]
    alpha_y = sin * ax + cos * ay + g2 * theta[:, 0] - g1 * theta[:, 1]
    return theta - jnp.stack([alpha_x, alpha_y], axis=1)


def _source_light(beta):
    """Two elliptical Gaussian blobs: the true source."""
    x, y = beta[:, 0], beta[:, 1]
    blob1 = np.exp(-0.5 * (((x - 0.05) / 0.35) ** 2 + ((y + 0.03) / 0.25) ** 2))
    blob2 = 0.6 * np.exp(-0.5 * (((x + 0.25) / 0.2) ** 2 + ((y - 0.2) / 0.2) ** 2))
    return blob1 + blob2


def _regularisation(n: int) -> np.ndarray:
    """Gradient regularisation ``H = D_x^T D_x + D_y^T D_y + 1e-3 I`` on an n x n mesh."""
    d1 = np.diff(np.eye(n), axis=0)  # (n-1, n) forward differences
    dx = np.kron(np.eye(n), d1)
    dy = np.kron(d1, np.eye(n))
    return dx.T @ dx + dy.T @ dy + 1e-3 * np.eye(n * n)


def _bilinear(beta, n: int):
    """Source-pixel indices (4, n_pixels) and weights (4, n_pixels) on an n x n mesh
    spanning the traced positions ``beta``."""
    margin = 1e-3
    lo = jnp.min(beta, axis=0, keepdims=True) - margin
    hi = jnp.max(beta, axis=0, keepdims=True) + margin
    frac = (beta - lo) / ((hi - lo) / (n - 1))
    index = jnp.clip(jnp.floor(frac), 0, n - 2).astype(jnp.int32)
    w = frac - index
    ix, iy = index[:, 0], index[:, 1]
    wx, wy = w[:, 0], w[:, 1]
    cols = jnp.stack([iy * n + ix, iy * n + ix + 1, (iy + 1) * n + ix, (iy + 1) * n + ix + 1])
    weights = jnp.stack([(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy, wx * wy])
    return cols, weights


def _mapping_matrix(cols, weights, n_source: int):
    """Dense mapping matrix (image pixels x source pixels), scattered with ``.at[].add``."""
    n_pixels = cols.shape[1]
    rows = jnp.broadcast_to(jnp.arange(n_pixels)[None, :], cols.shape)
    return jnp.zeros((n_pixels, n_source), weights.dtype).at[rows, cols].add(weights)


def _sparse_curvature(cols, weights, noise: float, n_source: int):
    """``M^T M / noise^2`` from the 4 x 4 weight products of each pixel (M is 4-sparse)."""
    rows = jnp.broadcast_to(cols[:, None, :], (4, 4, cols.shape[1]))
    columns = jnp.broadcast_to(cols[None, :, :], (4, 4, cols.shape[1]))
    products = weights[:, None, :] * weights[None, :, :] / noise**2
    return jnp.zeros((n_source, n_source), weights.dtype).at[rows, columns].add(products)


def make_lens_loglike(
    theta: np.ndarray, data: np.ndarray, noise: float, n: int, curvature: str = "dense"
) -> Callable:
    """The inversion log-likelihood for image positions ``theta`` and ``data``.

    ``curvature="dense"`` scatters the dense mapping matrix ``M`` (image pixels x source
    pixels) and forms ``F = B^T B`` as a dense matrix product: the memory and cost that
    real pixelised-source codes pay, and what slicens's chunking exists for.
    ``"sparse"`` computes the same ``F``, ``B^T d`` and model image from the four nonzero
    weights of each pixel without forming ``M``: identical up to rounding, and fast enough
    for CPU demos and benchmarks of the sampler itself.
    """
    if curvature not in ("dense", "sparse"):
        raise ValueError(f"curvature must be 'dense' or 'sparse', got curvature={curvature!r}")
    n_pixels = theta.shape[0]
    n_source = n * n
    reg = _regularisation(n)
    _, logdet_reg = np.linalg.slogdet(REG_LAMBDA * reg)
    const = 0.5 * (logdet_reg - n_pixels * np.log(2 * np.pi)) - n_pixels * np.log(noise)

    def loglike(params):
        dtype = params.dtype
        data_j = jnp.asarray(data, dtype)
        reg_j = jnp.asarray(reg, dtype)
        cols, weights = _bilinear(deflect(params, jnp.asarray(theta, dtype)), n)
        if curvature == "dense":
            mapping = _mapping_matrix(cols, weights, n_source)
            blurred = mapping / noise
            curv = blurred.T @ blurred
            data_vector = mapping.T @ (data_j / noise**2)
        else:
            curv = _sparse_curvature(cols, weights, noise, n_source)
            weighted_data = weights * data_j[None, :] / noise**2
            data_vector = jnp.zeros(n_source, dtype).at[cols].add(weighted_data)
        chol = jnp.linalg.cholesky(curv + REG_LAMBDA * reg_j)
        source = jax.scipy.linalg.cho_solve((chol, True), data_vector)
        if curvature == "dense":
            model = mapping @ source
        else:
            model = jnp.sum(weights * source[cols], axis=0)
        chi2 = jnp.sum(((data_j - model) / noise) ** 2)
        penalty = REG_LAMBDA * source @ (reg_j @ source)
        logdet = 2 * jnp.sum(jnp.log(jnp.diag(chol)))
        return -0.5 * (chi2 + penalty + logdet) + const

    return loglike


def lens_problem(
    scale: str = "tiny", seed: int = 1, snr: float = 10.0, curvature: str = "dense"
) -> LensProblem:
    """The synthetic lens problem at ``scale`` ("tiny", "laptop" or "hst").

    ``snr`` is the peak signal-to-noise of the lensed source; the noise realisation is
    drawn with ``numpy.random.default_rng(seed)``.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got scale={scale!r}")
    radius_pix, n = SCALES[scale]
    theta = _image_grid(radius_pix)
    clean = _source_light(np.asarray(deflect(jnp.asarray(TRUTH), jnp.asarray(theta))))
    noise = float(clean.max() / snr)
    data = clean + noise * np.random.default_rng(seed).normal(size=clean.shape)
    prior = [Uniform(lo, hi, name=nm, label=lb)
             for (lo, hi), nm, lb in zip(BOUNDS, NAMES, LABELS, strict=True)]
    return LensProblem(
        scale=scale,
        loglike=make_lens_loglike(theta, data, noise, n, curvature),
        prior=prior,
        truth=TRUTH.copy(),
        n_pixels=theta.shape[0],
        n_source=n * n,
        noise=noise,
    )
