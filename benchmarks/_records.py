"""A bounded run's record (its points, bounds and phases) for offline studies of its
estimate (benchmarks/reuse_forecast.py, benchmarks/reuse_shares.py; ``autolens_fit.py
--keep-record``)."""

import contextlib

import numpy as np
from scipy.special import logsumexp

from slicens.host.bounded_estimator import Estimator


@contextlib.contextmanager
def kept():
    """Within it, every bounded run's state is held (the latest run's, as it stands at
    its last estimate): yields the dict whose ``"state"`` is ``(programs, points, found,
    progress, min_ess, n_batch)``, for :func:`record`."""
    held = {}
    call = Estimator.__call__

    def keep(self, programs, points, found, p):
        held["state"] = (programs, points, found, p, self.min_ess, self.n_batch)
        return call(self, programs, points, found, p)

    Estimator.__call__ = keep
    try:
        yield held
    finally:
        Estimator.__call__ = call


def record(held) -> dict:
    """The held run's record: every point's log-likelihood, source bound and membership
    of each bound; the bounds' counted log volumes and thresholds; where the sampling
    phase starts (the record's end where it never began: a run stopped while exploring);
    ``n_batch``, ``min_ess`` and ``n_live``."""
    programs, points, found, p, min_ess, n_batch = held["state"]
    n, k = points.n, len(found)
    sampling_start = p.sampling_start if p.phase == "sampling" else n
    return dict(loglike=points.loglike[:n].copy(), member=points.member[:n, :k].copy(),
                source=points.source[:n].copy(), log_volume=np.array(found.log_volume),
                threshold=np.array(found.threshold), sampling_start=sampling_start,
                n_batch=n_batch, min_ess=float(min_ess), n_live=programs.n_live)


def kish(log_w) -> float:
    """The Kish ESS of log weights (non-finite ones dropped)."""
    log_w = log_w[np.isfinite(log_w)]
    return float(np.exp(2 * logsumexp(log_w) - logsumexp(2 * log_w)))
