"""Problems and converged runs shared by several test modules.

Compiling a run's programs is most of the suite's time (seconds each on a CPU), and the
compiled programs are cached by likelihood object and settings. Modules that build their
problems here, at :data:`STANDARD` settings, share those programs and runs within a test
process; ``conftest.SHARED_GROUPS`` sends such modules to the same process.
"""

import functools
import warnings

import slicens
from slicens.problems import correlated_gaussian, gaussian, mixture
from slicens.problems.mapping import mapping_matrix_loglike

#: The settings of the shared converged runs.
STANDARD = dict(n_live=200, num_delete=20)

_BUILDERS = {
    "gaussian_2d": lambda: gaussian(2),
    "gaussian_5d": lambda: gaussian(5),
    "gaussian_10d": lambda: gaussian(10),
    "correlated_10d": lambda: correlated_gaussian(10),
    "mixture_2d": lambda: mixture(2),
}
NAMES = tuple(_BUILDERS)


@functools.cache
def problem(name: str):
    """The problem ``name``, built once per process (so its likelihood object, which keys
    the compiled programs, is the same in every module)."""
    return _BUILDERS[name]()


@functools.cache
def _converged(name: str, seed: int):
    p = problem(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = slicens.run(p.loglike, p.prior, seed=seed, progress=False, **STANDARD)
    return result, tuple(caught)


def converged(name: str, seed: int):
    """The run of ``problem(name)`` at :data:`STANDARD` settings and ``seed``."""
    return _converged(name, seed)[0]


def warnings_of(name: str, seed: int) -> tuple:
    """The warnings (``warnings.WarningMessage``) :func:`converged` raised."""
    return _converged(name, seed)[1]


@functools.cache
def mapping_loglike():
    """A 20,000 x 1,000 mapping-matrix likelihood (160 MB per evaluation), for tests that
    compile without running."""
    return mapping_matrix_loglike(20_000, 1_000)


@functools.cache
def bounded_run():
    """A converged ``method="bounds"`` run (2-d Gaussian, named and labelled parameters,
    ellipsoids only: seconds) for tests of what is done with a bounded result."""
    import jax.numpy as jnp

    from slicens.priors import Uniform

    def loglike(x):
        return -0.5 * jnp.sum(((x - 0.3) / 0.5) ** 2)

    prior = [Uniform(-3.0, 3.0, name="a", label=r"$\alpha$"),
             Uniform(-3.0, 3.0, name="b", label=r"$\beta$")]
    return slicens.run(loglike, prior, method="bounds", n_live=100, min_ess=500,
                       refine=False, progress=False, seed=0)
