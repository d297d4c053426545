"""The result of a run that drew from bounds (``method="bounds"``,
:mod:`slicens.host.bounded`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from slicens.core.evidence import equal_weight_indices

__all__ = ["BoundedResult"]


@dataclass(frozen=True, eq=False)
class BoundedResult:
    """A run that drew from bounds: every evaluated point with its importance weight.

    Attributes
    ----------
    logZ, logZ_err
        The importance-weighted log evidence and its standard deviation (the draws' and
        the counted volumes' variances, :mod:`slicens.core.importance`).
    positions, loglike, log_weights
        Every evaluated point (parameter space), its log-likelihood (-inf where NaN or
        infinite) and its normalised log weight. Where the run discards its exploration
        (the default, ``settings["discard_exploration"]``), the weights and logZ are
        those of the sampling phase's points alone, drawn from bounds fixed before them,
        and the exploration's points weigh 0 (log weight -inf).
    source
        The bound each point was drawn from (0: the prior).
    bound_log_volumes, bound_log_volume_errors, bound_draws
        Per bound: its counted log prior volume, that count's standard deviation and the
        points drawn from it.
    bound_thresholds
        Per bound: the log-likelihood of the ``n_live``-th best point when it was fitted
        (-inf for the cube); the share of a bound's own points above it measures how
        tightly it follows that contour.
    bound_refined
        Per bound: whether networks refined it (False for the cube, for runs with
        ``refine=False``, and where the networks kept under
        :data:`slicens.host.bounded_record.MIN_KEPT_SHARE` of the union's tries).
    ess
        Kish effective sample size of the weights.
    n_evals
        Likelihood evaluations (every one of them is a point here).
    phase_evals
        Evaluations in ``"exploration"`` and ``"sampling"``.
    termination
        ``"min_ess"`` (converged), ``"max_evals"`` or ``"max_time"``.
    method
        ``"bounds"``.
    """

    logZ: float
    logZ_err: float
    positions: np.ndarray
    loglike: np.ndarray
    log_weights: np.ndarray
    source: np.ndarray
    bound_log_volumes: np.ndarray
    bound_log_volume_errors: np.ndarray
    bound_draws: np.ndarray
    bound_thresholds: np.ndarray
    bound_refined: np.ndarray
    ess: float
    n_evals: int
    phase_evals: dict
    termination: str
    wall_time: float
    sampling_time: float
    compile_time: float
    settings: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    method: str = "bounds"

    @property
    def weights(self) -> np.ndarray:
        return np.exp(self.log_weights)

    @property
    def n_bounds(self) -> int:
        return len(self.bound_log_volumes)

    def posterior_mean(self) -> np.ndarray:
        return self.weights @ self.positions

    def posterior_cov(self) -> np.ndarray:
        centred = self.positions - self.posterior_mean()[None, :]
        return (self.weights[:, None] * centred).T @ centred

    def equal_weight_samples(self, n: int | None = None, seed: int = 0) -> np.ndarray:
        """``n`` equally weighted posterior samples (default: about the ESS), by
        systematic resampling with ``numpy.random.default_rng(seed)``, as
        :meth:`slicens.Result.equal_weight_samples`."""
        if n is None:
            n = max(1, int(self.ess))
        rng = np.random.default_rng(seed)
        return self.positions[equal_weight_indices(self.log_weights, n, rng)]

    def summary(self) -> str:
        return (f"slicens (bounds): logZ = {self.logZ:.3f} +/- {self.logZ_err:.3f}, "
                f"ESS {self.ess:.0f}, {self.n_evals} evaluations "
                f"({self.phase_evals['exploration']} exploring, "
                f"{self.phase_evals['sampling']} sampling), {self.n_bounds} bounds, "
                f"stopped by {self.termination}")
