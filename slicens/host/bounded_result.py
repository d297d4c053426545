"""The result of a run that drew from bounds (``method="bounds"``,
:mod:`slicens.host.bounded`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from slicens.core.evidence import equal_weight_indices
from slicens.host import result_files
from slicens.host.anesthetic_view import nested_samples
from slicens.host.bounded_nested import NestedView, disagreement, nested_view

__all__ = ["BoundedResult"]

#: The arrays of a bounded result file (:meth:`BoundedResult.save`).
_ARRAYS = ("positions", "loglike", "log_weights", "source", "bound_log_volumes",
           "bound_log_volume_errors", "bound_draws", "bound_thresholds", "bound_refined")


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
        infinite) and its normalised log weight. Which points weigh depends on the run's
        ``settings["exploration"]`` (:attr:`exploration`): ``"reuse"``, every point (each
        exploration batch for the evidence inside its bound, the sampling phase for the
        rest, :mod:`slicens.core.reuse`); ``"discard"``, the sampling phase's points
        alone, drawn from bounds fixed before them, the exploration's weighing 0 (log
        weight -inf).
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
    names, labels
        The parameters' names and (LaTeX) labels, from the prior (empty in results built
        before they were recorded: ``x0, x1, ...`` then).

    Beside ``logZ`` stands the nested-sampling estimate :attr:`logZ_nested` (the points
    above their bounds' thresholds read as nested-sampling threads born there,
    :mod:`slicens.host.bounded_nested`): it assumes every bound holds its contour, which
    the importance weights do not, and is far noisier; where the two disagree in a way
    cut contours do not explain, the run warned. It is computed from the arrays above, so
    a loaded result (older files too) has it.
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
    names: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def __post_init__(self):
        dim = self.positions.shape[1] if self.positions.ndim == 2 else 0
        names = tuple(self.names) or tuple(f"x{i}" for i in range(dim))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "labels", tuple(self.labels) or names)

    @property
    def weights(self) -> np.ndarray:
        """Importance weights of every point, summing to one (0 for discarded points)."""
        return np.exp(self.log_weights)

    @property
    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted posterior samples: ``(positions, weights)``."""
        return self.positions, self.weights

    @property
    def sampled(self) -> np.ndarray:
        """Which points the estimate weighs (log weight above -inf): the sampling phase's
        where the run discards its exploration, else every point with a likelihood."""
        return self.log_weights > -np.inf

    @property
    def information(self) -> float:
        """Kullback-Leibler divergence from prior to posterior, H, in nats: the weighted
        mean of ``log L - log Z``."""
        kept = self.sampled
        return float(self.weights[kept] @ (self.loglike[kept] - self.logZ))

    @property
    def exploration(self) -> str:
        """How the estimate treats the exploration's points (``run_bounded``'s
        ``exploration``): ``"reuse"``, ``"discard"`` or ``"every"``; results saved before
        the setting existed recorded ``discard_exploration`` instead."""
        if "exploration" in self.settings:
            return self.settings["exploration"]
        return "discard" if self.settings.get("discard_exploration", True) else "every"

    @property
    def estimator(self) -> str:
        """Which points ``logZ`` and the weights come from, in words."""
        n = int(self.sampled.sum())
        if not self.phase_evals.get("sampling") or self.exploration == "every":
            return f"importance weights of every point ({n:,})"
        explored = self.phase_evals["exploration"]
        if self.exploration == "discard":
            return (f"importance weights of the sampling phase's {n:,} points (the "
                    f"exploration's {explored:,} discarded)")
        share = float(self.weights[:explored].sum())
        return (f"the exploration's {explored:,} points for the evidence inside their "
                f"bounds ({share:.0%} of the weight), the sampling phase's "
                f"{self.phase_evals['sampling']:,} for the rest (every point kept)")

    @cached_property
    def nested(self) -> NestedView:
        """The run read as nested sampling (:func:`slicens.host.bounded_nested.nested_view`):
        which points take part, their births, live counts and weights, logZ and error."""
        return nested_view(self.loglike, self.source, self.bound_thresholds)

    @property
    def logZ_nested(self) -> float:
        """The nested-sampling estimate of the log evidence (:attr:`nested`); it assumes
        every bound holds its contour, :attr:`logZ` does not."""
        return self.nested.logZ

    @property
    def logZ_nested_err(self) -> float:
        """Its standard deviation over sampled volume shrinkages."""
        return self.nested.logZ_err

    @property
    def estimates_disagreement(self) -> float:
        """``|logZ - logZ_nested|`` in combined standard errors (above
        :data:`slicens.host.bounded_nested.DISAGREEMENT`, where cut contours do not explain
        it, the run warned: :func:`slicens.host.bounded_nested.warn_if_disagree`)."""
        return disagreement(self.logZ, self.logZ_err, self.nested)

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

    @property
    def bound_evidence_shares(self) -> np.ndarray:
        """Per bound: the share of the posterior weight (and so of the evidence) its
        points carry (0 for bounds whose points the estimate discards)."""
        return np.bincount(self.source, weights=self.weights, minlength=self.n_bounds)

    @property
    def bound_shares_above(self) -> np.ndarray:
        """Per bound: the share of its points above its threshold (the contour it was
        fitted to), how tightly it follows that contour (NaN for a bound with no points;
        1 for the cube, whose threshold is -inf)."""
        above = self.loglike > self.bound_thresholds[self.source]
        draws = np.bincount(self.source, minlength=self.n_bounds)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(self.source, weights=above, minlength=self.n_bounds) / draws

    def ess_growth(self) -> np.ndarray:
        """The Kish ESS of the final weights over the first ``i + 1`` points, for every
        ``i``: how the ESS grew as the run evaluated them."""
        w = self.weights
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(np.cumsum(w) ** 2 / np.cumsum(w * w))

    def to_anesthetic(self, nested: bool = False):
        """The posterior as a weighted ``anesthetic.Samples``: the points the estimate
        weighs, with their importance weights, ``logL``, names and LaTeX labels. Use it for
        posteriors and ``logZ`` (:attr:`logZ`).

        ``nested=True`` gives the nested-sampling view instead (:attr:`nested`), an
        ``anesthetic.NestedSamples`` of the points above their bounds' thresholds with
        ``logL`` and ``logL_birth``: anesthetic's own evidence, volume and
        prior-to-posterior tools apply to it, but its evidence assumes every bound holds
        its contour and carries nested sampling's volume noise (for comparison, not for
        the answer). Its live counts are the view's (points of NaN or infinite likelihood
        kept, :func:`slicens.host.anesthetic_view.nested_samples`)."""
        labels = dict(zip(self.names, self.labels, strict=True))
        if nested:
            view = self.nested
            return nested_samples(self.positions[view.index], self.names, labels,
                                  self.loglike[view.index], view.loglike_birth, view.n_live)
        from anesthetic import Samples

        kept = self.sampled
        return Samples(data=self.positions[kept], columns=list(self.names),
                       weights=self.weights[kept], logL=self.loglike[kept], labels=labels)

    def summary(self) -> str:
        refined = int(np.sum(self.bound_refined))
        return (
            f"slicens (bounds): logZ = {self.logZ:.3f} +/- {self.logZ_err:.3f}  "
            f"(H = {self.information:.2f} nats, ESS = {self.ess:.0f})\n"
            f"estimate: {self.estimator}\n"
            f"nested-sampling estimate beside it: logZ = {self.logZ_nested:.3f} +/- "
            f"{self.logZ_nested_err:.3f}, {self.estimates_disagreement:.1f} combined errors "
            f"apart ({self.nested.index.size} points above their bounds' thresholds; it "
            f"assumes the bounds hold their contours and reads high where they cut them)\n"
            f"{self.n_evals} likelihood evaluations ({self.phase_evals['exploration']} "
            f"exploring, {self.phase_evals['sampling']} sampling), {self.n_bounds} bounds "
            f"({refined} refined by networks), {self.wall_time:.1f} s "
            f"({self.compile_time:.1f} s compiling), chunk_size "
            f"{self.memory.get('chunk_size')}, stopped by {self.termination}")

    def save(self, path, *, overwrite: bool = False) -> Path:
        """Write the result to one ``.npz`` file, as :meth:`slicens.Result.save` does;
        :func:`slicens.load` reads it back exactly."""
        metadata = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ARRAYS}
        return result_files.write(path, {name: getattr(self, name) for name in _ARRAYS},
                                  metadata, overwrite)

    @classmethod
    def load(cls, path) -> BoundedResult:
        """Read a file written by :meth:`save` (as :func:`slicens.load` does)."""
        return cls.from_file(path, *result_files.read(path))

    @classmethod
    def from_file(cls, path, arrays: dict, metadata: dict) -> BoundedResult:
        """The result from a file's ``arrays`` and ``metadata``
        (:func:`slicens.host.result_files.read`)."""
        metadata = dict(metadata, names=tuple(metadata["names"]),
                        labels=tuple(metadata["labels"]))
        return cls(**result_files.select(path, arrays, _ARRAYS), **metadata)

    def __repr__(self) -> str:
        return (f"BoundedResult(logZ={self.logZ:.4f}, logZ_err={self.logZ_err:.4f}, "
                f"n_evals={self.n_evals}, ess={self.ess:.0f})")
