"""The result of a run: evidence, weighted and equal-weight samples, counts, settings."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import logsumexp

from slicens.core.evidence import equal_weight_indices
from slicens.host import modes as _modes
from slicens.host import result_files
from slicens.host.anesthetic_view import nested_samples
from slicens.host.bounded_result import BoundedResult
from slicens.host.result_files import jsonable
from slicens.host.settings import check_bool

__all__ = ["Result", "load", "jsonable"]
_ARRAYS = ("positions", "loglike", "loglike_birth", "n_live_at_death", "log_weights",
           "insertion_ranks", "start_ranks", "evals_per_iteration", "inner_steps_per_iteration",
           "jumps_per_iteration", "kept_positions", "kept_loglike", "clusters_per_iteration",
           "insertion_rank_counts")
#: Arrays that files written before ``num_inner_steps="auto"`` (or before tied ranks were
#: ranked above the contour) lack; they load as empty.
_ADDED_ARRAYS = ("inner_steps_per_iteration", "jumps_per_iteration", "kept_positions",
                 "kept_loglike", "clusters_per_iteration", "insertion_rank_counts")


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
        Which criterion stopped the run: "dlogz", "plateau" or "min_ess" (converged), or
        "max_evals", "max_iterations" or "max_time" (a budget: a checkpointed run then
        continues when called again).
    wall_time
        Seconds from the call to ``run`` to the end of sampling, compilation included.
    insertion_ranks, insertion_rank_counts
        Rank of each new point among the survivors above the contour it was born at
        (ties broken at random), and how many ranks it could take (``n_live - num_delete
        + 1`` where no survivor ties at the contour; empty in files written before it
        was recorded, whose ranks are among all survivors).
    insertion_test
        ``zscore``, ``pvalue`` and ``n`` of the Mann-Whitney-Wilcoxon test that the ranks
        are uniform (:func:`slicens.core.evidence.insertion_test`); a small p-value means the
        chains do not mix (``run`` warns below 1e-3): raise ``num_inner_steps``.
    start_ranks, start_correlation_test
        The same rank of each chain's start point, and ``rho``, ``pvalue``, ``n`` of the
        Spearman test that start and end ranks are independent
        (:func:`slicens.core.evidence.start_correlation_test`, far more sensitive; ``run``
        warns too). Named ``memory_test`` before; older files load under the new name.
    evals_per_iteration
        Likelihood evaluations the chains consumed in each iteration.
    inner_steps_per_iteration, jumps_per_iteration
        Slice steps each chain took in each iteration (fixed, or adapted under
        ``num_inner_steps='auto'``), and how many of the iteration's chains had an
        ellipsoid jump accepted.
    clusters_per_iteration
        Ellipsoids the jumps and the slice directions used in each iteration: one per
        cluster (mode) of the live points where they split, else 1 (always 1 with a
        fixed integer ``num_inner_steps``, which makes no jumps; 0 for iterations
        resumed from a checkpoint written before clusters were recorded).
    kept_positions, kept_loglike
        Intermediate points of the replacement chains (after an accepted jump and after
        each slice step but the last; the first two per chain) and their
        log-likelihoods: draws from the constrained prior that the boosted posterior
        (``posterior_samples(boost=True)``) adds to the dead points. Not used for logZ.
    compile_time
        Of ``wall_time``, seconds spent compiling (``sampling_time`` is the rest).
    compilations
        Each program compiled: ``program`` (``"init"`` or ``"block"``), ``chunk_size``,
        ``purpose`` (``"run"``, or ``"memory probe"`` for ``chunk_size="auto"``) and the
        seconds spent in JAX tracing (``trace``), lowering (``lower``) and XLA
        (``compile``), or ``out_of_memory: True`` where compiling ran out of device
        memory. A block's ``trace`` includes tracing init for its argument types when
        init was not traced before (a resumed run compiles no init).
    memory
        How the chunk size was chosen: ``requested_chunk_size`` (the argument: an
        integer, None or "auto"), ``mode`` ("auto" or "fixed"), ``chunk_size`` (the one
        the run finished with, an integer; None asks for ``n_live``, the largest batch),
        ``compiled_peak`` (bytes, XLA's analysis, of that chunk's programs); for
        "auto" the ``budget``, its source, the ``predicted_peak``, the fitted ``base``
        and ``per_lane`` bytes and the peaks ``measured`` per chunk size compiled (None
        where compiling ran out of device memory); for "fixed" the ``limit`` the
        requested chunk's compiled peak was checked against
        (``memory_budget``, else the device's free memory; over it, the run took auto's
        chunk, with its ``budget``). ``history`` lists each change of chunk:
        ``iteration``, ``stage`` ("compiling", "running", or "before sampling" for an
        explicit chunk over the limit), the new ``chunk_size``, ``reason`` and ``error``.
    settings
        The settings used, including any slicens chose (with the reason in
        ``settings["chosen"]``); the chunk size is in ``memory``.
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
    insertion_ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    start_ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    insertion_rank_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    insertion_test: dict[str, float] = field(default_factory=dict)
    start_correlation_test: dict[str, float] = field(default_factory=dict)
    evals_per_iteration: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    inner_steps_per_iteration: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.int32))
    jumps_per_iteration: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    clusters_per_iteration: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    kept_positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    kept_loglike: np.ndarray = field(default_factory=lambda: np.zeros(0))
    compile_time: float = 0.0
    compilations: list[dict[str, Any]] = field(default_factory=list)
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

    def posterior_samples(self, boost: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Weighted posterior samples ``(positions, weights)``, weights summing to one.

        ``boost=False``: the dead points (``samples``). ``boost=True``: the dead points
        and the chains' intermediate points (``kept_positions``), as PolyChord's posterior
        boosting does. Each intermediate point is a draw from the prior inside its
        chain's contour, so given its log-likelihood it lies uniformly in that likelihood
        shell of the dead points; every point in shell ``j`` (between dead points
        ``j - 1`` and ``j``) gets ``L(point) * dX_j / (number of points in the shell)``.
        The evidence is unchanged. The points of one chain are correlated, so the Kish
        ESS of these weights (``boosted_ess``) overstates the independent samples.
        """
        check_bool("boost", boost)
        if not boost or self.kept_loglike.size == 0:
            return self.positions, self.weights
        positions = np.concatenate([self.positions, self.kept_positions])
        log_weights = _boosted_log_weights(self.loglike, self.log_weights, self.kept_loglike)
        return positions, np.exp(log_weights)

    @property
    def boosted_ess(self) -> float:
        """Kish effective sample size of ``posterior_samples(boost=True)``'s weights."""
        weights = self.posterior_samples(boost=True)[1]
        return float(1.0 / np.sum(weights**2))

    def equal_weight_samples(self, n: int | None = None, seed: int = 0,
                             boost: bool = False) -> np.ndarray:
        """``n`` equally weighted posterior samples (default: about the ESS).

        Systematic resampling of ``posterior_samples(boost)`` with
        ``numpy.random.default_rng(seed)``.
        """
        if n is None:
            n = max(1, int(self.boosted_ess if boost else self.ess))
        if not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got n={n!r}")
        positions, weights = self.posterior_samples(boost)
        with np.errstate(divide="ignore"):
            idx = equal_weight_indices(np.log(weights), int(n), np.random.default_rng(seed))
        return positions[idx]

    def posterior_mean(self, boost: bool = False) -> np.ndarray:
        positions, weights = self.posterior_samples(boost)
        return weights @ positions

    def posterior_cov(self, boost: bool = False) -> np.ndarray:
        positions, weights = self.posterior_samples(boost)
        centred = positions - weights @ positions
        return (centred * weights[:, None]).T @ centred

    @property
    def split_into_clusters(self) -> bool:
        """Whether some iteration's jumps used one ellipsoid per cluster of the live
        points (then ``run`` checks the modes, and the summary and figure show them)."""
        return bool(self.clusters_per_iteration.size and self.clusters_per_iteration.max() > 1)

    @cached_property
    def modes(self) -> _modes.Modes:
        """The posterior's modes, heaviest first: each dead point's mode (``label``), each
        mode's posterior ``mass`` (sums to 1), its error ``mass_err`` (standard deviation
        over bootstrapped threads), ``centre`` (posterior mean), and the live points it
        held and its volume share at the contour that defined it
        (:func:`slicens.host.modes.find_modes`; computed on first use, about a second).
        ``modes.depleted()`` lists the modes with implausibly few live points for their
        volume, whose mass is then too small (``run`` warns)."""
        return _modes.find_modes(self.positions, self.loglike, self.loglike_birth,
                                 self.log_weights, int(self.settings["n_live"]))

    def to_anesthetic(self, boost: bool = False):
        """The run as an ``anesthetic.NestedSamples`` (data, logL, logL_birth, names, and
        the live counts the run's evidence used: dead points of NaN or infinite likelihood
        are kept, :func:`slicens.host.anesthetic_view.nested_samples`).

        ``boost=True``: the boosted posterior (``posterior_samples(boost=True)``) as a
        weighted ``anesthetic.Samples`` instead, for plots and posterior statistics; it
        carries no nested-sampling structure (the evidence comes from the dead points).
        """
        from anesthetic import Samples

        labels = dict(zip(self.names, self.labels, strict=True))
        if boost:
            positions, weights = self.posterior_samples(boost=True)
            return Samples(data=positions, columns=list(self.names), weights=weights,
                           labels=labels)
        return nested_samples(self.positions, self.names, labels, self.loglike,
                              self.loglike_birth, self.n_live_at_death)

    def summary(self) -> str:
        return (
            f"logZ = {self.logZ:.3f} +/- {self.logZ_err:.3f}  (H = {self.information:.2f} nats, "
            f"ESS = {self.ess:.0f})\n"
            f"estimate: nested sampling (the dead points' expected shrinkage; error over "
            f"sampled shrinkages)\n"
            f"{self.n_iterations} iterations, {self.n_evals} likelihood evaluations "
            f"({self.n_evals_physical / self.n_evals:.3f} physical per useful, "
            f"{self.n_invalid} invalid, {self.n_failed_steps} failed slice steps), "
            f"{self.wall_time:.1f} s ({self.compile_time:.1f} s compiling), "
            f"chunk_size {self.memory.get('chunk_size')}, stopped by {self.termination}"
        ) + self._modes_summary()

    def _modes_summary(self) -> str:
        """A line per mode where the run split its live points into clusters."""
        if not self.split_into_clusters:
            return ""
        modes = self.modes
        lines = [f"\n{modes.mass.size} modes (posterior mass +/- bootstrap error, centre):"]
        for k, centre in enumerate(modes.centre):
            at = ", ".join(f"{c:.3g}" for c in centre[:6]) + (", ..." if centre.size > 6 else "")
            lines.append(f"  mode {k}: {modes.mass[k]:.4f} +/- {modes.mass_err[k]:.4f}  at ({at})")
        return "\n".join(lines)

    def save(self, path, *, overwrite: bool = False) -> Path:
        """Write the result to one ``.npz`` file (NumPy arrays plus a JSON ``metadata``
        entry with every other field); :func:`slicens.load` reads it back exactly.

        Refuses to replace an existing file unless ``overwrite=True``. The file is
        written under a temporary name and renamed, so it is never half-written.
        """
        metadata = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ARRAYS}
        return result_files.write(path, {name: getattr(self, name) for name in _ARRAYS},
                                  metadata, overwrite)

    def __repr__(self) -> str:
        return f"Result(logZ={self.logZ:.4f}, logZ_err={self.logZ_err:.4f}, n_evals={self.n_evals})"


