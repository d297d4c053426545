"""Which estimate a bounded run reports (``run_bounded``'s ``exploration``): every
point against the mixture of every draw while exploring; then the sampling phase's
points alone (``"discard"``), every point with the exploration's batches each for the
evidence inside its bound (``"reuse"``, :mod:`slicens.host.bounded_reuse`), or every
point against every draw (``"every"``)."""

from __future__ import annotations

from slicens.host import bounded_reuse
from slicens.host.bounded_record import Bounds, Points, Progress, estimate

__all__ = ["EXPLORATION", "DEFAULT_EXPLORATION", "Estimator"]

#: Which points the estimate keeps (``run_bounded``'s ``exploration``): ``"reuse"`` every
#: point, the exploration's batches each for the evidence inside its bound
#: (:mod:`slicens.core.reuse`); ``"discard"`` the sampling phase's points only;
#: ``"every"`` every point against the mixture of every draw (biased: the bounds were
#: fitted to the points they weigh).
EXPLORATION = ("reuse", "discard", "every")
DEFAULT_EXPLORATION = "discard"


class Estimator:
    """A run's estimate by its ``exploration`` setting (:data:`EXPLORATION`); every point
    against the mixture of every draw until the sampling phase has drawn. The
    exploration's shares (``"reuse"``) are chosen once, when first needed."""

    def __init__(self, exploration: str, n_batch: int, min_ess: float):
        self.exploration, self.n_batch, self.min_ess = exploration, n_batch, min_ess
        self.shares = None

    def __call__(self, programs, points: Points, found: Bounds, p: Progress):
        if p.phase != "sampling" or sum(p.sampled) == 0 or self.exploration == "every":
            return estimate(programs, points, found, found.draws)
        if self.exploration == "discard":
            return estimate(programs, points, found, p.sampled, p.sampling_start)
        if self.shares is None:
            self.shares = bounded_reuse.exploration_shares(
                programs, points, found, p.sampling_start, self.n_batch,
                bounded_reuse.BUDGET * self.min_ess)
        return bounded_reuse.estimate(programs, points, found, self.shares, p.sampled,
                                      p.sampling_start, self.n_batch)

    def sampled_enough(self, programs, points: Points, found: Bounds, p: Progress) -> bool:
        """Whether the sampling phase may stop once the ESS is met: where the exploration
        is reused, only once its own points reach an ESS of ``n_live``
        (:data:`bounded_reuse.SAMPLING_FLOOR`): the exploration's batches may meet
        ``min_ess`` alone after the cube's first batch, whose few points estimate the
        rest (what the shares leave) with an error they cannot see (3-d Gaussian without
        networks, 2 of 8 seeds 0.5 nats low at z -20)."""
        if self.exploration != "reuse":
            return True
        own = estimate(programs, points, found, p.sampled, p.sampling_start)
        return float(own.ess) >= bounded_reuse.SAMPLING_FLOOR * programs.n_live
