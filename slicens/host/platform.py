"""Facts about the JAX installation that change how slicens must run.

Two deadlocks of XLA:CPU on multi-core machines (0% CPU, waiting in
``block_until_ready``), both measured on the 2-core CI machine:

- jaxlib 0.10.0 to 0.10.2, batched Cholesky factorisations (a vmapped nested-sampling
  step over an inversion likelihood). jaxlib 0.9.2 and 0.11.2 do not. slicens's install
  requirements exclude those versions; :func:`warn_if_hazardous` warns when an
  environment has one anyway (installed by hand or by another package's pins).
- jaxlib 0.11.2, independent batched FFTs in one program (a vmapped likelihood with a
  PSF convolution, e.g. PyAutoLens's imaging likelihood): the two Eigen intra-op threads
  each run an FFT that waits for sub-tasks queued behind the other. jaxlib 0.9.2 does
  not. XLA's ``xla_cpu_multi_thread_eigen`` option off (no intra-op threading) avoids it;
  slicens passes that option to the compilation of its own programs on CPU
  (:func:`compiler_options`), so no global JAX or XLA setting changes.
"""

from __future__ import annotations

import os
import warnings

import jax

__all__ = ["cholesky_deadlock_hazard", "compiler_options", "jit", "warn_if_hazardous"]

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


#: XLA:CPU option that avoids the batched-FFT deadlock (see the module docstring).
CPU_COMPILER_OPTIONS = {"xla_cpu_multi_thread_eigen": False}


def compiler_options(backend: str | None = None) -> dict:
    """Options slicens compiles its programs with on ``backend`` (default: JAX's).

    On CPU, Eigen's intra-op threading is off: with it, jaxlib 0.11.2 deadlocks on
    independent batched FFTs on a multi-core CPU. slicens's programs are batched over
    lanes already, so they lose little (measured in BENCHMARKS.md). Other backends: none.
    """
    backend = backend or jax.default_backend()
    return dict(CPU_COMPILER_OPTIONS) if backend == "cpu" else {}


def jit(fun, **kwargs):
    """``jax.jit`` with :func:`compiler_options`, as for every program slicens compiles
    (the ahead-of-time ones pass them to ``compile`` instead: host/compiled.py)."""
    return jax.jit(fun, compiler_options=compiler_options(), **kwargs)