def _boosted_log_weights(dead_loglike, dead_log_weights, kept_loglike) -> np.ndarray:
    """Normalised log weights of the dead points followed by the kept points, sharing each
    dead point's shell (see ``Result.posterior_samples``). The dead log-likelihoods are
    in death order, which is non-decreasing."""
    n = dead_loglike.size
    shell = np.minimum(np.searchsorted(dead_loglike, kept_loglike, side="left"), n - 1)
    count = 1 + np.bincount(shell, minlength=n)
    with np.errstate(invalid="ignore"):  # -inf - -inf for zero-likelihood dead points
        log_volume = np.where(np.isfinite(dead_loglike), dead_log_weights - dead_loglike,
                              -np.inf)
    log_share = log_volume - np.log(count)
    log_weights = np.concatenate([dead_loglike + log_share, kept_loglike + log_share[shell]])
    return log_weights - logsumexp(log_weights)


def load(path) -> Result | BoundedResult:
    """Read a result written by :meth:`Result.save` or :meth:`BoundedResult.save`."""
    arrays, metadata = result_files.read(path)
    if metadata.get("method") == "bounds":  # files without a method are nested sampling's
        return BoundedResult.from_file(path, arrays, metadata)
    arrays = result_files.select(path, arrays, _ARRAYS, optional=_ADDED_ARRAYS)
    metadata["names"], metadata["labels"] = tuple(metadata["names"]), tuple(metadata["labels"])
    for old, new in _RENAMED.items():  # files written before a field was renamed
        if old in metadata:
            metadata[new] = metadata.pop(old)
    return Result(**arrays, **metadata)


#: Result fields renamed since files of this format were first written: old -> new.
_RENAMED = {"memory_test": "start_correlation_test"}
