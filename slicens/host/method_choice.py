"""``method="auto"``: which sampler a run uses, chosen once per run from the problem's
shape and the costs measured for each method (BENCHMARKS.md, "Which method where").

Bounded draws with importance weights (``"bounds"``) need a prior with a unit-cube
transform, and pay where unions of ellipsoids, refined by networks, can follow the
contours: up to :data:`BOUNDS_MAX_DIM` dimensions they took 4-20x fewer evaluations
than nested slice sampling on every problem measured. Above it, the slice chains
(``"slice"``) are kept. The choice is deterministic (the same problem always gets the
same method, so a checkpoint resumes under ``"auto"``) and the result reports it:
``settings["chosen"]["method"]`` names the method and why.
"""

from __future__ import annotations

__all__ = ["BOUNDS_MAX_DIM", "choose_method"]

#: The largest dimension for which ``method="auto"`` draws from bounds.
BOUNDS_MAX_DIM = 10


def choose_method(prior) -> tuple[str, str]:
    """``(method, reason)`` for a joint prior (:func:`slicens.priors.as_prior`)."""
    if not hasattr(prior, "transform"):
        return "slice", ("slice: the prior has no unit-cube transform (a pair of callables), "
                         "which bounded draws need")
    if prior.dim > BOUNDS_MAX_DIM:
        return "slice", (f"slice: dim={prior.dim} is above {BOUNDS_MAX_DIM}, where bounded "
                         "draws stop paying (measured)")
    return "bounds", f"bounds: dim={prior.dim} is at most {BOUNDS_MAX_DIM} and the prior has " \
                     "a unit-cube transform"
