"""Facts about the JAX installation that change how slicens must run.

jaxlib 0.10.0 to 0.10.2 deadlock on multi-core CPUs when a jitted program runs batched
Cholesky factorisations (0% CPU, waiting in ``block_until_ready``); a vmapped
nested-sampling step over an inversion likelihood triggers it. jaxlib 0.9.2 and 0.11.2
do not. slicens's install requirements exclude those versions; this module warns when
an environment has one anyway (installed by hand or by another package's pins).
"""

from __future__ import annotations

import os
import warnings

import jax

__all__ = ["cholesky_deadlock_hazard", "warn_if_hazardous"]

_HAZARDOUS_JAXLIB = ((0, 10, 0), (0, 10, 2))  # inclusive range, measured


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cholesky_deadlock_hazard(
    jaxlib_version: str | None = None, backend: str | None = None, cores: int | None = None
) -> str | None:
    """Explain the batched-Cholesky deadlock hazard if this environment has it, else None."""
    if jaxlib_version is None:
        import jaxlib

        jaxlib_version = jaxlib.__version__
    backend = backend or jax.default_backend()
    cores = _usable_cores() if cores is None else cores
    low, high = _HAZARDOUS_JAXLIB
    if backend != "cpu" or cores < 2 or not low <= _version_tuple(jaxlib_version) <= high:
        return None
    return (
        f"jaxlib {jaxlib_version} on a {cores}-core CPU can deadlock in batched Cholesky "
        "(e.g. a vmapped inversion likelihood). Install jax/jaxlib 0.9.2 (Python 3.11) or "
        ">= 0.11.2 (Python >= 3.12), as slicens's requirements do, or pin the process to "
        "one core (taskset -c 0). See the README, 'Known hazard'."
    )


def warn_if_hazardous() -> None:
    message = cholesky_deadlock_hazard()
    if message is not None:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
