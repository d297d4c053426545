"""The result of a run: evidence, weighted and equal-weight samples, counts, settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slicens.evidence import equal_weight_indices

__all__ = ["Result"]


@dataclass(frozen=True, eq=False)
class Result:
    """Everything a nested-sampling run produced.

    The dead points (``positions``, ``loglike``, ``loglike_birth``) are in death order:
    all points that died during the run, then the final live points, sorted by
    log-likelihood. ``n_live_at_death`` is the number of live points when each died.

    Attributes
    ----------
    logZ, logZ_err
        Log evidence (expected shrinkages) and its standard deviation over sampled
        shrinkages.
    log_weights
        Normalised log importance weights of the dead points (``weights`` sums to 1).
    ess
        Kish effective sample size of the weights.
    information
        Kullback-Leibler divergence from prior to posterior, H, in nats.
    n_evals
        Useful likelihood evaluations: ``n_live`` initial ones plus those consumed by
        chains.
    n_evals_physical
        Evaluations the device performed: lanes x ticks, including lanes that waited
        (idle lanes still evaluate a point in a batched call). ``n_evals_physical /
        n_evals`` is the schedule's overhead.
    lane_usage
        ``physical`` and ``useful`` evaluations, in total and over the ticks that began
        with chains still queued (``physical_queued``, ``useful_queued``).
    n_invalid
        Evaluations inside the prior support that returned NaN or +/-inf.
    n_failed_steps
        Slice steps that exhausted ``max_shrinkage`` and left the chain in place.
    n_iterations
        Nested-sampling iterations (each deletes ``num_delete`` points).
    termination
        Which criterion stopped the run: "dlogz", "plateau", "max_evals" or
        "max_iterations".
    wall_time
        Seconds from the call to ``run`` to the end of sampling, compilation included.
    compile_time
        Of ``wall_time``, seconds spent compiling (``sampling_time`` is the rest).
    memory
        How the chunk size was chosen: ``mode`` ("auto" or "fixed"), ``chunk_size`` (the
        one the run finished with), ``compiled_peak`` (bytes, XLA's analysis), and for
        "auto" the ``budget``, its source, the ``predicted_peak``, the fitted ``base``
        and ``per_lane`` bytes and the peaks ``measured`` per chunk size compiled;
        ``history`` lists out-of-memory recoveries (iteration, new chunk size).
    settings
        The settings used, including any slicens chose (with the reason in
        ``settings["chosen"]``).
    """

    logZ: float
    logZ_err: float
    positions: np.ndarray
    loglike: np.ndarray
    loglike_birth: np.ndarray
    n_live_at_death: np.ndarray
    log_weights: np.ndarray
    ess: float
    information: float
    n_evals: int
    n_evals_physical: int
    lane_usage: dict[str, int]
    n_invalid: int
    n_failed_steps: int
    n_iterations: int
    termination: str
    wall_time: float
    names: tuple[str, ...]
    labels: tuple[str, ...]
    compile_time: float = 0.0
    memory: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def sampling_time(self) -> float:
        """Seconds of ``wall_time`` not spent compiling."""
        return self.wall_time - self.compile_time

    @property
    def weights(self) -> np.ndarray:
        """Importance weights of the dead points, summing to one."""
        return np.exp(self.log_weights)

    @property
    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted posterior samples: ``(positions, weights)``."""
        return self.positions, self.weights

    def equal_weight_samples(self, n: int | None = None, seed: int = 0) -> np.ndarray:
        """``n`` equally weighted posterior samples (default: about the ESS).

        Systematic resampling of the dead points with ``numpy.random.default_rng(seed)``.
        """
        if n is None:
            n = max(1, int(self.ess))
        if not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got n={n!r}")
        idx = equal_weight_indices(self.log_weights, int(n), np.random.default_rng(seed))
        return self.positions[idx]

    def posterior_mean(self) -> np.ndarray:
        return self.weights @ self.positions

    def posterior_cov(self) -> np.ndarray:
        centred = self.positions - self.posterior_mean()
        return (centred * self.weights[:, None]).T @ centred

    def to_anesthetic(self):
        """The run as an ``anesthetic.NestedSamples`` (data, logL, logL_birth, names)."""
        from anesthetic import NestedSamples

        return NestedSamples(
            data=self.positions,
            columns=list(self.names),
            logL=self.loglike,
            logL_birth=self.loglike_birth,
            labels=dict(zip(self.names, self.labels, strict=True)),
        )

    def summary(self) -> str:
        return (
            f"logZ = {self.logZ:.3f} +/- {self.logZ_err:.3f}  (H = {self.information:.2f} nats, "
            f"ESS = {self.ess:.0f})\n"
            f"{self.n_iterations} iterations, {self.n_evals} likelihood evaluations "
            f"({self.n_evals_physical / self.n_evals:.3f} physical per useful, "
            f"{self.n_invalid} invalid, {self.n_failed_steps} failed slice steps), "
            f"{self.wall_time:.1f} s ({self.compile_time:.1f} s compiling), "
            f"chunk_size {self.memory.get('chunk_size')}, stopped by {self.termination}"
        )

    def __repr__(self) -> str:
        return f"Result(logZ={self.logZ:.4f}, logZ_err={self.logZ_err:.4f}, n_evals={self.n_evals})"
