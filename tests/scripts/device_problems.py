"""What the device and process scripts run and save, shared so that their runs compare
(tests/test_devices.py compares a run of sharded_runs.py with one of process_runs.py).

Importing this sets no JAX flag and forces no device count.
"""

import jax.numpy as jnp
import numpy as np

from slicens.problems import gaussian

#: The result fields every script saves and the tests compare bit for bit.
FIELDS = ("positions", "loglike", "loglike_birth", "logZ", "logZ_err", "n_evals",
          "n_iterations")
#: The same for a ``method="bounds"`` run.
BOUNDED_FIELDS = ("positions", "loglike", "log_weights", "source", "logZ", "logZ_err",
                  "n_evals", "n_bounds")

_OFFSET = np.random.default_rng(0).uniform(-0.3, 0.3, 5)
# (two of its five values round differently: a seed whose values all agree guards nothing)
assert np.any(_OFFSET / 3 != _OFFSET * (1 / 3)), "the offset must tell the roundings apart"


def shifted_gaussian():
    """``(loglike, prior)``: the 5-d Gaussian of ``gaussian(5)`` shifted by
    ``_OFFSET / 3``, divided inside the likelihood.

    The division guards bit-identity across device counts: XLA folds ``array / 3`` of a
    constant exactly but turns it into ``array * (1 / 3)`` where the array reaches the
    program as an argument, which ``shard_map`` made of every closed-over array until
    ``chunking._constants_inlined`` (measured: the 1- and 4-device runs then differ).
    """
    problem = gaussian(5)

    def loglike(x):
        return problem.loglike(x - jnp.asarray(_OFFSET) / 3.0)

    return loglike, problem.prior
