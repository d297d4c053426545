"""Figures of a result: the posterior corner plot (anesthetic) and a run diagnostic.

Both return a matplotlib Figure and, given ``path``, also write it (PNG or any format
matplotlib knows from the suffix). matplotlib comes with anesthetic. Both take either kind
of result: a nested-sampling :class:`slicens.Result` or a :class:`slicens.BoundedResult`
(``method="bounds"``), whose diagnostics show its bounds instead of its live points.
"""

from __future__ import annotations

import numpy as np

from slicens.host.bounded_result import BoundedResult
from slicens.host.modes import live_points_per_mode
from slicens.host.results import Result

__all__ = ["corner", "diagnostics", "bounded_diagnostics"]


def _save(figure, path):
    if path is not None:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


def corner(result: Result, path=None, *, params=None):
    """Corner plot of the posterior through ``result.to_anesthetic()`` (labels from the
    prior); ``params`` picks parameter names (default all)."""
    import matplotlib.pyplot as plt

    samples = result.to_anesthetic()
    axes = samples.plot_2d(list(params or result.names), kinds=dict(
        diagonal="kde_1d", lower="kde_2d", upper="scatter_2d"))
    figure = axes.iloc[0, 0].figure if hasattr(axes, "iloc") else plt.gcf()
    return _save(figure, path)


def _plot_modes(axis, result: Result, most: int = 8):
    """Live points of each mode (the heaviest ``most``) at each death, mass in the key."""
    modes = result.modes
    shown = min(most, modes.mass.size)
    counts = live_points_per_mode(result.loglike, result.loglike_birth, modes.label, shown)
    for k in range(shown):
        axis.plot(counts[:, k], lw=1, label=f"mode {k}: {modes.mass[k]:.3f} "
                                            f"+/- {modes.mass_err[k]:.3f}")
    axis.legend(loc="best", fontsize="small",
                title="posterior mass" + (f" ({shown} of {modes.mass.size})"
                                          if shown < modes.mass.size else ""))


def diagnostics(result: Result | BoundedResult, path=None):
    """Four panels. A nested-sampling run: log-likelihood against log prior volume, live
    points at each death (and of each mode, with its posterior mass, where the run found
    several), likelihood evaluations per iteration, and the insertion-rank histogram with
    its test. A bounded run: :func:`bounded_diagnostics`.
    """
    if isinstance(result, BoundedResult):
        return bounded_diagnostics(result, path)

    import matplotlib.pyplot as plt

    figure, ((ax_l, ax_n), (ax_e, ax_r)) = plt.subplots(2, 2, figsize=(10, 7))
    logX = np.cumsum(-1.0 / np.maximum(result.n_live_at_death, 1))
    finite = np.isfinite(result.loglike)
    ax_l.plot(logX[finite], result.loglike[finite], lw=1, label="log L")
    if finite.sum() > 20:  # the first prior draws would squash the interesting end
        top = result.loglike[finite].max()
        ax_l.set_ylim(max(np.percentile(result.loglike[finite], 10), top - 200), top + 1)
    weight_axis = ax_l.twinx()
    weight_axis.plot(logX, result.weights / result.weights.max(), color="C2", lw=1)
    weight_axis.set(ylabel="posterior weight (scaled)", ylim=(0, 1.05))
    ax_l.set(xlabel="log X (expected)", ylabel="log L", title="likelihood and weight")
    ax_n.plot(result.n_live_at_death, lw=1, color="k", label="all")
    if result.split_into_clusters:
        _plot_modes(ax_n, result)
    ax_n.set(xlabel="death", ylabel="live points", title="live points at each death")
    iterations = np.arange(1, result.evals_per_iteration.size + 1)
    ax_e.plot(iterations, result.evals_per_iteration, lw=1)
    ax_e.set(xlabel="iteration", ylabel="evaluations",
             title="evaluations, slice steps and clusters per iteration")
    if result.inner_steps_per_iteration.size:
        steps_axis = ax_e.twinx()
        steps_axis.plot(iterations, result.inner_steps_per_iteration, color="C3", lw=1,
                        label="slice steps per chain")
        if result.clusters_per_iteration.size:
            steps_axis.plot(iterations, result.clusters_per_iteration, color="C4", lw=1,
                            label="clusters")
        steps_axis.set(ylabel="slice steps per chain, clusters", ylim=(0, None))
        steps_axis.legend(loc="upper right", fontsize="small")
    ranks = result.insertion_ranks
    n_ranks = (result.insertion_rank_counts if result.insertion_rank_counts.size == ranks.size
               else int(result.settings["n_live"]) - int(result.settings["num_delete"]) + 1)
    if ranks.size:
        bins = int(min(20, np.max(n_ranks)))
        ax_r.hist((ranks + 0.5) / n_ranks, bins=bins, range=(0, 1), color="C1", alpha=0.8)
        ax_r.axhline(ranks.size / bins, color="k", lw=1, ls="--", label="uniform")
        ax_r.legend()
    test, memory = result.insertion_test, result.start_correlation_test
    ax_r.set(xlabel="insertion rank among survivors (fraction)", ylabel="count",
             title=f"insertion test p = {test.get('pvalue', float('nan')):.2g}, "
                   f"start-end rho = {memory.get('rho', float('nan')):.2f}")
    figure.suptitle(f"logZ = {result.logZ:.3f} +/- {result.logZ_err:.3f}, "
                    f"{result.n_iterations} iterations, {result.n_evals:,} evaluations")
    figure.tight_layout()
    return _save(figure, path)


