"""What a result tells PyAutoFit: the ``samples_info`` entries of either kind of result
(plain numbers, as af.NSS writes them), for :mod:`slicens.autofit`."""

from __future__ import annotations

import numpy as np

from slicens.core.blocks import CONVERGED
from slicens.host.bounded_result import BoundedResult
from slicens.host.results import Result

__all__ = ["samples_info"]


def samples_info(result: Result | BoundedResult, termination: float) -> dict:
    """af.NSS's entries that apply to ``result`` and slicens's own; ``termination`` is
    the search's (af.NSS's meaning), reported for nested-sampling runs."""
    if isinstance(result, BoundedResult):
        return _bounded(result)
    settings = result.settings
    return {
        "method": "slice",
        "estimator": "nested sampling",
        **_shared(result),
        "total_accepted_samples": int(result.positions.shape[0]),
        "num_mcmc_steps": int(settings["num_inner_steps"]),
        "num_delete": int(settings["num_delete"]),
        "termination": float(termination),
        "n_iterations": int(result.n_iterations),
        "n_invalid": int(result.n_invalid),
        "insertion_test_pvalue": float(result.insertion_test.get("pvalue", np.nan)),
        "start_correlation_rho": float(result.start_correlation_test.get("rho", np.nan)),
        "start_correlation_pvalue": float(result.start_correlation_test.get("pvalue", np.nan)),
    }


def _bounded(result: BoundedResult) -> dict:
    """A bounded run's: the importance-weighted evidence, the nested-sampling one beside it
    (:mod:`slicens.host.bounded_nested`), the estimator, phases, bounds."""
    return {
        "method": "bounds",
        "estimator": result.estimator,
        **_shared(result),
        "nested_log_evidence": float(result.logZ_nested),
        "nested_log_evidence_error": float(result.logZ_nested_err),
        "total_accepted_samples": int(np.isfinite(result.log_weights).sum()),
        "exploration_evals": int(result.phase_evals["exploration"]),
        "sampling_evals": int(result.phase_evals["sampling"]),
        "n_bounds": int(result.n_bounds),
    }


def _shared(result) -> dict:
    return {
        "log_evidence": float(result.logZ),
        "log_evidence_error": float(result.logZ_err),
        "total_samples": int(result.n_evals),
        "time": float(result.wall_time),
        "sampling_time": float(result.sampling_time),
        "compile_time": float(result.compile_time),
        "number_live_points": int(result.settings["n_live"]),
        "ess": float(result.ess),
        "stopped_by": result.termination,
        "converged": result.termination in CONVERGED,
        "chunk_size": result.memory.get("chunk_size"),
    }
