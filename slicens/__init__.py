"""slicens: nested slice sampling for JAX likelihoods with bounded-memory particle batches.

Public API::

    result = slicens.run(loglike, prior, n_live=500, chunk_size=16)
    result.logZ, result.logZ_err, result.equal_weight_samples(1000)
    result.to_anesthetic()

Internals are reached through their modules: ``slicens.chunking.lane_map`` (the lane
scheduler), ``slicens.memory`` (compiled memory, budgets), ``slicens.kernel`` (one
iteration), ``slicens.evidence``, ``slicens.modes``, ``slicens.plots``.
"""

from slicens import priors
from slicens.priors import LogUniform, Normal, Uniform
from slicens.probe import MemoryProbe, probe_memory
from slicens.results import Result, load
from slicens.run import run
from slicens.settings import default_num_inner_steps

__version__ = "0.1.0"

__all__ = [
    "run",
    "Result",
    "load",
    "priors",
    "Uniform",
    "Normal",
    "LogUniform",
    "default_num_inner_steps",
    "probe_memory",
    "MemoryProbe",
    "__version__",
]
