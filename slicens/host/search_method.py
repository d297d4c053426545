"""The method a PyAutoFit search (:class:`slicens.autofit.NSS`) runs, and the settings it
hands :func:`slicens.run` for it.

af.NSS's settings (``num_mcmc_steps``, ``num_delete``, ``termination``) are nested
sampling's; :data:`BOUNDED_SETTINGS` are the bounded method's. Each method
takes only its own: a search refuses the other's by name when it is built, and under
``method="auto"`` once the method is chosen (when the fit starts, from the model's
dimension, as :func:`slicens.run` would choose it).
"""

from __future__ import annotations

import numpy as np

from slicens.host.method_choice import choose_method
from slicens.host.run import METHODS
from slicens.priors import as_prior

#: The settings of ``method="bounds"`` a search takes (:func:`slicens.run`'s).
BOUNDED_SETTINGS = ("f_live", "n_batch", "refine", "exploration")
#: af.NSS's default ``termination`` (``log(Z_live / Z)`` at which it stops).
DEFAULT_TERMINATION = -3.0


def check_method(method, num_mcmc_steps, num_delete, termination, bounded: dict) -> None:
    """``method`` is one slicens runs; ``"bounds"`` takes no nested-sampling settings and
    ``"slice"`` none of ``bounded``'s (:data:`BOUNDED_SETTINGS`; None: unset)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got method={method!r}")
    if method == "slice":
        for name, value in bounded.items():
            if value is not None:
                raise ValueError(f"{name} is a setting of method='bounds', got "
                                 f"{name}={value!r} with method='slice'")
    if method != "bounds":
        return
    for name, value, default in (("num_mcmc_steps", num_mcmc_steps, None),
                                 ("num_delete", num_delete, None),
                                 ("termination", termination, DEFAULT_TERMINATION)):
        if value != default:
            raise ValueError(f"{name} is a setting of nested sampling (method='slice'); "
                             f"method='bounds' stops at min_ess, got {name}={value!r}")


def settings_of(search) -> dict:
    """A search's :data:`BOUNDED_SETTINGS` (None where unset)."""
    return {name: getattr(search, name) for name in BOUNDED_SETTINGS}


def run_settings(method, prior, num_mcmc_steps, num_delete, termination,
                 bounded: dict) -> tuple[str, str | None, dict]:
    """``(method, reason, settings)``: the method to run (``"auto"`` chosen here, so that
    a bounded run is not handed the ``dlogz`` derived from ``termination``), why where
    chosen (else None), and the keyword arguments of :func:`slicens.run` for it."""
    reason = None
    if method == "auto":
        method, reason = choose_method(as_prior(prior))
        check_method(method, num_mcmc_steps, num_delete, termination, bounded)
    if method == "bounds":
        return method, reason, {name: value for name, value in bounded.items()
                                if value is not None}
    return method, reason, dict(num_delete=num_delete, num_inner_steps=num_mcmc_steps,
                                dlogz=float(np.log1p(np.exp(termination))))
