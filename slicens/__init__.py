"""slicens: nested slice sampling for JAX likelihoods with bounded-memory particle batches.

Public API::

    result = slicens.run(loglike, prior, n_live=500, chunk_size=16)
    result.logZ, result.logZ_err, result.equal_weight_samples(1000)
    result.to_anesthetic()

Internals are reached through their modules: ``slicens.core.chunking.lane_map`` (the lane
scheduler), ``slicens.host.memory`` (compiled memory, budgets), ``slicens.core.kernel`` (one
iteration), ``slicens.core.evidence``, ``slicens.host.modes``, ``slicens.plots``.
"""

from slicens import priors
from slicens.host.bounded_result import BoundedResult
from slicens.host.probe import MemoryProbe, probe_memory
from slicens.host.results import Result, load
from slicens.host.run import run
from slicens.host.settings import default_num_inner_steps
from slicens.priors import LogUniform, Normal, Uniform

__version__ = "0.1.0"

__all__ = [
    "run",
    "Result",
    "BoundedResult",
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
