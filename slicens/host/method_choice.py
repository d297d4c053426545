"""``method="auto"``: which sampler a run uses, chosen once per run from the problem's
shape and the costs measured for each method (BENCHMARKS.md, "Bounded draws, fourth
part").

Bounded draws with importance weights (``"bounds"``) need a prior with a unit-cube
transform. Up to :data:`BOUNDS_MAX_DIM` dimensions they took 4-20x fewer evaluations
than nested slice sampling on every problem measured (2-10 dimensions). In 30
dimensions (the correlated Gaussian) a bounded run had not finished after 900 s on a
2-core CPU, its networks' training dominating, where the slice chains took 50 s: above
:data:`BOUNDS_MAX_DIM` the slice chains (``"slice"``) are kept until the crossover is
measured (it depends on the likelihood's cost: the bounded run's evaluations were on
course to be fewer). The choice is deterministic (the same problem always gets the same
method, so a checkpoint resumes under ``"auto"``) and the result reports it:
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
        return "slice", (f"slice: dim={prior.dim} is above {BOUNDS_MAX_DIM}, beyond which "
                         "bounded draws were not measured to pay")
    return "bounds", f"bounds: dim={prior.dim} is at most {BOUNDS_MAX_DIM} and the prior has " \
                     "a unit-cube transform"
