"""Priors: independent one-dimensional priors composed into a joint prior.

A joint prior is anything with the :class:`Prior` interface: ``dim``, ``names``,
``labels``, ``sample(rng_key, n) -> (n, dim)`` and ``log_density(x) -> ()``. The sampler
works in parameter space: the slice chains sample the prior density restricted to the
likelihood contour, so any prior with a log-density works, not only unit-cube transforms.

Build one from a list of 1-D priors (``[Uniform(0, 1), Normal(0, 2)]``), or wrap a user
pair of callables with :func:`as_prior`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtri

__all__ = [
    "Uniform",
    "Normal",
    "LogUniform",
    "IndependentPrior",
    "CustomPrior",
    "as_prior",
]


def _check_finite(name: str, **values: float) -> None:
    for key, value in values.items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number for {key}, got {key}={value!r}")


@dataclass(frozen=True)
class Uniform:
    """Uniform prior on ``[low, high]``."""

    low: float
    high: float
    name: str | None = None
    label: str | None = None

    def __post_init__(self):
        _check_finite("Uniform", low=self.low, high=self.high)
        if not self.high > self.low:
            raise ValueError(f"Uniform: expected high > low, got low={self.low}, high={self.high}")

    def ppf(self, u):
        return self.low + u * (self.high - self.low)

    def log_density(self, x):
        inside = (x >= self.low) & (x <= self.high)
        return jnp.where(inside, -math.log(self.high - self.low), -jnp.inf)


@dataclass(frozen=True)
class Normal:
    """Normal prior with mean ``mu`` and standard deviation ``sigma``."""

    mu: float
    sigma: float
    name: str | None = None
    label: str | None = None

    def __post_init__(self):
        _check_finite("Normal", mu=self.mu, sigma=self.sigma)
        if not self.sigma > 0:
            raise ValueError(f"Normal: expected sigma > 0, got sigma={self.sigma}")

    def ppf(self, u):
        return self.mu + self.sigma * ndtri(u)

    def log_density(self, x):
        z = (x - self.mu) / self.sigma
        return -0.5 * z * z - math.log(self.sigma) - 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class LogUniform:
    """Prior uniform in ``log(x)`` on ``[low, high]``, ``0 < low < high``."""

    low: float
    high: float
    name: str | None = None
    label: str | None = None

    def __post_init__(self):
        _check_finite("LogUniform", low=self.low, high=self.high)
        if not 0 < self.low < self.high:
            raise ValueError(
                f"LogUniform: expected 0 < low < high, got low={self.low}, high={self.high}"
            )

    def ppf(self, u):
        log_low, log_high = math.log(self.low), math.log(self.high)
        return jnp.exp(log_low + u * (log_high - log_low))

    def log_density(self, x):
        inside = (x >= self.low) & (x <= self.high)
        safe_x = jnp.where(inside, x, self.low)
        value = -jnp.log(safe_x) - math.log(math.log(self.high / self.low))
        return jnp.where(inside, value, -jnp.inf)


OneDimPrior = Uniform | Normal | LogUniform


@dataclass(frozen=True)
class IndependentPrior:
    """Product of independent 1-D priors: a unit-cube transform and a log-density."""

    components: tuple[OneDimPrior, ...]
    names: tuple[str, ...] = field(default=())
    labels: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if len(self.components) == 0:
            raise ValueError("IndependentPrior: expected at least one component, got none")
        for i, comp in enumerate(self.components):
            if not isinstance(comp, OneDimPrior):
                raise TypeError(
                    f"prior[{i}]: expected Uniform, Normal or LogUniform, got {comp!r}"
                )
        names = tuple(c.name or f"x{i}" for i, c in enumerate(self.components))
        if len(set(names)) != len(names):
            raise ValueError(f"prior parameter names must be unique, got {names}")
        labels = tuple(c.label or n for c, n in zip(self.components, names, strict=True))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "labels", labels)

    @property
    def dim(self) -> int:
        return len(self.components)

    def transform(self, u):
        """Map a point of the unit cube, shape ``(dim,)``, to parameter space."""
        return jnp.stack([c.ppf(u[i]) for i, c in enumerate(self.components)])

    def sample(self, rng_key, n: int):
        u = jax.random.uniform(rng_key, (n, self.dim))
        return jax.vmap(self.transform)(u)

    def log_density(self, x):
        return sum(c.log_density(x[i]) for i, c in enumerate(self.components))

    @property
    def constant_density(self) -> bool:
        """Whether the density is the same everywhere on the support (all Uniform)."""
        return all(isinstance(c, Uniform) for c in self.components)


@dataclass(frozen=True, eq=False)
class CustomPrior:
    """A user prior given as ``sample(rng_key, n) -> (n, dim)`` and ``log_density(x) -> ()``.

    ``log_density`` need not be normalised for sampling, but the evidence is only the
    true evidence when it is (``logZ`` is relative to the prior's normalisation).
    """

    sample_fn: Callable
    log_density_fn: Callable
    dim: int
    names: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def __post_init__(self):
        names = self.names or tuple(f"x{i}" for i in range(self.dim))
        if len(names) != self.dim:
            raise ValueError(f"expected {self.dim} names, got {len(names)}: {names}")
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "labels", tuple(self.labels or names))

    def sample(self, rng_key, n: int):
        return self.sample_fn(rng_key, n)

    def log_density(self, x):
        return self.log_density_fn(x)


def _infer_dim(sample_fn: Callable) -> int:
    try:
        shape = jax.eval_shape(lambda k: sample_fn(k, 2), jax.random.key(0)).shape
    except Exception as exc:  # the user's function failed: say which one
        raise TypeError(f"prior sample function failed on (rng_key, 2): {exc}") from exc
    if len(shape) != 2 or shape[0] != 2 or shape[1] < 1:
        raise ValueError(
            f"prior sample(rng_key, n) must return shape (n, dim); for n=2 it returned {shape}"
        )
    return shape[1]


def as_prior(prior) -> IndependentPrior | CustomPrior:
    """Turn what a user passes as ``prior`` into a joint prior.

    Accepts a joint prior (returned as is), a sequence of 1-D priors, or a pair
    ``(sample, log_density)`` of callables.

    Raises
    ------
    TypeError
        If ``prior`` is none of these.
    """
    if isinstance(prior, IndependentPrior | CustomPrior):
        return prior
    if isinstance(prior, OneDimPrior):
        return IndependentPrior((prior,))
    if isinstance(prior, Sequence) and len(prior) == 2 and all(callable(p) for p in prior):
        sample_fn, log_density_fn = prior
        return CustomPrior(sample_fn, log_density_fn, _infer_dim(sample_fn))
    if isinstance(prior, Sequence) and not isinstance(prior, str):
        return IndependentPrior(tuple(prior))
    raise TypeError(
        "prior must be a list of slicens.priors (Uniform, Normal, LogUniform), a pair of "
        f"callables (sample, log_density), or a joint prior; got {prior!r}"
    )
