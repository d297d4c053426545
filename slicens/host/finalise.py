"""A run's dead points and final live points into a :class:`Result`: the evidence
statistics, the mixing tests and the warnings they raise, the chains' kept points."""

from __future__ import annotations

import warnings

import jax
import numpy as np

from slicens.core import evidence
from slicens.host.results import Result

__all__ = ["finalise", "MIXING_ALARM", "START_CORRELATION_ALARM"]

#: ``run`` warns that the chains do not mix when a mixing test's p-value is below this
#: and, for the start-to-end rank correlation, the correlation is at least
#: ``START_CORRELATION_ALARM``. Measured: one slice step on the correlated 10-d Gaussian gives
#: rho = 0.59 (logZ +2 nats), three steps 0.22-0.25 (+1 nat), the default 30 steps
#: 0.003-0.006; on a 2-d problem with the default 6 steps rho = 0.11-0.18 with no
#: measurable logZ bias (6 seeds), which a p-value alone would flag on long runs.
MIXING_ALARM = 1e-3
START_CORRELATION_ALARM = 0.2


def _warn_if_not_mixing(insertion, start_correlation, num_inner_steps: int) -> None:
    failed = []
    if insertion.pvalue < MIXING_ALARM:
        failed.append(f"insertion-order test z = {insertion.zscore:.1f}, "
                      f"p = {insertion.pvalue:.1e}")
    if start_correlation.pvalue < MIXING_ALARM and start_correlation.rho >= START_CORRELATION_ALARM:
        failed.append(f"start-to-end rank correlation {start_correlation.rho:.2f}, "
                      f"p = {start_correlation.pvalue:.1e}")
    if failed:
        warnings.warn(
            f"the replacement chains do not mix ({'; '.join(failed)}, over "
            f"{insertion.n} insertions): new points are not independent draws from the "
            f"constrained prior, which biases logZ; increase num_inner_steps (now "
            f"{num_inner_steps})", RuntimeWarning, stacklevel=3)


def _warn_if_modes_depleted(modes) -> None:
    """Warn about modes with implausibly few live points for their volume (checked where
    the run split its live points into clusters; ``result.modes.depleted()`` checks any
    run)."""
    for k in modes.depleted():
        expected = modes.live_points.sum() * modes.volume_share[k]
        warnings.warn(
            f"mode {k} of {modes.mass.size} (posterior mass {modes.mass[k]:.3g} +/- "
            f"{modes.mass_err[k]:.2g}) held {modes.live_points[k]} live points at log L = "
            f"{modes.contour:.4g} where its volume predicts about {expected:.0f}: its mass "
            f"is likely too small (the live points drifted between modes, which the jumps "
            f"between modes did not undo); rerun with more live points", RuntimeWarning,
            stacklevel=3)


def _kept_points(dead, dim: int) -> dict:
    """The chains' intermediate points (for the boosted posterior), unused slots dropped."""
    positions = np.concatenate([np.zeros((0, dim))] + [
        np.asarray(d.kept_positions, np.float64).reshape(-1, dim) for d in dead])
    loglike = np.concatenate([np.zeros(0)] + [
        np.asarray(d.kept_loglike, np.float64).reshape(-1) for d in dead])
    used = ~np.isnan(loglike)
    return dict(kept_positions=positions[used], kept_loglike=loglike[used])


def _rank_counts(dead, settings) -> np.ndarray:
    """The ranks each insertion could take (``StepInfo.rank_count``, one per iteration,
    repeated for its chains). Rows from checkpoints written before it existed hold 0:
    their ranks are among all ``n_live - num_delete`` survivors."""
    every_survivor = settings["n_live"] - settings["num_delete"] + 1
    counts = [np.repeat(np.where(np.asarray(d.rank_count) > 0, d.rank_count, every_survivor),
                        settings["num_delete"]) for d in dead]
    return np.concatenate([np.zeros(0, np.int64)] + counts).astype(np.int64)


def _per_iteration(dead, field, dtype) -> np.ndarray:
    return np.concatenate([np.zeros(0, dtype)] + [np.asarray(field(d), dtype) for d in dead])


def finalise(dead, state, prior, *, seed, settings, counts, termination, timing, memory) -> Result:
    """Append the final live points (in likelihood order) and compute the statistics."""
    dead = [jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), d) for d in dead]
    order = np.argsort(np.asarray(state.loglike), kind="stable")
    positions = np.concatenate([d.positions for d in dead] + [state.positions[order]])
    loglike = np.concatenate([d.loglike for d in dead] + [state.loglike[order]])
    loglike_birth = np.concatenate([d.loglike_birth for d in dead] + [state.loglike_birth[order]])
    prior_draw = np.concatenate([d.prior_draw for d in dead] + [state.prior_draw[order]])
    n_live_at_death = evidence.live_counts(loglike, loglike_birth, prior_draw)
    stats = evidence.statistics(loglike, n_live_at_death, np.random.default_rng(seed))
    ranks = np.concatenate([np.zeros(0, np.int32)] + [d.insertion_rank for d in dead])
    start_ranks = np.concatenate([np.zeros(0, np.int32)] + [d.start_rank for d in dead])
    rank_counts = _rank_counts(dead, settings)
    insertion = evidence.insertion_test(ranks, rank_counts)
    start_correlation = evidence.start_correlation_test(start_ranks, ranks, rank_counts)
    _warn_if_not_mixing(insertion, start_correlation, settings["num_inner_steps"])
    import slicens

    result = Result(
        logZ=stats.logZ,
        logZ_err=stats.logZ_err,
        positions=np.asarray(positions, dtype=np.float64),
        loglike=np.asarray(loglike, dtype=np.float64),
        loglike_birth=np.asarray(loglike_birth, dtype=np.float64),
        n_live_at_death=n_live_at_death,
        log_weights=stats.log_weights,
        insertion_ranks=ranks,
        insertion_rank_counts=rank_counts,
        start_ranks=start_ranks,
        insertion_test=insertion._asdict(),
        start_correlation_test=start_correlation._asdict(),
        evals_per_iteration=_per_iteration(dead, lambda d: d.lanes.useful, np.int64),
        inner_steps_per_iteration=_per_iteration(dead, lambda d: d.inner_steps, np.int32),
        jumps_per_iteration=_per_iteration(dead, lambda d: d.n_jumped, np.int32),
        clusters_per_iteration=_per_iteration(dead, lambda d: d.n_clusters, np.int32),
        **_kept_points(dead, prior.dim),
        ess=stats.ess,
        information=stats.information,
        termination=termination,
        memory=memory,
        **timing,
        names=tuple(prior.names),
        labels=tuple(prior.labels),
        settings=settings,
        versions={"slicens": slicens.__version__, "jax": jax.__version__},
        **counts,
    )
    if result.split_into_clusters:
        _warn_if_modes_depleted(result.modes)
    return result