def bounded_diagnostics(result: BoundedResult, path=None):
    """Four panels of a bounded run (``method="bounds"``): each point's log-likelihood in
    evaluation order, by phase, with the thresholds the bounds were fitted to; each
    bound's counted log volume and the share of its points above its threshold; each
    bound's share of the evidence; the ESS as the run grew."""
    import matplotlib.pyplot as plt

    figure, ((ax_l, ax_v), (ax_z, ax_e)) = plt.subplots(2, 2, figsize=(10, 7))
    order = np.arange(1, result.n_evals + 1)
    explored = result.phase_evals["exploration"]
    finite = np.isfinite(result.loglike)
    for phase, chosen in (("exploration", order <= explored), ("sampling", order > explored)):
        shown = chosen & finite
        ax_l.plot(order[shown], result.loglike[shown], ".", ms=1, label=phase)
    if finite.sum() > 20:  # the first prior draws would squash the interesting end
        top = result.loglike[finite].max()
        ax_l.set_ylim(max(np.percentile(result.loglike[finite], 10), top - 200), top + 1)
    drawn, first_draw = np.unique(result.source, return_index=True)
    fitted = np.isfinite(result.bound_thresholds[drawn]) & (first_draw < explored)
    ax_l.step(first_draw[fitted] + 1, result.bound_thresholds[drawn][fitted], where="post",
              color="k", lw=1, label="thresholds of the bounds fitted")
    ax_l.legend(loc="lower right", fontsize="small", markerscale=8)
    ax_l.set(xlabel="evaluation", ylabel="log L", title="likelihood of each point")

    bounds = np.arange(result.n_bounds)
    ax_v.errorbar(bounds, result.bound_log_volumes, yerr=result.bound_log_volume_errors,
                  fmt="o-", ms=3, lw=1, label="log volume (counted)")
    ax_v.set(xlabel="bound", ylabel="log prior volume", title="bounds: volume and fit")
    share_axis = ax_v.twinx()
    share_axis.plot(bounds, result.bound_shares_above, "s-", ms=3, lw=1, color="C1",
                    label="share of its points above its threshold")
    share_axis.set(ylabel="share above threshold", ylim=(0, 1.05))
    share_axis.legend(loc="lower left", fontsize="small")

    ax_z.bar(bounds, result.bound_evidence_shares, color="C2")
    ax_z.set(xlabel="bound (0: the prior)", ylabel="share of the evidence",
             title="evidence per bound")

    ax_e.plot(order, result.ess_growth(), lw=1)
    ax_e.axvline(explored, color="k", lw=1, ls="--", label="exploration ends")
    ax_e.legend(loc="upper left", fontsize="small")
    ax_e.set(xlabel="evaluation", ylabel="ESS", title="ESS as the run grew")
    figure.suptitle(f"logZ = {result.logZ:.3f} +/- {result.logZ_err:.3f} (importance "
                    f"weights), {result.n_bounds} bounds, {result.n_evals:,} evaluations")
    figure.tight_layout()
    return _save(figure, path)
