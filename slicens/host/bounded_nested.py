"""The nested-sampling view of a bounded run (``method="bounds"``): a second estimate of
the evidence, beside the importance-weighted one, and the check that compares them.

A point drawn from bound ``k`` that lands above the bound's threshold ``L_k`` (the
``n_live``-th best log-likelihood when the bound was fitted) is a draw from the prior
restricted to the contour ``L > L_k``, *if the bound holds that contour*. Such a point is
a one-point nested-sampling thread born at ``L_k`` (the cube's points: at ``-inf``); the
threads together form a nested-sampling run whose live count at each death follows from
births and deaths (:func:`slicens.core.evidence.live_counts`, as dynamic nested sampling
merges threads), and :func:`slicens.core.evidence.statistics` gives its evidence and
error. A point below its bound's threshold is no such draw and takes no part.

The two estimates rest on different assumptions. The importance weights are unbiased
whatever the bounds (the cube is among the densities drawn from); the nested-sampling
estimate only where every bound holds its contour: a bound that cuts its contour (a
refinement too tight, an ellipsoid short of a tail) crowds its threads into less volume
than they are credited with, so that estimate reads high (tests/test_bounded_result.py:
bounds holding 0.8 of each contour's radius, 2-d, +0.73 nats; the networks' refinement
cuts a little, so refined runs read high: by 1-2 of its errors on the battery's problems,
by 1.5 nats on the tiny lens). It is also far noisier (its volume noise is
``sqrt(H / n)``, ``n`` the live count, about ``n_live`` early in the run). A
disagreement beyond :data:`DISAGREEMENT` combined errors that cut contours do not
explain is therefore a warning (:func:`warn_if_disagree`), and the importance-weighted
``logZ`` stays the one to use.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from slicens.core import evidence

__all__ = ["NestedView", "nested_view", "disagreement", "warn_if_disagree", "DISAGREEMENT"]

#: The estimates disagree beyond this many combined standard errors:
#: ``|logZ - logZ_nested| / hypot(logZ_err, logZ_nested_err)`` (by chance alone: 1 of 40
#: ellipsoid-only runs of the 3-d check, BENCHMARKS.md, "The nested-sampling estimate
#: beside").
DISAGREEMENT = 3.0
#: The nested-sampling error's Monte Carlo draws use this seed, so a loaded result reports
#: the error the run did.
_ERROR_SEED = 0


class NestedView(NamedTuple):
    """A bounded run read as nested sampling (NumPy, float64)."""

    logZ: float
    logZ_err: float  # over sampled shrinkages t ~ Beta(n_live, 1)
    index: np.ndarray  # the points taking part (indices into the run's), in death order
    loglike_birth: np.ndarray  # their birth contours (-inf: drawn from the cube)
    n_live: np.ndarray  # the live count at each death
    log_weights: np.ndarray  # their normalised nested-sampling log weights


def birth_contours(source: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Each point's birth contour: its bound's threshold, ``-inf`` for the cube's."""
    source = np.asarray(source)
    return np.where(source == 0, -np.inf, np.asarray(thresholds, np.float64)[source])


def nested_view(loglike, source, thresholds) -> NestedView:
    """The nested-sampling run formed by the points above their bound's threshold (and
    every point drawn from the cube), its evidence and error."""
    loglike = np.asarray(loglike, np.float64)
    birth = birth_contours(source, thresholds)
    from_cube = np.asarray(source) == 0
    index = np.flatnonzero(from_cube | (loglike > birth))
    index = index[np.argsort(loglike[index], kind="stable")]
    n_live = evidence.live_counts(loglike[index], birth[index], from_cube[index])
    stats = evidence.statistics(loglike[index], n_live, np.random.default_rng(_ERROR_SEED))
    return NestedView(float(stats.logZ), float(stats.logZ_err), index, birth[index], n_live,
                      stats.log_weights)


def disagreement(logZ: float, logZ_err: float, view: NestedView) -> float:
    """How far the two estimates lie apart, in combined standard errors."""
    return abs(logZ - view.logZ) / math.hypot(logZ_err, view.logZ_err)


def warn_if_disagree(logZ: float, logZ_err: float, view: NestedView, refined: bool) -> None:
    """Warn where the importance-weighted and nested-sampling estimates disagree beyond
    :data:`DISAGREEMENT` combined errors, naming both; except where the nested-sampling
    estimate is the higher and networks refined a bound (``refined``): refined bounds cut
    their contours a little, which reads high as measured (the tiny lens: +1.5 nats, 10
    errors; the 5-d mixture and 2-d egg-box: 1-2 errors) and leaves the importance
    weights unbiased, so a warning there would be a false alarm on every lens run.
    ``summary()`` shows the gap either way."""
    z = disagreement(logZ, logZ_err, view)
    if z <= DISAGREEMENT or (view.logZ > logZ and refined):
        return
    cause = ("a bound likely cuts its contour (a larger enlargement loosens the bounds)"
             if view.logZ > logZ else
             "the nested-sampling estimate is the lower, which cut contours do not explain: "
             "a rare large importance weight, or a mode that holds too few points")
    warnings.warn(
        f"the importance-weighted logZ = {logZ:.4f} +/- {logZ_err:.4f} and the "
        f"nested-sampling logZ = {view.logZ:.4f} +/- {view.logZ_err:.4f} (the points above "
        f"their bounds' thresholds) disagree by {z:.1f} combined errors: {cause}; the "
        f"importance-weighted estimate does not assume the bounds hold their contours and "
        f"stays the one to use", RuntimeWarning, stacklevel=3)
